"""Long data values in a task's instructions, folded for the task page: the first SUMMARY_CHARS
characters stay in view and the rest goes behind a "展开" (app/web/filters.py turns the markers
into <details>, which works without JavaScript). A folded value is escaped Markdown, so the case
data stays text however it is punctuated; the API's instructions are never folded."""
from __future__ import annotations

import re
from typing import Any

SUMMARY_CHARS = 200          # shown before the 展开
FOLD_OVER = 240              # values up to this long are shown whole (no 展开 for a few characters)
FOLD_OPEN, FOLD_CLOSE, LINE_BREAK = "\ue000", "\ue001", "\ue002"   # private-use characters
_MARKERS = re.compile(f"[{FOLD_OPEN}{FOLD_CLOSE}{LINE_BREAK}]")
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")   # every ASCII punctuation character may be escaped


def _as_text(value: str) -> str:
    """Markdown that shows `value` literally, its line breaks as markers."""
    text = _PUNCTUATION.sub(r"\\\1", value.replace("\r\n", "\n"))
    return text.replace("\n", LINE_BREAK)


def fold(value: Any) -> Any:
    """A Jinja finalize: a string longer than FOLD_OVER becomes its start plus the folded rest."""
    if not isinstance(value, str):
        return value
    value = _MARKERS.sub("", value)
    if len(value) <= FOLD_OVER:
        return value
    return (_as_text(value[:SUMMARY_CHARS]) + FOLD_OPEN + str(len(value)) + FOLD_OPEN
            + _as_text(value[SUMMARY_CHARS:]) + FOLD_CLOSE)
