"""The exchange's refusals: each failure its own status and code, in the API's JSON error shape."""
from __future__ import annotations

from app.errors import AppError


class UnknownPlatform(AppError):
    status, code, default_message = 404, "unknown_platform", "未登记的平台"


class PlatformDisabled(AppError):
    status, code, default_message = 403, "platform_disabled", "该平台的接入已停用"


class SignatureMissing(AppError):
    status, code, default_message = 401, "signature_missing", "请求缺少签名（X-Wuyi-Timestamp 和 X-Wuyi-Signature）"


class BadSignature(AppError):
    status, code, default_message = 401, "bad_signature", "签名不正确"


class StaleTimestamp(AppError):
    status, code, default_message = 401, "stale_timestamp", "请求时间戳超出允许范围（前后 5 分钟）"


class Replayed(AppError):
    status, code, default_message = 409, "replayed", "该签名请求已处理过，拒绝重放"


class InvalidJson(AppError):
    status, code, default_message = 400, "invalid_json", "请求体不是合法的 JSON"


class SchemaInvalid(AppError):
    status, code, default_message = 422, "schema_invalid", "请求不符合工单 JSON Schema"
