"""JSON Schema (Draft 2020-12) validation of task-form data with Chinese, per-field error messages."""
from __future__ import annotations

import json
import re
from typing import Any, Iterable, Iterator

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError

from .formats import FORMAT_CHECKER, FORMAT_PROBLEMS
from .keywords import KEYWORDS, keyword_problems
from .schema import DATA_KEYWORDS as _DATA_KEYWORDS
from .schema import enum_names, format_path, is_choice_list, pointer_target

__all__ = ["FormValidator", "check_schema"]

ROOT_LABEL = "表单"
_MAX_LISTED = 20

_TYPE_NAMES = {
    "string": "文本",
    "integer": "整数",
    "number": "数字",
    "boolean": "是/否（布尔值）",
    "object": "对象",
    "array": "列表",
    "null": "空值",
}

_FORMAT_HINTS = {
    "date": "格式不正确（应为日期 YYYY-MM-DD）",
    "date-time": "格式不正确（应为日期时间，如 2025-09-29T10:12:00+08:00）",
    "time": "格式不正确（应为时间，如 10:12:00+08:00）",
    "email": "格式不正确（应为电子邮箱地址）",
    "idn-email": "格式不正确（应为电子邮箱地址）",
    "uuid": "格式不正确（应为 UUID）",
    "ipv4": "格式不正确（应为 IPv4 地址）",
    "ipv6": "格式不正确（应为 IPv6 地址）",
    "regex": "格式不正确（应为正则表达式）",
}

_PathPart = str | int
_NormPath = tuple[str | None, ...]  # list indexes replaced by None


def _norm(parts: Iterable[_PathPart]) -> _NormPath:
    return tuple(None if isinstance(p, int) else p for p in parts)


def _fmt_value(v: Any) -> str:
    if isinstance(v, str):
        return v
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return json.dumps(v, ensure_ascii=False)


def _fmt_list(values: list[str]) -> str:
    if len(values) > _MAX_LISTED:
        return "、".join(values[:_MAX_LISTED]) + f" 等{len(values)}项"
    return "、".join(values)


def _pointer(parts: Iterable[_PathPart]) -> str:
    return "#" + "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


_SUBSCHEMA_LIST_KEYWORDS = ("allOf", "anyOf", "oneOf")
_SUBSCHEMA_KEYWORDS = ("if", "then", "else", "not")


def _collect_titles(root: Any) -> dict[_NormPath, str]:
    """Map each normalised data path to the ``title`` of the schema describing it.

    Direct ``properties``/``items`` definitions win over ones found inside
    combinators (allOf/anyOf/oneOf/if/then/else/dependentSchemas) and local $refs.
    """
    titles: dict[_NormPath, str] = {}
    active: set[int] = set()

    def note(path: _NormPath, sub: Any) -> None:
        if isinstance(sub, dict) and isinstance(sub.get("title"), str) and path not in titles:
            titles[path] = sub["title"]

    def walk(schema: Any, path: _NormPath, depth: int) -> None:
        if not isinstance(schema, dict) or depth > 40 or id(schema) in active:
            return
        active.add(id(schema))
        try:
            props = schema.get("properties")
            if isinstance(props, dict):
                for name, sub in props.items():
                    note(path + (name,), sub)
            for kw in ("items", "additionalItems"):
                note(path + (None,), schema.get(kw))
            if isinstance(schema.get("prefixItems"), list):
                for sub in schema["prefixItems"]:
                    note(path + (None,), sub)
            if isinstance(props, dict):
                for name, sub in props.items():
                    walk(sub, path + (name,), depth + 1)
            walk(schema.get("items"), path + (None,), depth + 1)
            if isinstance(schema.get("prefixItems"), list):
                for sub in schema["prefixItems"]:
                    walk(sub, path + (None,), depth + 1)
            for kw in _SUBSCHEMA_LIST_KEYWORDS:
                if isinstance(schema.get(kw), list):
                    for sub in schema[kw]:
                        walk(sub, path, depth + 1)
            for kw in _SUBSCHEMA_KEYWORDS:
                walk(schema.get(kw), path, depth + 1)
            if isinstance(schema.get("dependentSchemas"), dict):
                for sub in schema["dependentSchemas"].values():
                    walk(sub, path, depth + 1)
            ref = schema.get("$ref")
            if isinstance(ref, str) and ref.startswith("#"):
                try:
                    target = pointer_target(root, ref)
                except LookupError:
                    target = None
                walk(target, path, depth + 1)
        finally:
            active.discard(id(schema))

    walk(root, (), 0)
    return titles


# Draft 2020-12 plus our rule keywords (app/taskforms/keywords.py)
_FormSchemaValidator = validators.extend(Draft202012Validator, KEYWORDS)

_FORBIDDEN = {"not": {}}  # same meaning as the `false` schema


def _without_false_subschemas(node: Any) -> Any:
    """Copy of a schema where ``false`` under properties/patternProperties/prefixItems becomes ``{"not": {}}``.

    jsonschema drops the data path of errors raised by a boolean ``false`` subschema
    (the error would land on the parent object); ``{"not": {}}`` keeps it.
    """
    if isinstance(node, list):
        return [_without_false_subschemas(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict = {}
    for k, v in node.items():
        if k in _DATA_KEYWORDS:
            out[k] = v
        elif k in ("properties", "patternProperties") and isinstance(v, dict):
            out[k] = {name: dict(_FORBIDDEN) if sub is False else _without_false_subschemas(sub)
                      for name, sub in v.items()}
        elif k == "prefixItems" and isinstance(v, list):
            out[k] = [dict(_FORBIDDEN) if sub is False else _without_false_subschemas(sub) for sub in v]
        elif k in ("$defs", "definitions", "dependentSchemas") and isinstance(v, dict):
            out[k] = {name: _without_false_subschemas(sub) for name, sub in v.items()}
        else:
            out[k] = _without_false_subschemas(v)
    return out


class FormValidator:
    """Validates form data against one JSON Schema; build once per form, call :meth:`errors` per submission.

    The schema is assumed to be usable (see :func:`check_schema`).
    """

    def __init__(self, schema: dict):
        self.schema = schema
        self._validator = _FormSchemaValidator(_without_false_subschemas(schema), format_checker=FORMAT_CHECKER)
        self._titles = _collect_titles(schema)

    # ------------------------------------------------------------------ public
    def is_valid(self, data: Any) -> bool:
        return self._validator.is_valid(data)

    def errors(self, data: Any) -> dict[str, list[str]]:
        """``{}`` when valid, else ``{"field.path[0].sub": ["中文消息", ...]}``; ``""`` is the whole form."""
        out: dict[str, list[str]] = {}
        seen_groups: set[tuple] = set()
        for err in self._validator.iter_errors(data):
            for parts, message in self._translate(err, seen_groups):
                msgs = out.setdefault(format_path(parts), [])
                if message not in msgs:
                    msgs.append(message)
        return out

    # ----------------------------------------------------------------- labels
    def label(self, parts: list[_PathPart], schema: Any = None) -> str:
        """Human name of the data at ``parts``: schema title, else the key (list items: ``<列表>第N项``)."""
        if not parts:
            return ROOT_LABEL
        title = self._titles.get(_norm(parts))
        if title is None and isinstance(schema, dict) and isinstance(schema.get("title"), str):
            title = schema["title"]
        last = parts[-1]
        if isinstance(last, int):
            base = title or self.label(parts[:-1])
            return f"{base}第{last + 1}项"
        return title or str(last)

    # ------------------------------------------------------------ translation
    def _translate(self, err: ValidationError, seen_groups: set[tuple]) -> Iterator[tuple[list[_PathPart], str]]:
        parts: list[_PathPart] = list(err.absolute_path)
        kw = err.validator
        value = err.validator_value
        instance = err.instance
        schema = err.schema if isinstance(err.schema, dict) else {}

        def at_field(detail: str) -> tuple[list[_PathPart], str]:
            return parts, f"{self.label(parts, schema)}：{detail}"

        if kw == "required":
            group = ("required", tuple(parts), tuple(err.absolute_schema_path))
            if group in seen_groups:
                return
            seen_groups.add(group)
            for prop in value:
                if isinstance(instance, dict) and prop not in instance:
                    child = parts + [prop]
                    yield child, f"{self.label(child)}：必填"
            return

        if kw == "dependentRequired":
            group = ("dependentRequired", tuple(parts), tuple(err.absolute_schema_path))
            if group in seen_groups:
                return
            seen_groups.add(group)
            for prop, deps in value.items():
                if prop not in instance:
                    continue
                for dep in deps:
                    if dep not in instance:
                        child = parts + [dep]
                        yield child, f"{self.label(child)}：必填（已填写{self.label(parts + [prop])}时）"
            return

        custom = schema.get("errorMessage")   # ajv-errors style: a message, or one per keyword
        custom = custom.get(kw) if isinstance(custom, dict) else custom
        if isinstance(custom, str) and custom.strip():
            yield at_field(custom.strip())
            return

        if kw == "additionalProperties":
            props = schema.get("properties") or {}
            patterns = schema.get("patternProperties") or {}
            extras = [
                str(k) for k in instance
                if k not in props and not any(re.search(p, k) for p in patterns)
            ]
            yield at_field(f"含有不允许的字段（{_fmt_list(extras)}）")
            return

        if kw == "format":
            problem_fn = FORMAT_PROBLEMS.get(value)
            if problem_fn is not None:
                reason = problem_fn(instance) or "格式不正确"
                name = self.label(parts, schema)
                yield parts, reason if reason.startswith(name) else f"{name}：{reason}"
            else:
                yield at_field(_FORMAT_HINTS.get(value, f"格式不正确（应为 {value} 格式）"))
            return

        if kw in KEYWORDS:   # our keywords word their own messages, at the field they name
            name = self.label(parts)
            yield parts, err.message if err.message.startswith(name) else f"{name}：{err.message}"
            return

        yield at_field(self._detail(err, kw, value, instance, schema))

    @staticmethod
    def _detail(err: ValidationError, kw: Any, value: Any, instance: Any, schema: dict) -> str:
        if kw is None:  # boolean `false` schema
            return "不允许填写此项"
        if kw == "type":
            types = value if isinstance(value, list) else [value]
            return "应为" + "或".join(_TYPE_NAMES.get(t, str(t)) for t in types)
        if kw == "enum":
            names = enum_names(schema)   # the enum of `schema` is `value`
            if names is not None:
                shown = [_fmt_value(n) for n in names]
            else:
                shown = [_fmt_value(v) for v in value]
            return f"取值无效，可选值：{_fmt_list(shown)}"
        if kw == "const":
            if value is True:
                return "必须勾选确认"
            return f"取值应为 {_fmt_value(value)}"
        if kw == "minLength":
            if value == 1:
                return "不能为空"
            return f"不能少于 {value} 字（当前 {len(instance)} 字）"
        if kw == "maxLength":
            return f"不能超过 {value} 字（当前 {len(instance)} 字）"
        if kw == "pattern":
            return "格式不正确"   # a regex means nothing to a caseworker: errorMessage.pattern says it in words
        if kw == "minimum":
            return f"不能小于{_fmt_value(value)}"
        if kw == "maximum":
            return f"不能大于{_fmt_value(value)}"
        if kw == "exclusiveMinimum":
            return f"应大于{_fmt_value(value)}"
        if kw == "exclusiveMaximum":
            return f"应小于{_fmt_value(value)}"
        if kw == "multipleOf":
            return f"应为{_fmt_value(value)}的整数倍"
        if kw == "minItems":
            return f"至少需要{value}项（当前{len(instance)}项）"
        if kw == "maxItems":
            return f"最多允许{value}项（当前{len(instance)}项）"
        if kw == "uniqueItems":
            return "不能包含重复项"
        if kw == "minProperties":
            return f"至少需要填写{value}项"
        if kw == "maxProperties":
            return f"最多允许填写{value}项"
        if kw in ("oneOf", "anyOf"):
            if is_choice_list(value):
                shown = [_fmt_value(b["title"]) if "title" in b else _fmt_value(b["const"]) for b in value]
                return f"取值无效，可选值：{_fmt_list(shown)}"
            if kw == "oneOf" and not err.context:
                return "填写内容同时符合多种情形，无法确定应按哪一种处理"
            return "填写内容不符合要求（不符合任何一种允许的情形）"
        if kw == "not":
            return "不允许填写此项" if value == {} or value is True else "不允许的取值"
        if kw == "unevaluatedProperties":
            return f"不允许的字段（{err.message}）"
        if kw == "unevaluatedItems":
            return f"不允许的多余项（{err.message}）"
        if kw in ("contains", "minContains"):
            return "缺少符合要求的项"
        if kw == "maxContains":
            return f"符合条件的项最多允许{value}个"
        return f"不符合要求（{err.message}）"


# ---------------------------------------------------------------------------
# Schema checks
# ---------------------------------------------------------------------------
_META_VALIDATOR = Draft202012Validator(
    Draft202012Validator.META_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER,
)
_DRAFT_2020_12_IDS = {
    "https://json-schema.org/draft/2020-12/schema",
    "https://json-schema.org/draft/2020-12/schema#",
}
_SIMPLE_TYPES = "array、boolean、integer、null、number、object、string"


def _iter_refs(node: Any, path: list[_PathPart]) -> Iterator[tuple[list[_PathPart], str]]:
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield path + [k], v
            elif k not in _DATA_KEYWORDS:
                yield from _iter_refs(v, path + [k])
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _iter_refs(v, path + [i])


def _anchors(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("$anchor"), str):
            found.add(node["$anchor"])
        for k, v in node.items():
            if k not in _DATA_KEYWORDS:
                found |= _anchors(v)
    elif isinstance(node, list):
        for v in node:
            found |= _anchors(v)
    return found


def check_schema(schema: Any) -> list[str]:
    """Problems that make a form schema unusable, as Chinese messages with a JSON pointer; [] when fine."""
    if not isinstance(schema, dict):
        return ["表单定义必须是 JSON 对象（位置 #）"]
    problems: list[str] = []

    declared = schema.get("$schema")
    if declared is not None and declared not in _DRAFT_2020_12_IDS:
        problems.append(
            "仅支持 JSON Schema Draft 2020-12，$schema 应为 https://json-schema.org/draft/2020-12/schema"
            f"（当前为 {_fmt_value(declared)}，位置 #/$schema）"
        )
    if schema.get("type") != "object":
        current = f"当前为 {_fmt_value(schema['type'])}" if "type" in schema else "当前未设置"
        problems.append(f"表单定义顶层的 type 必须为 \"object\"（{current}，位置 #/type）")

    meta_errors = sorted(_META_VALIDATOR.iter_errors(schema), key=lambda e: [str(p) for p in e.absolute_path])
    for err in meta_errors:
        parts = list(err.absolute_path)
        where = _pointer(parts)
        if parts and parts[-1] == "type" and isinstance(err.instance, (str, list)):
            problems.append(f"未知的类型 {_fmt_value(err.instance)}（允许：{_SIMPLE_TYPES}；位置 {where}）")
        else:
            problems.append(f"不是合法的 JSON Schema（Draft 2020-12）：{err.message}（位置 {where}）")

    for parts, problem in keyword_problems(schema):
        problems.append(f"{problem}（位置 {_pointer(parts)}）")

    anchors = None
    for parts, ref in _iter_refs(schema, []):
        where = _pointer(parts)
        if ref.startswith("#/") or ref == "#":
            try:
                pointer_target(schema, ref)
            except LookupError:
                problems.append(f"引用无法解析：{ref}（位置 {where}）")
        elif ref.startswith("#"):
            if anchors is None:
                anchors = _anchors(schema)
            if ref[1:] not in anchors:
                problems.append(f"引用无法解析：{ref}（位置 {where}）")
        else:
            problems.append(f"不支持引用外部文件：{ref}（位置 {where}）")

    out: list[str] = []
    for p in problems:
        if p not in out:
            out.append(p)
    return out
