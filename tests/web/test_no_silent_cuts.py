"""No field cuts what a person types or pastes without a word (issue #12, defect 9): a browser
stops typing at `maxlength` and truncates a paste silently, so no template sets it; the server
refuses a text over its limit at the field, says how long it is, and keeps it."""
from __future__ import annotations

import re
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "templates"
ADMIN_TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "admin" / "templates"   # the /admin blueprint's


def test_no_template_sets_maxlength():
    found = [f"{path.relative_to(root)}:{n}" for root in (TEMPLATES, ADMIN_TEMPLATES)
             for path in sorted(root.rglob("*.html"))
             for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if re.search(r"\bmaxlength\s*=", line, re.I)]
    assert found == []


def test_a_supervision_note_over_its_limit_is_refused_with_its_length():
    import pytest
    from app.errors import FormInvalid
    from app.supervision.actions import NOTE_MAX_LENGTH, require_note
    with pytest.raises(FormInvalid) as refused:
        require_note("催" * (NOTE_MAX_LENGTH + 5))
    assert refused.value.fields == {"note": [f"不能超过 {NOTE_MAX_LENGTH} 字（当前 {NOTE_MAX_LENGTH + 5} 字）"]}
