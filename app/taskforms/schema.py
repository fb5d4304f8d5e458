"""The one reader of task-form JSON Schema nodes: $ref, types and kinds, options, ui schema, data paths.

Rendering (app/web/formschema.py), reading posted fields back (app/web/formdata.py) and validation
(app/taskforms/validation.py) all read a form's schema through here, so they cannot disagree on
what a node says. Pure functions over plain dicts; no Flask, no engine.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable

from app.numbers import whole_number

MAX_ROWS = 200   # rows of one array a form may post

# keywords whose values are data, not subschemas (never rewritten or searched for $ref)
DATA_KEYWORDS = frozenset({"enum", "const", "default", "examples", "enumNames", "errorMessage"})


# --- references ($ref) ------------------------------------------------------------------------------

def resolve(node: Any, root: dict) -> dict:
    """A subschema with a same-document $ref followed (a few levels); non-dicts become {}."""
    for _ in range(10):
        if not isinstance(node, dict):
            return {}
        ref = node.get("$ref")
        if not (isinstance(ref, str) and ref.startswith("#/")):
            return node
        try:
            target = pointer_target(root, ref)
        except LookupError:
            target = None
        node = {**(target or {}), **{k: v for k, v in node.items() if k != "$ref"}}
    return node if isinstance(node, dict) else {}


def pointer_target(root: Any, ref: str) -> Any:
    """What a same-document ``#/...`` reference points at; raises LookupError when it does not resolve."""
    if ref == "#":
        return root
    node = root
    for raw in ref[2:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        index = whole_number(token) if isinstance(node, list) else None
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif index is not None and index < len(node):
            node = node[index]
        else:
            raise LookupError(ref)
    return node


# --- types and kinds --------------------------------------------------------------------------------

def type_of(node: dict) -> str | None:
    """The node's type (the first one besides "null"), else object/array when it has properties/items."""
    value = node.get("type")
    if isinstance(value, list):
        value = next((t for t in value if t != "null"), None)
    if value is None:
        if isinstance(node.get("properties"), dict):
            return "object"
        if "items" in node:
            return "array"
    return value


def kind_of(node: dict, ui: dict, name: str, root: dict) -> str:
    """How a field is shown and read back."""
    widget = ui.get("ui:widget")
    kind = type_of(node)
    if widget == "hidden":
        return "hidden"
    if kind == "object":
        return "object" if isinstance(node.get("properties"), dict) else "json"
    if kind == "array":
        return _array_kind(resolve(node.get("items"), root))
    if widget == "file" or (kind == "string" and name.endswith("_file")):
        return "file"
    if kind == "boolean":
        if widget == "select":
            return "select"
        return "radio" if widget == "radio" or _has_enum(node) else "checkbox"
    if _has_enum(node):
        return "radio" if widget == "radio" else "select"
    if kind in ("integer", "number"):
        return kind
    return _string_kind(node, widget)


def _array_kind(items: dict) -> str:
    if _has_enum(items):
        return "checkboxes"
    if type_of(items) in ("object", "string", "integer", "number") and not (
            type_of(items) == "object" and not isinstance(items.get("properties"), dict)):
        return "array"
    return "json"


def _string_kind(node: dict, widget: str | None) -> str:
    fmt = node.get("format")
    if widget in ("textarea", "password", "email"):
        return widget
    if widget == "date" or (fmt == "date" and widget is None):
        return "date"
    if widget in ("datetime", "date-time") or (fmt == "date-time" and widget is None):
        return "datetime"
    if fmt == "email" and widget is None:
        return "email"
    return "text"


def _has_enum(node: dict) -> bool:
    return bool(node.get("enum")) or bool(choice_branches(node))


# --- options ----------------------------------------------------------------------------------------

@dataclass
class Option:
    value: str      # the HTML value
    const: Any      # the JSON value it stands for
    label: str


def options_of(node: dict, ui: dict) -> list[Option]:
    """enum (+ enumNames / ui:enumNames) or oneOf/anyOf of {const, title}; booleans get 是/否."""
    branches = choice_branches(node)
    if branches:
        return [Option(html_value(b["const"]), b["const"], str(b.get("title", shown_value(b["const"]))))
                for b in branches]
    enum = node.get("enum")
    if isinstance(enum, list) and enum:
        names = enum_names(node, ui)
        if names is None:
            names = [shown_value(v) for v in enum]
        return [Option(html_value(v), v, str(n)) for v, n in zip(enum, names)]
    if "const" in node:
        return [Option(html_value(node["const"]), node["const"], shown_value(node["const"]))]
    if type_of(node) == "boolean":
        return [Option("true", True, "是"), Option("false", False, "否")]
    return []


def is_choice_list(branches: Any) -> bool:
    """Whether oneOf/anyOf branches list choices: a non-empty list of {const, title?}."""
    return isinstance(branches, list) and bool(branches) and all(
        isinstance(b, dict) and "const" in b for b in branches)


def choice_branches(node: dict) -> list[dict]:
    """The {const, title?} branches of node's oneOf, else of its anyOf; [] when neither lists choices."""
    for keyword in ("oneOf", "anyOf"):
        if is_choice_list(node.get(keyword)):
            return node[keyword]
    return []


def enum_names(node: dict, ui: dict | None = None) -> list | None:
    """The names of node's enum values (ui:enumNames, else enumNames); None unless there is one per value."""
    enum = node.get("enum")
    names = (ui or {}).get("ui:enumNames") or node.get("enumNames")
    return names if isinstance(enum, list) and isinstance(names, list) and len(names) == len(enum) else None


def html_value(const: Any) -> str:
    """A constant as the value attribute of an option: strings as they are, else JSON."""
    if isinstance(const, str):
        return const
    return json.dumps(const, ensure_ascii=False)


def shown_value(value: Any) -> str:
    """A constant as a person reads it: 是/否 for booleans, strings as they are, else JSON."""
    if value is True:
        return "是"
    if value is False:
        return "否"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# --- ui schema and property order -------------------------------------------------------------------

def ui_of(ui: Any, name: str) -> dict:
    """The ui schema of `name` (a property, "items" or "ui:options"); {} when there is none."""
    value = ui.get(name) if isinstance(ui, dict) else None
    return value if isinstance(value, dict) else {}


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


# --- data paths -------------------------------------------------------------------------------------

def join_path(prefix: str, name: str) -> str:
    """The data path of property `name` of the object at `prefix` ("" is the form itself)."""
    return f"{prefix}.{name}" if prefix else name


def row_path(path: str, index: int) -> str:
    """The data path of row `index` of the array at `path`."""
    return f"{path}[{index}]"


def format_path(parts: Iterable[str | int]) -> str:
    """Keys and indexes spelt as a data path, ``a.b[0].c``, the way the fields are named; the root is ""."""
    path = ""
    for part in parts:
        path = row_path(path, part) if isinstance(part, int) else join_path(path, str(part))
    return path
