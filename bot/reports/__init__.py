"""Incident reports, and the anonymisation of their free-text descriptions."""
