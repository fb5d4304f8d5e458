"""Login protection (#15): a temporary lockout after repeated failed logins.

The rule (README "登录保护"): LOGIN_LOCKOUT_THRESHOLD consecutive failed logins lock the account
for LOGIN_LOCKOUT_MINUTES; a successful login resets the count. The lock is lifted by time, or by
an administrator (`unlock`, the /admin pages, `flask users unlock NAME`). Locking and unlocking are
audited (AuditAction.LOCK / UNLOCK, data: username, failures, until, reason).

Whoever logs in gets the same answer whether the account exists, is locked or the password is
wrong (`authenticate`): one Chinese message, one status, and a password hash computed in every
case, so neither the text nor the timing tells an attacker which usernames exist. The per-account
and per-IP throttling (Flask-Limiter) sits on the login routes (app/auth/throttle.py).
"""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from app.audit.models import AuditAction, AuditEvent
from app.auth.models import User
from app.db import utcnow
from app.extensions import db

LOGIN_FAILED_MESSAGE = "用户名或密码不正确；连续多次登录失败的账户会被暂时锁定，请稍后再试或联系管理员"
_dummy_hashes: dict[str, str] = {}


def _threshold() -> int:
    return int(current_app.config["LOGIN_LOCKOUT_THRESHOLD"])


def _duration() -> timedelta:
    return timedelta(minutes=float(current_app.config["LOGIN_LOCKOUT_MINUTES"]))


def is_locked(user: User) -> bool:
    """Locked now (a lock whose time has passed is no lock)."""
    return user.locked_until is not None and user.locked_until > utcnow()


def record_failure(user: User) -> bool:
    """Count a failed login; lock the account when the count reaches the threshold (audited).
    Returns True when this failure locked it. Flushes, does not commit."""
    if is_locked(user):
        return False
    if user.locked_until is not None:   # an expired lock: the count starts again
        user.locked_until, user.failed_login_count = None, 0
    user.failed_login_count = (user.failed_login_count or 0) + 1
    locked = user.failed_login_count >= _threshold()
    if locked:
        now = utcnow()
        user.locked_until = now + _duration()
        db.session.add(AuditEvent(at=now, actor_id=None, action=AuditAction.LOCK, label=user.display_name,
                                  data={"username": user.username, "failures": user.failed_login_count,
                                        "until": user.locked_until.isoformat()}))
    db.session.flush()
    return locked


def record_success(user: User) -> None:
    """A successful login: the failure count starts again. Flushes, does not commit."""
    if user.failed_login_count or user.locked_until is not None:
        user.failed_login_count, user.locked_until = 0, None
        db.session.flush()


def unlock(user: User, actor: User | None, reason: str) -> bool:
    """Lift a lock (or reset a failure count) by an administrator, audited with who and why.
    Returns False when there was nothing to lift. Flushes, does not commit."""
    reason = (reason or "").strip()
    if not reason:
        from app.errors import AppError
        raise AppError("请填写解锁原因", fields={"reason": ["必填"]})
    was_locked = is_locked(user)
    if not was_locked and not user.failed_login_count:
        return False
    user.failed_login_count, user.locked_until = 0, None
    db.session.add(AuditEvent(at=utcnow(), actor_id=actor.id if actor else None, action=AuditAction.UNLOCK,
                              label=user.display_name,
                              data={"username": user.username, "reason": reason, "was_locked": was_locked}))
    db.session.flush()
    return True


def locked_users() -> list[User]:
    """The accounts locked now, the most recently locked first (for the administrators)."""
    return list(db.session.execute(
        sa.select(User).where(User.locked_until > utcnow()).order_by(User.locked_until.desc())).scalars())


def _dummy_hash() -> str:
    method = current_app.config["PASSWORD_HASH_METHOD"]
    if method not in _dummy_hashes:
        _dummy_hashes[method] = generate_password_hash("not-a-password-of-anyone", method=method)
    return _dummy_hashes[method]


def authenticate(username: str, password: str) -> User | None:
    """The active, unlocked user with this password, else None, counting the failure. Commits.

    Always computes one password hash (a dummy one for an unknown user), so an unknown username
    takes as long as a known one; a locked account is refused even with the right password."""
    user = db.session.execute(sa.select(User).where(User.username == (username or ""))).scalar_one_or_none()
    password_ok = check_password_hash(user.password_hash if user is not None else _dummy_hash(), password or "")
    if user is None or not user.is_active_user:
        return None
    if is_locked(user):
        return None
    if not password_ok:
        record_failure(user)
        db.session.commit()
        return None
    record_success(user)
    db.session.commit()
    return user
