"""Whole numbers typed by people or carried in URLs and forms: ASCII digits only.

str.isdigit() alone lets through "²" and "٣", which int() refuses or reads as another number, and a
thousand digits overflow the database driver: every place that reads an id, an index or a page
number from a request goes through here.
"""
from __future__ import annotations

MAX_DIGITS = 18          # fits a BIGINT
MAX_PAGE = 100_000


def whole_number(text) -> int | None:
    """The number `text` spells in ASCII digits (surrounding spaces allowed), else None."""
    if not isinstance(text, str):
        return None
    text = text.strip()
    if not text or len(text) > MAX_DIGITS or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def page_number(text) -> int:
    """A page number from a query string: 1 for anything that is not one, at most MAX_PAGE."""
    return max(1, min(whole_number(text) or 1, MAX_PAGE))
