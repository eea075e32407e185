"""Routine health: where a routine leaves officials alone, and a contact card for the phone.

`gaps` is the domain (who is reachable in an ordinary week, review, registration), `report` puts
it into words, `heatmap` and `card` draw pictures. Nothing here knows Telegram or SQL.
"""
