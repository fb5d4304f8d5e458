"""Throttling of the login routes (#15): failed logins counted per account and per IP address.

Flask-Limiter (the `limiter` of app.extensions) counts only the answers that refused the login
(401), so people who log in correctly are never slowed down, however often; once a key is over its
limit every attempt on it is answered 429 until the window passes, the right password included.
The per-account key is the username as typed, known or not: an unknown username is throttled
exactly like a real one, so the 429 tells nothing about which accounts exist. Limits come from
LOGIN_LIMIT_PER_ACCOUNT and LOGIN_LIMIT_PER_IP (Flask-Limiter's notation, e.g. "10 per 15 minutes").
"""
from __future__ import annotations

from flask import current_app, jsonify, request
from flask_limiter.util import get_remote_address

from app.extensions import limiter

THROTTLED_MESSAGE = "登录失败次数过多，请稍后再试"


def _typed_username() -> str:
    try:
        if request.is_json:
            body = request.get_json(silent=True)
            name = body.get("username") if isinstance(body, dict) else None
        else:
            name = request.form.get("username")
    except Exception:  # noqa: BLE001 - a body that cannot be read has no username; the view says why
        name = None
    return name.strip()[:80] if isinstance(name, str) else ""


def account_key() -> str:
    return "login-account:" + _typed_username()


def ip_key() -> str:
    return "login-ip:" + (get_remote_address() or "")


def _refused(response) -> bool:
    return response.status_code == 401


def json_breached(request_limit):
    """The API's answer once a key is over its limit."""
    response = jsonify({"error": {"code": "rate_limited", "message": THROTTLED_MESSAGE}})
    response.status_code = 429
    return response


def throttled(on_breach=json_breached):
    """Both limits on a login view; `on_breach(request_limit)` answers a throttled attempt (the
    login page passes its own, which keeps what was typed)."""
    def decorate(view):
        per_ip = limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_IP"], key_func=ip_key,
                               deduct_when=_refused, on_breach=on_breach, scope="login-ip", methods=["POST"])
        per_account = limiter.limit(lambda: current_app.config["LOGIN_LIMIT_PER_ACCOUNT"], key_func=account_key,
                                    deduct_when=_refused, on_breach=on_breach, scope="login-account",
                                    methods=["POST"])
        return per_ip(per_account(view))
    return decorate
