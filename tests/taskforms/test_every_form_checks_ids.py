"""Every form that asks for a USCC, an ID number or a phone checks it (DOMAIN §7): a wrong value gets a
422-style field error naming the field and the rule; the DOMAIN §7 samples pass."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.taskforms.validation import FormValidator

FORMS = sorted((Path(__file__).resolve().parents[2] / "forms").rglob("*.schema.json"))
ID_FIELDS = {"uscc": "uscc", "id_number": "cn-id-card", "id_no": "cn-id-card", "legal_rep_id": "cn-id-card",
             "agent_id": "cn-id-card", "phone": "cn-phone", "mobile": "cn-mobile", "legal_rep_mobile": "cn-mobile",
             "agent_mobile": "cn-mobile", "contact_phone": "cn-phone"}
BAD = {"uscc": "91440703MAKLKB3T8X", "cn-id-card": "440703197213142916", "cn-mobile": "12800000000",
       "cn-phone": "12345"}
GOOD = {"uscc": ["91440703MAKLKB3T82", "91440704MAMM04DN9H", "91440705MAQ6QQN17D", "91440784MA9QK8KL7L"],
        "cn-id-card": ["440703197211142916", "44070419880306182X", "440705197407256475"],
        "cn-mobile": ["13800000001", "13900000002"], "cn-phone": ["13800000001", "0750-3271234"]}


def _id_fields(schema, path=()):
    """(path, declared format or None) of every field named like an ID or phone, in objects and arrays."""
    for key, prop in (schema.get("properties") or {}).items():
        if not isinstance(prop, dict):
            continue
        if key in ID_FIELDS and prop.get("type") == "string":
            yield (*path, key), prop.get("format"), ID_FIELDS[key]
        if prop.get("type") == "array" and isinstance(prop.get("items"), dict):
            yield from _id_fields(prop["items"], (*path, key, 0))
        if prop.get("type") == "object":
            yield from _id_fields(prop, (*path, key))


def _conditional_formats(schema) -> dict:
    """Formats added by if/then (e.g. id_number is checked as 居民身份证 when id_type says so)."""
    found = {}
    for part in schema.get("allOf", []):
        for key, prop in ((part.get("then") or {}).get("properties") or {}).items():
            if isinstance(prop, dict) and prop.get("format"):
                found[key] = prop["format"]
    return found


CASES = [(form, path, fmt or _conditional_formats(json.loads(form.read_text())).get(path[-1]), expected)
         for form in FORMS for path, fmt, expected in _id_fields(json.loads(form.read_text()))]


def test_the_forms_ask_for_ids_and_phones():
    assert len(CASES) >= 10


@pytest.mark.parametrize("form, path, fmt, expected", CASES, ids=lambda v: v.name if isinstance(v, Path) else None)
def test_each_id_field_is_checked(form, path, fmt, expected):
    schema = json.loads(form.read_text())
    assert fmt is not None, f"{form.name}: {'.'.join(map(str, path))} has no format"
    if expected == "cn-phone":
        assert fmt in ("cn-phone", "cn-mobile")
    else:
        assert fmt == expected
    validator = FormValidator(schema)

    def data_with(value):
        data = {"id_type": "居民身份证"} if path[-1] == "id_number" else {}
        target = data
        for i, part in enumerate(path[:-1]):
            nxt = path[i + 1]
            if isinstance(part, int):
                continue
            target[part] = [{}] if isinstance(nxt, int) else {}
            target = target[part][0] if isinstance(nxt, int) else target[part]
        if path[-1] == "id_number" and len(path) > 1:
            target["id_type"] = "居民身份证"
        target[path[-1]] = value
        return data

    field = ".".join(str(p) for p in path)
    errors = validator.errors(data_with(BAD[fmt]))
    messages = [m for key, ms in errors.items() if key.replace("[", ".").replace("]", "") == field for m in ms]
    assert messages, (form.name, field, errors)
    assert any(word in " ".join(messages) for word in ("校验", "位", "号码", "电话", "手机", "代码")), messages
    for value in GOOD[fmt]:
        errors = validator.errors(data_with(value))
        assert not [k for k in errors if k.replace("[", ".").replace("]", "") == field], (form.name, value, errors)
