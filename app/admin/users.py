"""Accounts: create, edit, groups, disable, unlock, reset a password; each audited with who and why.

Every function validates first and raises FormInvalid naming the fields, then changes, records the
audit event and commits once."""
from __future__ import annotations

import re

import sqlalchemy as sa
from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash

from app.admin.audit_log import AdminAction, record
from app.auth import lockout
from app.auth.models import Group, User
from app.auth.passwords import password_problems
from app.auth.services import get_user_by_username
from app.errors import Conflict, FormInvalid, NotFound
from app.extensions import db

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-]{2,80}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9\- ]{4,28}$")
REASON_MAX = 500


def is_locked(user: User) -> bool:
    """已锁定: a temporary lockout still running (the rule is app.auth.lockout's)."""
    return lockout.is_locked(user)


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("找不到该用户")
    return user


def list_users(q: str = "", group_id: int | None = None) -> list[User]:
    stmt = sa.select(User).order_by(User.username)
    if q:
        like = f"%{q}%"
        stmt = stmt.where(sa.or_(User.username.ilike(like), User.display_name.ilike(like),
                                 User.email.ilike(like), User.phone.ilike(like)))
    if group_id:
        stmt = stmt.where(User.groups.any(Group.id == group_id))
    return list(db.session.execute(stmt).scalars())


def _reason(value: str | None, errors: dict) -> str:
    reason = (value or "").strip()
    if not reason:
        errors["reason"] = ["请填写操作理由（记入审计日志）"]
    elif len(reason) > REASON_MAX:
        errors["reason"] = [f"理由不超过 {REASON_MAX} 字"]
    return reason


def _profile(form: dict, errors: dict) -> dict:
    name = (form.get("display_name") or "").strip()
    email = (form.get("email") or "").strip() or None
    phone = (form.get("phone") or "").strip() or None
    if not name:
        errors["display_name"] = ["请填写姓名"]
    elif len(name) > 100:
        errors["display_name"] = ["姓名不超过 100 个字符"]
    if email and (len(email) > 255 or not EMAIL_RE.match(email)):
        errors["email"] = ["电子邮箱格式不正确，例如 zhang.san@jiangmen.gov.cn"]
    if phone and not PHONE_RE.match(phone):
        errors["phone"] = ["电话号码只能包含数字、空格和连字符，例如 0750-3201234 或 13800000000"]
    return {"display_name": name, "email": email, "phone": phone}


def _groups(ids, errors: dict) -> list[Group]:
    try:
        wanted = sorted({int(i) for i in ids or []})
    except (TypeError, ValueError):
        errors["groups"] = ["用户组选择有误"]
        return []
    found = list(db.session.execute(sa.select(Group).where(Group.id.in_(wanted))).scalars()) if wanted else []
    if len(found) != len(wanted):
        errors["groups"] = ["所选用户组不存在，请刷新页面后重选"]
    return found


def _hash(password: str) -> str:
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def _titles(groups) -> list[str]:
    return sorted(g.title for g in groups)


def create_user(actor: User, form: dict, group_ids) -> User:
    """A new account; it must change the initial password at its first login. Commits."""
    errors: dict = {}
    username = (form.get("username") or "").strip()
    if not USERNAME_RE.match(username):
        errors["username"] = ["用户名为 2–80 位字母、数字、下划线、点或连字符"]
    elif get_user_by_username(username) is not None:
        errors["username"] = ["该用户名已被使用"]
    profile = _profile(form, errors)
    problems = password_problems(form.get("password"), username)
    if problems:
        errors["password"] = problems
    groups = _groups(group_ids, errors)
    reason = _reason(form.get("reason"), errors)
    if errors:
        raise FormInvalid("请按提示修改后再提交", fields=errors)
    user = User(username=username, password_hash=_hash(form["password"]), must_change_password=True,
                is_active_user=True, failed_login_count=0, groups=groups, **profile)
    db.session.add(user)
    db.session.flush()
    record(actor, AdminAction.USER_CREATE, reason, label=f"{user.display_name}（{username}）",
           user_id=user.id, groups=_titles(groups))
    db.session.commit()
    return user


def update_user(actor: User, user: User, form: dict) -> User:
    """Name, phone and e-mail. Commits."""
    errors: dict = {}
    profile = _profile(form, errors)
    reason = _reason(form.get("reason"), errors)
    if errors:
        raise FormInvalid("请按提示修改后再提交", fields=errors)
    changes = {k: [getattr(user, k), v] for k, v in profile.items() if getattr(user, k) != v}
    if not changes:
        raise FormInvalid("没有修改任何内容", fields={"display_name": ["与原来相同"]})
    for key, (_, new) in changes.items():
        setattr(user, key, new)
    record(actor, AdminAction.USER_UPDATE, reason, label=_label(user), user_id=user.id, changes=changes)
    db.session.commit()
    return user


def set_groups(actor: User, user: User, group_ids, reason_text: str) -> User:
    """Replace the user's groups and units. Commits."""
    errors: dict = {}
    groups = _groups(group_ids, errors)
    reason = _reason(reason_text, errors)
    if errors:
        raise FormInvalid("请按提示修改后再提交", fields=errors)
    if actor.id == user.id and any(g.name == "admin" for g in user.groups) and not any(g.name == "admin" for g in groups):
        raise FormInvalid("不能取消自己的系统管理员身份",
                          fields={"groups": ["不能取消自己的系统管理员身份，请由另一位系统管理员操作"]})
    before = _titles(user.groups)
    user.groups = groups
    record(actor, AdminAction.USER_GROUPS, reason, label=_label(user), user_id=user.id, before=before,
           after=_titles(groups))
    db.session.commit()
    return user


def set_active(actor: User, user: User, active: bool, reason_text: str) -> User:
    """Disable (the user can no longer log in, its tokens stop working) or enable. Commits."""
    errors: dict = {}
    reason = _reason(reason_text, errors)
    if errors:
        raise FormInvalid("请填写操作理由", fields=errors)
    if not active and actor.id == user.id:
        raise FormInvalid("不能停用自己的账号", fields={"reason": ["不能停用自己的账号，请由另一位系统管理员操作"]})
    if user.is_active_user == active:
        raise Conflict("该用户已启用" if active else "该用户已停用")
    user.is_active_user = active
    record(actor, AdminAction.USER_ENABLE if active else AdminAction.USER_DISABLE, reason, label=_label(user),
           user_id=user.id)
    db.session.commit()
    return user


def unlock(actor: User, user: User, reason_text: str) -> User:
    """Lift a temporary lockout before its time. Commits."""
    errors: dict = {}
    reason = _reason(reason_text, errors)
    if errors:
        raise FormInvalid("请填写操作理由", fields=errors)
    if not lockout.unlock(user, actor, reason):   # the login protection's own unlock, audited as `unlock`
        raise Conflict("该用户未被锁定")
    record(actor, AdminAction.USER_UNLOCK, reason, label=_label(user), user_id=user.id)
    db.session.commit()
    return user


def reset_password(user: User, password: str, actor: User | None, reason: str, must_change: bool = True) -> User:
    """Set a new password (by an administrator, or `flask users set-password`); by default the user
    must change it at the next login. Also lifts a lockout. Commits."""
    errors: dict = {}
    problems = password_problems(password, user.username)
    if problems:
        errors["password"] = problems
    reason = _reason(reason, errors)
    if errors:
        raise FormInvalid("请按提示修改后再提交", fields=errors)
    user.password_hash = _hash(password)
    user.must_change_password = must_change
    lockout.unlock(user, actor, reason)   # a new password lifts a lock too (audited when there was one)
    record(actor, AdminAction.PASSWORD_RESET, reason, label=_label(user), user_id=user.id,
           must_change_password=must_change)
    db.session.commit()
    return user


def change_own_password(user: User, current: str, new: str, confirm: str) -> User:
    """The user's own change (forced after a reset): the current password, then the rules. Commits."""
    errors: dict = {}
    if not check_password_hash(user.password_hash, current or ""):
        errors["current_password"] = ["当前密码不正确"]
    problems = password_problems(new, user.username)
    if problems:
        errors["new_password"] = problems
    elif current and new == current:
        errors["new_password"] = ["新密码不能与当前密码相同"]
    if not errors.get("new_password") and new != confirm:
        errors["confirm_password"] = ["两次输入的新密码不一致"]
    if errors:
        raise FormInvalid("请按提示修改后再提交", fields=errors)
    user.password_hash = _hash(new)
    user.must_change_password = False
    record(user, AdminAction.PASSWORD_CHANGE, "本人修改密码", label=_label(user), user_id=user.id)
    db.session.commit()
    return user


def _label(user: User) -> str:
    return f"{user.display_name}（{user.username}）"
