"""What every API view needs: the request's user (bearer token, or the browser session with CSRF)."""
from __future__ import annotations

from flask import current_app, g, request
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError

from app.auth.models import User
from app.auth.services import user_for_token
from app.errors import Forbidden, Unauthorized


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRefused(Forbidden):
    code = "csrf_failed"


def require_user() -> User:
    """The user of the request's bearer token, or of the browser session. Raises Unauthorized (401).

    The API blueprints are exempt from the form CSRF check because tokens are not sent by browsers
    on their own. A session cookie is: a change requested with the session alone must carry the
    page's CSRF token in the X-CSRFToken header, or another site could make a logged-in browser
    deploy a diagram. Raises CsrfRefused (403) then.
    """
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and not g.get("authenticated_by_token"):
        # a token beside a session cookie: Flask-Login took the session; the token decides here
        user = user_for_token(header[len("Bearer "):].strip())
        if user is None:
            raise Unauthorized("缺少或无效的访问令牌（Authorization: Bearer <token>）")
        return user
    if not current_user.is_authenticated:
        raise Unauthorized("缺少或无效的访问令牌（Authorization: Bearer <token>）")
    if request.method not in SAFE_METHODS and not g.get("authenticated_by_token") \
            and current_app.config.get("WTF_CSRF_ENABLED", True):
        try:
            validate_csrf(request.headers.get("X-CSRFToken"))
        except ValidationError:
            raise CsrfRefused("使用登录会话调用接口的写操作须带 X-CSRFToken 请求头，或改用访问令牌") from None
    return current_user._get_current_object()


def paginate(page) -> dict:
    pages = (page.total + page.per_page - 1) // page.per_page if page.total else 0
    return {"items": page.items, "pagination": {"page": page.page, "per_page": page.per_page,
                                                "total": page.total, "pages": pages}}
