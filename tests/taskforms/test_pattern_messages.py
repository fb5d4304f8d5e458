"""A value that does not match a field's `pattern` is explained in words, never by showing the regex:
the form says what is expected in `errorMessage.pattern`, and without one the message is plain."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from app.taskforms.validation import FormValidator

FORMS = sorted((Path(__file__).resolve().parents[2] / "forms").rglob("*.schema.json"))
# what a regex looks like in a message: anchors, classes, quantifiers, escapes
REGEX_LOOK = re.compile(r"[\^$\\]|\[[^\]]*\]|\{\d+(,\d*)?\}|\(\?")


def _patterned(node, path=()):
    """(path, property schema) of every subschema with a `pattern`, anywhere in the form."""
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield path, node
        for key, value in node.items():
            if key not in ("errorMessage", "enum", "const", "default", "examples"):   # data, not subschemas
                yield from _patterned(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _patterned(value, (*path, i))


CASES = [(form, path, prop) for form in FORMS for path, prop in _patterned(json.loads(form.read_text()))]


def _not_matching(pattern: str) -> str:
    return next(v for v in ("!", "~~", "a", "0", "中") if not re.search(pattern, v))


def test_the_forms_have_patterns():
    assert len(CASES) >= 3


@pytest.mark.parametrize("form, path, prop", CASES,
                         ids=lambda v: v.name if isinstance(v, Path) else ".".join(map(str, v))
                         if isinstance(v, tuple) else "")
def test_a_pattern_mismatch_is_said_in_words(form, path, prop):
    validator = FormValidator({"type": "object", "properties": {"x": {**prop, "title": "某项"}}})
    [message] = validator.errors({"x": _not_matching(prop["pattern"])})["x"]
    assert not REGEX_LOOK.search(message), message
    assert isinstance(prop.get("errorMessage"), dict) and prop["errorMessage"].get("pattern"), \
        f"{form.name} {'/'.join(map(str, path))}: a pattern needs errorMessage.pattern saying it in words"
    assert message == f"某项：{prop['errorMessage']['pattern']}"


def test_a_pattern_without_a_message_does_not_show_the_regex():
    validator = FormValidator({"type": "object", "properties": {
        "vin": {"type": "string", "title": "车辆识别代号", "pattern": "^[A-HJ-NPR-Z0-9]{17}$"}}})
    assert validator.errors({"vin": "LIOQ"}) == {"vin": ["车辆识别代号：格式不正确"]}


def test_the_vin_is_explained():
    schema = json.loads((FORMS[0].parents[1] / "one_thing_transport/start.schema.json").read_text())
    validator = FormValidator(schema)
    errors = validator.errors({"vehicles": [{"vin": "LIOQ"}]})
    assert "车辆识别代号：应为 17 位，由数字和除 I、O、Q 以外的大写字母组成" in errors["vehicles[0].vin"]
