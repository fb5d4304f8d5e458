"""A conditional rule is written at its field before anyone submits (issue #12, defect 8): which value a
field must take when another field does (or does not) have a value."""
from __future__ import annotations

import json
from pathlib import Path

from app.web.formschema import FormView

FORMS = Path(__file__).resolve().parents[2] / "forms"


def _conditions(name: str) -> dict:
    schema = json.loads((FORMS / f"{name}.schema.json").read_text(encoding="utf-8"))
    ui = json.loads((FORMS / f"{name}.uischema.json").read_text(encoding="utf-8"))
    return {f.name: f.condition for f in FormView(schema, ui, {}).fields if f.condition}


def test_a_required_value_under_a_negated_condition_is_named():
    assert _conditions("complaint/assess")["kb_answerable"] == "当“诉求类型”不为“咨询”时只能选“不能，派单办理”"


def test_a_box_that_must_be_ticked_says_so():
    assert _conditions("dispute_escalation/follow_up")["urged"] == "除非“履行情况”为“已履行”，否则必填；除非“履行情况”为“已履行”，否则须勾选"
