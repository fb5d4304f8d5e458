"""Users, groups, passwords and API tokens; who may see and act on what."""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import orm
from flask import current_app, g
from werkzeug.security import check_password_hash, generate_password_hash

from app.auth.models import ApiToken, Group, GroupKind, User
from app.db import utcnow
from app.errors import AppError, Unauthorized
from app.extensions import db, login_manager


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


@login_manager.request_loader
def load_user_from_request(request) -> User | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    user = user_for_token(header[len("Bearer "):].strip())
    g.authenticated_by_token = user is not None   # api.common.require_user: no CSRF token needed then
    return user


def user_for_token(token: str) -> User | None:
    """The active user of a valid, unexpired, unrevoked token, else None.

    One statement per request: the token row joined to its user, with the user's groups joined in
    (what every permission check reads). Nothing is cached across requests, so a revoked or expired
    token, a deactivated user or a changed group is seen by the next request on every node.
    """
    if not token:
        return None
    return db.session.execute(
        sa.select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == _hash_token(token),
               ApiToken.revoked_at.is_(None),
               ApiToken.expires_at > utcnow(),
               User.is_active_user.is_(True))
        .options(orm.joinedload(User.groups))).unique().scalar_one_or_none()


def get_user_by_username(username: str) -> User | None:
    return db.session.execute(sa.select(User).where(User.username == username)).scalar_one_or_none()


def issue_token(username: str, password: str) -> tuple[str, ApiToken]:
    """Check the password and issue a bearer token. Raises Unauthorized. Commits."""
    from app.auth.lockout import LOGIN_FAILED_MESSAGE, authenticate
    user = authenticate(username or "", password or "")
    if user is None:
        raise Unauthorized(LOGIN_FAILED_MESSAGE)
    token = secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=_hash_token(token),
                   expires_at=utcnow() + timedelta(hours=current_app.config["API_TOKEN_TTL_HOURS"]))
    db.session.add(row)
    db.session.commit()
    return token, row


def ensure_group(name: str, title: str, kind: str = GroupKind.LANE) -> Group:
    """Get or create a group (flushes, does not commit)."""
    group = db.session.execute(sa.select(Group).where(Group.name == name)).scalar_one_or_none()
    if group is None:
        group = Group(name=name, title=title, kind=kind)
        db.session.add(group)
        db.session.flush()
    else:
        group.title, group.kind = title, kind
    return group


def create_or_update_user(username: str, password: str, display_name: str,
                          groups: list[Group], email: str | None = None) -> tuple[User, bool]:
    """Create the user or bring an existing one to this state (flushes, does not commit)."""
    if not username or len(username) > 80:
        raise AppError("用户名不能为空，且不超过 80 个字符")
    if len(password or "") < 8:
        raise AppError("密码至少 8 位")
    user = get_user_by_username(username)
    created = user is None
    if created:
        user = User(username=username, display_name=display_name, password_hash="")
        db.session.add(user)
    user.display_name = display_name
    user.email = email
    if created or not check_password_hash(user.password_hash, password):
        user.password_hash = generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])
    user.groups = list(groups)
    db.session.flush()
    return user, created


def resolve_groups(names: list[str]) -> list[Group]:
    """Groups by name or title; raises AppError naming the unknown ones."""
    found = db.session.execute(
        sa.select(Group).where(sa.or_(Group.name.in_(names), Group.title.in_(names)))).scalars().all()
    known = {g.name for g in found} | {g.title for g in found}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise AppError("未知的用户组：" + "、".join(unknown))
    return list(found)


def lane_group_names(lane_or_groups: list[str]) -> list[str]:
    """Map lane names (group titles) or group names to group names; unknown names stay as given."""
    if not lane_or_groups:
        return []
    rows = db.session.execute(
        sa.select(Group.name, Group.title).where(
            sa.or_(Group.name.in_(lane_or_groups), Group.title.in_(lane_or_groups)))).all()
    by_title = {t: n for n, t in rows}
    names = {n for n, _ in rows}
    return [n if n in names else by_title.get(n, n) for n in lane_or_groups]


def user_names(ids) -> dict[int, str]:
    """id -> display name (姓名) of the users among `ids` (None ignored): what pages show for a person."""
    ids = [i for i in ids if i is not None]
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(User.id, User.display_name).where(User.id.in_(ids))).all())
