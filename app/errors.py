"""Domain exceptions and their answers: JSON under /api, a Chinese HTML page elsewhere; never a trace."""
from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class AppError(Exception):
    status = 400
    code = "bad_request"
    default_message = "请求有误"

    def __init__(self, message: str | None = None, *, fields: dict | None = None, **extra):
        self.message = message or self.default_message
        self.fields = fields
        self.extra = extra
        super().__init__(self.message)

    def payload(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.fields:
            body["fields"] = self.fields
        body.update({k: v for k, v in self.extra.items() if v is not None})
        return {"error": body}


class Unauthorized(AppError):
    status, code, default_message = 401, "unauthorized", "请先登录或提供有效的令牌"


class Forbidden(AppError):
    status, code, default_message = 403, "forbidden", "无权执行此操作"


class NotFound(AppError):
    status, code, default_message = 404, "not_found", "找不到该记录"


class Conflict(AppError):
    status, code, default_message = 409, "conflict", "记录已被他人修改，请刷新后重试"


class FormInvalid(AppError):
    status, code, default_message = 422, "validation_failed", "表单填写有误"


class ProcessDefinitionError(AppError):
    """A designer's script, condition or service task failed; the instance is in `error` (or, on a
    start, nothing was created), nothing was lost. Its own status in the API: 422 with
    `code: process_error` and the element, its name and the line (not a 500: the server is fine,
    the diagram is not)."""

    status, code, default_message = 422, "process_error", "流程定义出错"


HTTP_MESSAGES = {
    400: "请求有误", 401: "请先登录", 403: "无权访问", 404: "页面或记录不存在",
    405: "不支持该请求方法", 409: "操作冲突", 413: "上传内容过大", 415: "不支持的内容类型",
    422: "提交的数据有误", 429: "请求过于频繁", 500: "服务器内部错误", 503: "服务暂不可用",
}


def _wants_json() -> bool:
    if request.path.startswith("/api/") or request.path == "/healthz":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def respond(status: int, payload: dict):
    """An error as JSON (API, fetch() calls) or as the Chinese error page."""
    if _wants_json():
        return jsonify(payload), status
    err = payload["error"]
    return render_template("errors/error.html", status=status, message=err["message"],
                           fields=err.get("fields")), status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(AppError)
    def handle_app_error(exc: AppError):
        return respond(exc.status, exc.payload())

    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException):
        if getattr(exc, "response", None) is not None:   # an answer made for it (the login throttle's)
            return exc.response
        status = exc.code or 500
        body = {"code": _code_for(status), "message": HTTP_MESSAGES.get(status, exc.name)}
        messages = getattr(exc, "data", {}).get("messages") if hasattr(exc, "data") else None
        if messages:  # webargs/flask-smorest input validation
            body["code"] = "validation_failed"
            body["message"] = "请求参数有误"
            body["fields"] = _flatten_messages(messages)
            if body["fields"] == {"json": ["Invalid JSON body."]}:   # webargs' own words for a broken body
                body["message"] = "请求体不是合法的 JSON"
                body["fields"] = {"json": ["不是合法的 JSON"]}
        return respond(status, {"error": body})

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return respond(500, {"error": {"code": "internal_error", "message": HTTP_MESSAGES[500]}})


def _code_for(status: int) -> str:
    return {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
            405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
            422: "validation_failed", 429: "rate_limited"}.get(status, "internal_error" if status >= 500
                                                               else "http_error")


def _flatten_messages(messages: dict) -> dict:
    """webargs nests by location ({"json": {"field": [...]}}); callers want field -> messages."""
    flat: dict = {}
    for location, fields in messages.items():
        if isinstance(fields, dict):
            for name, msgs in fields.items():
                flat[name] = msgs if isinstance(msgs, list) else [str(msgs)]
        else:
            flat[location] = fields if isinstance(fields, list) else [str(fields)]
    return flat
