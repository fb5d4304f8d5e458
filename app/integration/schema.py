"""The published ticket JSON Schema (GET /api/v1/integration/schema/ticket.json) and its check, with
a Chinese message per field (the field's path: `transfer.reason`)."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator

from app.integration.errors import SchemaInvalid

SCHEMA_PATH = Path(__file__).with_name("ticket.schema.json")


@lru_cache(maxsize=1)
def ticket_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(ticket_schema())


def _message(error) -> str:
    kind, value = error.validator, error.validator_value
    if kind == "required":
        return "必填"
    if kind == "type":
        return {"string": "应为文本", "number": "应为数字", "integer": "应为整数", "boolean": "应为 true 或 false",
                "array": "应为列表", "object": "应为对象"}.get(value, "类型不正确")
    if kind in ("enum", "const"):
        return "取值不在允许范围内（可选：" + "、".join(map(str, value if kind == "enum" else [value])) + "）"
    if kind == "minLength":
        return f"至少 {value} 个字符"
    if kind == "maxLength":
        return f"不能超过 {value} 个字符"
    if kind == "maxItems":
        return f"最多 {value} 项"
    if kind == "uniqueItems":
        return "不能有重复项"
    if kind == "minimum":
        return f"不能小于 {value}"
    if kind == "maximum":
        return f"不能大于 {value}"
    if kind == "pattern":
        return "格式不正确（字母、数字、- 或 _，4 到 60 位）"
    if kind == "additionalProperties":
        return "不允许的字段"
    return "不符合要求"


def check_ticket(body) -> dict:
    """The body if it satisfies the schema, else SchemaInvalid naming each field and why."""
    if not isinstance(body, dict):
        raise SchemaInvalid("请求体应为 JSON 对象", fields={"body": ["应为对象"]})
    fields: dict[str, list[str]] = {}
    for error in _validator().iter_errors(body):
        path = [str(p) for p in error.absolute_path]
        if error.validator == "required":   # name the missing field itself, not its parent
            missing = error.message.split("'")[1] if "'" in error.message else ""
            path = path + [missing] if missing else path
        elif error.validator == "additionalProperties":
            extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
            for name in extra:
                fields.setdefault(".".join(path + [name]), []).append(_message(error))
            continue
        fields.setdefault(".".join(path) or "body", []).append(_message(error))
    if fields:
        raise SchemaInvalid(f"请求不符合工单 JSON Schema：{len(fields)} 处有误（" + "、".join(sorted(fields)) + "）",
                            fields=fields)
    return body
