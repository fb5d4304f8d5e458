"""Tests for app.taskforms.schema: the one $ref walk that rendering and validation share."""
import pytest

from app.taskforms.schema import pointer_target, resolve
from app.taskforms.validation import check_schema

ROOT = {
    "type": "object",
    "$defs": {"phone": {"type": "string", "title": "电话", "format": "cn-phone"}, "a/b": {"type": "integer"}},
    "allOf": [{"properties": {"x": {"type": "boolean"}}}],
    "properties": {
        "own": {"$ref": "#/$defs/phone", "title": "联系电话"},
        "escaped": {"$ref": "#/$defs/a~1b"},
        "in_list": {"$ref": "#/allOf/0/properties/x"},
        "missing": {"$ref": "#/$defs/nothing", "title": "缺失"},
    },
}


def test_resolve_follows_a_ref_and_keeps_the_nodes_own_keywords():
    assert resolve(ROOT["properties"]["own"], ROOT) == {"type": "string", "title": "联系电话", "format": "cn-phone"}
    assert resolve(ROOT["properties"]["escaped"], ROOT) == {"type": "integer"}


def test_a_ref_the_schema_check_accepts_is_the_one_rendering_follows():
    assert check_schema(ROOT) == [
        "引用无法解析：#/$defs/nothing（位置 #/properties/missing/$ref）"]
    assert resolve(ROOT["properties"]["in_list"], ROOT) == {"type": "boolean"}   # through a list index
    assert resolve(ROOT["properties"]["missing"], ROOT) == {"title": "缺失"}


def test_pointer_target_refuses_what_does_not_resolve():
    assert pointer_target(ROOT, "#") is ROOT
    with pytest.raises(LookupError):
        pointer_target(ROOT, "#/allOf/1")
    with pytest.raises(LookupError):
        pointer_target(ROOT, "#/$defs/nothing")
