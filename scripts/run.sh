#!/usr/bin/env bash
# Set up the project (first time) and run the bot. Without TELEGRAM_BOT_TOKEN, and in a terminal,
# `trygg run` starts the terminal chat on the example routines instead of reaching Telegram.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/setup.sh
source scripts/setup.sh
exec .venv/bin/trygg run "$@"
