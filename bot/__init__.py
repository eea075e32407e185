"""trygg: a Telegram bot for elected officials who are threatened, harassed or worried."""
