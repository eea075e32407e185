"""Anonymised statistics of incident reports: counts, small-number suppression, chart, export."""
