"""The terminal chat (`trygg chat`) and the offline fake Bot API it runs on.

A developer's tool, not part of the product: nothing outside this package and the tests imports
it, except the CLI's `chat` command. `tests/fakes` builds its fakes on `transport` too.
"""
