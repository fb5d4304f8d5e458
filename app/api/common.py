"""What every API view needs: the bearer-token user."""
from __future__ import annotations

from flask_login import current_user

from app.auth.models import User
from app.errors import Unauthorized


def require_user() -> User:
    """The user of the request's bearer token. Raises Unauthorized (401)."""
    if not current_user.is_authenticated:
        raise Unauthorized("缺少或无效的访问令牌（Authorization: Bearer <token>）")
    return current_user._get_current_object()


def paginate(page) -> dict:
    pages = (page.total + page.per_page - 1) // page.per_page if page.total else 0
    return {"items": page.items, "pagination": {"page": page.page, "per_page": page.per_page,
                                                "total": page.total, "pages": pages}}
