"""The one reader of JSON Schema nodes for task forms: $ref, types, ui schema lookup, property order, paths.

Rendering (app/web/formschema.py), reading posted fields back (app/web/formdata.py) and validation
(app/taskforms/validation.py) all read a form's schema through here, so they cannot disagree on
what a node says. Pure functions over plain dicts; no Flask, no engine.
"""
from __future__ import annotations

from typing import Any


def resolve(node: Any, root: dict) -> dict:
    """A subschema with a same-document $ref followed (a few levels); non-dicts become {}."""
    for _ in range(10):
        if not isinstance(node, dict):
            return {}
        ref = node.get("$ref")
        if not (isinstance(ref, str) and ref.startswith("#/")):
            return node
        target: Any = root
        for token in ref[2:].split("/"):
            token = token.replace("~1", "/").replace("~0", "~")
            target = target.get(token) if isinstance(target, dict) else None
        node = {**(target or {}), **{k: v for k, v in node.items() if k != "$ref"}}
    return node if isinstance(node, dict) else {}


def type_of(node: dict) -> str | None:
    value = node.get("type")
    if isinstance(value, list):
        value = next((t for t in value if t != "null"), None)
    if value is None:
        if isinstance(node.get("properties"), dict):
            return "object"
        if "items" in node:
            return "array"
    return value


def ordered_properties(node: dict, ui: dict) -> list[str]:
    """Property names in ui:order ("*" = the rest in schema order); unlisted ones go last."""
    names = list((node.get("properties") or {}).keys())
    order = ui.get("ui:order") if isinstance(ui.get("ui:order"), list) else []
    listed = [n for n in order if n in names]
    rest = [n for n in names if n not in listed]
    if "*" in order:
        at = order.index("*")
        before = [n for n in order[:at] if n in names]
        after = [n for n in order[at + 1:] if n in names]
        return before + [n for n in rest if n not in after] + after
    return listed + rest


def ui_of(ui: Any, name: str) -> dict:
    value = ui.get(name) if isinstance(ui, dict) else None
    return value if isinstance(value, dict) else {}


def join_path(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
