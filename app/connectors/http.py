"""The `http` connector: one HTTP call to an allowed address, its JSON (or text) answer into the data.

Parameters (the operator's, evaluated in the sandbox): `url` (required), `method` (GET), `headers`
(dict), `params` (query dict), `json` or `data` (the body: sent as JSON), `basic_auth_username` /
`basic_auth_password`, `timeout` (seconds, capped by CONNECTOR_HTTP_TIMEOUT). spiff-arena's
operator names `http/GetRequestV2`, `http/PostRequestV2`, ... (and without V2) take the same
parameters, their method fixed by the name.

The URL must fall under one of CONNECTOR_HTTP_ALLOW (scheme, host and port equal, path under the
allowed one): a diagram cannot make the server call anything else. The result is
{"http_status", "mimetype", "body"} (the body parsed when it is JSON): spiff-arena's shape.
A timeout, a refused connection, 429 and 5xx may be retried; other 4xx fail at once.
"""
from __future__ import annotations

import base64
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from typing import Callable

from app.connectors.errors import ConnectorError

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
MAX_RESPONSE_BYTES = 1024 * 1024


def _allowed(config) -> list[urllib.parse.SplitResult]:
    setting = config.get("CONNECTOR_HTTP_ALLOW") or []
    if isinstance(setting, str):
        setting = [s for s in setting.split(",") if s.strip()]
    return [urllib.parse.urlsplit(s.strip()) for s in setting]


def _port(parts: urllib.parse.SplitResult) -> int | None:
    try:
        return parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return None


def _is_allowed(url: str, allowed: list[urllib.parse.SplitResult]) -> bool:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        return False
    for base in allowed:
        prefix = base.path.rstrip("/")
        if (base.scheme, base.hostname, _port(base)) == (parts.scheme, parts.hostname, _port(parts)) and (
                not prefix or parts.path == prefix or parts.path.startswith(prefix + "/")):
            return True
    return False


def _dict_param(params: dict, name: str) -> dict:
    value = params.get(name) or {}
    if not isinstance(value, dict):
        raise ConnectorError(f"参数 {name} 应为字典（名称到值），实际是 {type(value).__name__}")
    return value


def request(params: dict, config, method: str | None = None) -> dict:
    url = params.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ConnectorError("参数 url 未填写：请在服务任务的参数中填写要调用的地址")
    method = (method or params.get("method") or "GET").upper()
    if method not in METHODS:
        raise ConnectorError(f"参数 method 无效：{method}（可选：{'、'.join(METHODS)}）")
    allowed = _allowed(config)
    if not _is_allowed(url, allowed):
        raise ConnectorError(f"地址 {url} 不在允许调用的地址列表中（由管理员在 CONNECTOR_HTTP_ALLOW 中配置）")
    query = _dict_param(params, "params")
    if query:
        url += ("&" if urllib.parse.urlsplit(url).query else "?") + urllib.parse.urlencode(query, doseq=True)
    headers = {str(k): str(v) for k, v in _dict_param(params, "headers").items()}
    headers.setdefault("Accept", "application/json")
    if params.get("basic_auth_username") is not None:
        pair = f"{params['basic_auth_username']}:{params.get('basic_auth_password') or ''}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    body = params.get("json", params.get("data"))
    payload = None
    if body is not None and method not in ("GET", "HEAD"):
        try:
            payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError):
            raise ConnectorError("请求体（参数 json 或 data）不能转换为 JSON") from None
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
    limit = float(config.get("CONNECTOR_HTTP_TIMEOUT", 10))
    try:
        timeout = min(limit, float(params.get("timeout") or limit))
    except (TypeError, ValueError):
        raise ConnectorError("参数 timeout 应为秒数") from None
    req = urllib.request.Request(url, data=payload, headers=headers, method=method)
    opener = urllib.request.build_opener(_NoRedirect)   # a redirect could leave the allowed addresses
    try:
        with opener.open(req, timeout=timeout) as resp:
            status, raw, mimetype = resp.status, resp.read(MAX_RESPONSE_BYTES + 1), resp.headers.get_content_type()
    except urllib.error.HTTPError as err:
        status, mimetype = err.code, err.headers.get_content_type() if err.headers else ""
        retryable = status == 429 or status >= 500
        raise ConnectorError(f"接口 {_shown(url)} 返回 HTTP {status}", retryable=retryable) from None
    except (socket.timeout, TimeoutError):
        raise ConnectorError(f"接口 {_shown(url)} 在 {timeout:g} 秒内没有响应", retryable=True) from None
    except (urllib.error.URLError, ConnectionError, OSError) as err:
        reason = getattr(err, "reason", err)
        if isinstance(reason, (socket.timeout, TimeoutError)):
            raise ConnectorError(f"接口 {_shown(url)} 在 {timeout:g} 秒内没有响应", retryable=True) from None
        raise ConnectorError(f"无法连接接口 {_shown(url)}", retryable=True) from None
    if len(raw) > MAX_RESPONSE_BYTES:
        raise ConnectorError(f"接口 {_shown(url)} 的响应超过 {MAX_RESPONSE_BYTES // 1024} KB，未写入流程数据")
    return {"http_status": status, "mimetype": mimetype, "body": _body(raw, mimetype)}


def _body(raw: bytes, mimetype: str):
    text = raw.decode("utf-8", errors="replace")
    if mimetype == "application/json" or mimetype.endswith("+json"):
        try:
            return json.loads(text)
        except ValueError:
            raise ConnectorError("接口声明返回 JSON，但内容不是有效的 JSON") from None
    return text


def _shown(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(req.full_url, code, f"redirect to {newurl}", headers, fp)


def connectors(config) -> dict[str, Callable[[dict, dict], object]]:
    """`http` and spiff-arena's names for it."""
    def generic(params, data):
        return request(params, config)

    found = {"http": generic}
    for method in METHODS:
        name = method.capitalize()
        for version in ("", "V2"):
            found[f"http/{name}Request{version}"] = (
                lambda params, data, _m=method: request(params, config, _m))
    return found
