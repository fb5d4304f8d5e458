"""`${name}` in a task's properties (candidateGroups, dueIn): filled from the task's data when the task
becomes ready. One definition for the check at deploy time and the resolution at run time, so the
designer is never told a placeholder is fine that the engine then leaves as literal text."""
from __future__ import annotations

import re

PLACEHOLDER = re.compile(r"\$\{\s*([A-Za-z][A-Za-z0-9_]*)\s*\}")   # what the engine fills in
WRITTEN = re.compile(r"\$\{([^}]*)\}")                            # anything written as ${...}


def has_placeholder(text: str | None) -> bool:
    return bool(text) and "${" in text


def invalid_placeholders(text: str) -> list[str]:
    """The ${...} in `text` the engine would not fill in (not a name of ASCII letters, digits and _
    starting with a letter)."""
    return [inner for inner in WRITTEN.findall(text) if not PLACEHOLDER.fullmatch("${" + inner + "}")]


def unclosed(text: str) -> bool:
    """A "${" without its closing brace."""
    return text.count("${") != len(WRITTEN.findall(text))
