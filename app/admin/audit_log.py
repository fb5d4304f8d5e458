"""The audit events of administration (who, what, why), and the audit log viewer's query and CSV."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa

from app.audit.models import AuditAction, AuditEvent
from app.auth.models import User
from app.calendar import SHANGHAI
from app.cases.models import Case
from app.db import utcnow
from app.errors import FormInvalid
from app.extensions import db


class AdminAction:
    USER_CREATE = "user_create"
    USER_UPDATE = "user_update"
    USER_GROUPS = "user_groups"
    USER_DISABLE = "user_disable"
    USER_ENABLE = "user_enable"
    USER_UNLOCK = "user_unlock"
    PASSWORD_RESET = "password_reset"
    PASSWORD_CHANGE = "password_change"
    GROUP_CREATE = "group_create"
    GROUP_UPDATE = "group_update"
    CALENDAR_MARK = "calendar_mark"
    CALENDAR_LOAD = "calendar_load"
    CALENDAR_OVERRIDE = "calendar_override"
    OIDC_USER_CREATE = "oidc_user_create"


ADMIN_ACTION_TITLES = {
    AdminAction.USER_CREATE: "新建用户", AdminAction.USER_UPDATE: "修改用户信息", AdminAction.USER_GROUPS: "调整用户组",
    AdminAction.USER_DISABLE: "停用用户", AdminAction.USER_ENABLE: "启用用户", AdminAction.USER_UNLOCK: "解除锁定",
    AdminAction.PASSWORD_RESET: "重置密码", AdminAction.PASSWORD_CHANGE: "修改密码",
    AdminAction.GROUP_CREATE: "新建用户组", AdminAction.GROUP_UPDATE: "修改用户组",
    AdminAction.CALENDAR_MARK: "标记日历年度", AdminAction.CALENDAR_LOAD: "导入国务院节假日安排",
    AdminAction.CALENDAR_OVERRIDE: "调整工作日", AdminAction.OIDC_USER_CREATE: "统一身份认证首次登录建号",
}


def action_titles() -> dict[str, str]:
    from app.web.labels import ACTIONS
    return {**ACTIONS, **ADMIN_ACTION_TITLES}


def record(actor: User | None, action: str, reason: str | None, *, label: str | None = None, **data) -> AuditEvent:
    """Add (not commit) one audit event of an administrative change: the caller commits with the change."""
    body = {k: v for k, v in data.items() if v is not None}
    if reason:
        body["reason"] = reason
    event = AuditEvent(at=utcnow(), actor_id=actor.id if actor else None, action=action,
                       label=(label or "")[:255] or None, data=body or None)
    db.session.add(event)
    return event


# --- the viewer --------------------------------------------------------------------------------------

@dataclass
class AuditFilters:
    user: str = ""        # a username or display name, exact
    case: str = ""        # a case number
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None
    identity: bool = False   # the tab of identity views (view_identity) only


def parse_filters(args, identity: bool = False) -> tuple[AuditFilters, dict]:
    """The viewer's filters from the query string; errors by field (the typed values stay in `args`)."""
    errors: dict[str, list[str]] = {}
    dates = {}
    for name in ("date_from", "date_to"):
        text = (args.get(name) or "").strip()
        dates[name] = None
        if text:
            try:
                dates[name] = date.fromisoformat(text)
            except ValueError:
                errors[name] = ["日期格式应为 YYYY-MM-DD"]
    if dates["date_from"] and dates["date_to"] and dates["date_from"] > dates["date_to"]:
        errors["date_to"] = ["结束日期不能早于开始日期"]
    action = (args.get("action") or "").strip()
    if action and action not in action_titles():
        errors["action"] = ["未知的操作类型"]
    filters = AuditFilters(user=(args.get("user") or "").strip()[:100], case=(args.get("case") or "").strip()[:40],
                           action=action, identity=identity, **dates)
    return filters, errors


def _statement(f: AuditFilters):
    actor = sa.orm.aliased(User)
    stmt = (sa.select(AuditEvent, actor.display_name, actor.username, Case.number)
            .outerjoin(actor, actor.id == AuditEvent.actor_id)
            .outerjoin(Case, Case.id == AuditEvent.case_id))
    if f.identity:
        stmt = stmt.where(AuditEvent.action == AuditAction.VIEW_IDENTITY)
    elif f.action:
        stmt = stmt.where(AuditEvent.action == f.action)
    if f.user:
        stmt = stmt.where(sa.or_(actor.username == f.user, actor.display_name == f.user))
    if f.case:
        stmt = stmt.where(Case.number == f.case)
    if f.date_from:
        stmt = stmt.where(AuditEvent.at >= datetime.combine(f.date_from, time(0), tzinfo=SHANGHAI))
    if f.date_to:
        stmt = stmt.where(AuditEvent.at < datetime.combine(f.date_to + timedelta(days=1), time(0), tzinfo=SHANGHAI))
    return stmt


def _row(event: AuditEvent, name, username, number, titles) -> dict:
    data = event.data or {}
    return {"id": event.id, "at": event.at, "actor": name or ("系统" if event.actor_id is None else "—"),
            "username": username, "action": event.action, "action_title": titles.get(event.action, event.action),
            "case_number": number, "case_id": event.case_id, "label": event.label,
            "reason": data.get("reason") if isinstance(data, dict) else None,
            "details": _details(data)}


# the data keys of audit events as the viewer and the CSV name them (ids stay out: people read titles)
DETAIL_TITLES = {
    "day": "日期", "before": "原为", "after": "调整为", "moved": "调整的办理时限", "groups": "用户组",
    "changes": "修改", "year": "年度", "status": "状态", "notice": "文号", "days_written": "写入天数", "version": "版本",
    "file": "文件", "due_before": "原时限", "due_after": "新时限", "provisional": "暂定",
    "must_change_password": "下次登录须改密码", "created": "新建", "display_name": "姓名", "phone": "电话",
    "email": "电子邮箱", "title": "名称", "level": "层级", "parent": "上级单位", "subject": "统一身份标识",
    "data": "办理数据",
}
HIDDEN_KEYS = {"reason", "user_id", "group_id", "job_id", "from_definition_id", "payload", "as", "description"}


def _value(value) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        return "、".join(_value(v) for v in value) or "—"
    if isinstance(value, dict):
        return "，".join(f"{DETAIL_TITLES.get(k, k)} {_change(v)}" for k, v in value.items())
    return str(value)


def _change(value) -> str:
    if isinstance(value, list) and len(value) == 2 and not any(isinstance(v, (list, dict)) for v in value):
        return f"{_value(value[0])} → {_value(value[1])}"
    return _value(value)


def _details(data) -> str:
    if not isinstance(data, dict):
        return ""
    from app.web.labels import ACTION_DETAILS
    titles = {**ACTION_DETAILS, **DETAIL_TITLES}
    parts = [f"{titles.get(k, k)}：{_value(v)}" for k, v in data.items()
             if k not in HIDDEN_KEYS and v not in (None, "", [], {})]
    return "；".join(parts)[:500]


def search(f: AuditFilters, page: int = 1, per_page: int = 50) -> tuple[list[dict], int]:
    """A page of events, newest first, and the total count."""
    stmt = _statement(f)
    total = db.session.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()
    rows = db.session.execute(stmt.order_by(AuditEvent.id.desc()).limit(per_page)
                              .offset((max(page, 1) - 1) * per_page)).all()
    titles = action_titles()
    return [_row(*row, titles) for row in rows], total


CSV_LIMIT = 100_000


def export_csv(f: AuditFilters) -> str:
    """Every matching event as CSV (UTF-8 with BOM, so Excel reads the Chinese), newest first."""
    titles = action_titles()
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(["编号", "时间（北京时间）", "操作人", "用户名", "操作", "案件编号", "对象", "理由", "详情"])
    total = db.session.execute(sa.select(sa.func.count()).select_from(_statement(f).subquery())).scalar_one()
    if total > CSV_LIMIT:
        raise FormInvalid(f"符合条件的记录有 {total} 条，超过 {CSV_LIMIT} 条，请缩小日期范围后再导出",
                          fields={"date_from": ["请缩小日期范围"]})
    for row in db.session.execute(_statement(f).order_by(AuditEvent.id.desc())).all():
        r = _row(*row, titles)
        writer.writerow([r["id"], r["at"].astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S"), r["actor"],
                         r["username"] or "", r["action_title"], r["case_number"] or "", _safe(r["label"]),
                         _safe(r["reason"]), _safe(r["details"])])
    return out.getvalue()


def _safe(value) -> str:
    """No formula injection when the CSV is opened in a spreadsheet."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
