"""Confidentiality of a reporter's identity (信访工作条例 §30, §46; DESIGN §7).

The identity and contact data of a complainant or reporter (诉求人/举报人) is shown only to the
groups that must know it (intake, dispatch, call-back, the discipline commission's offices and
administrators). Everyone else, above all the handling unit that may be the one reported, sees it
masked. One function decides (`can_see_identity`) and one masks (`mask_data`); pages, the API and
exports all go through them.
"""
from __future__ import annotations

from typing import Any

# Fields that identify the person who complained or reported.
IDENTITY_FIELDS = frozenset({
    "complainant_name", "id_type", "id_number", "phone", "complainant_address", "reporter_contact",
})
# Groups whose work needs the identity: 受理员, 分拨员, 回访员, 纪委信访室, 纪委监督检查室.
IDENTITY_GROUPS = frozenset({"intake", "dispatch", "callback", "jw_letters", "jw_supervision"})
MASKED_NAME = "（已保密）"


def is_confidential(data: dict | None, case=None) -> bool:
    """A case is confidential when the reporter asked for it, is anonymous, or reports misconduct."""
    if case is not None and getattr(case, "is_confidential", False):
        return True
    data = data or {}
    return bool(data.get("hide_identity") or data.get("anonymous") or data.get("appeal_type") == "report"
                or data.get("misconduct"))


def can_see_identity(user, case=None, data: dict | None = None) -> bool:
    """May `user` see the reporter's identity on this case? Always yes when it is not confidential."""
    if not is_confidential(data, case):
        return True
    if user is None:
        return False
    if getattr(user, "is_admin", False):
        return True
    return bool(IDENTITY_GROUPS & set(user.group_names))


def mask_phone(value: str) -> str:
    """138****1234; landlines keep the area code: 0750-*******."""
    digits = str(value)
    if len(digits) == 11 and digits.isdigit():
        return f"{digits[:3]}****{digits[-4:]}"
    if "-" in digits:
        return digits.split("-", 1)[0] + "-" + "*" * len(digits.split("-", 1)[1])
    return "*" * len(digits)


def mask_value(key: str, value: Any) -> Any:
    if value in (None, ""):
        return value
    if key == "phone":
        return mask_phone(value)
    if key == "id_number":
        text = str(value)
        return text[:3] + "*" * max(len(text) - 5, 0) + text[-2:] if len(text) > 5 else "*" * len(text)
    if key == "id_type":
        return value
    return MASKED_NAME


def mask_data(data: dict | None, user, case=None) -> dict:
    """A copy of process data with the identity fields masked unless `user` may see them.

    Nested dicts and lists (e.g. an audit event's data, a transfer record) are masked too.
    """
    if data is None:
        return {}
    if can_see_identity(user, case, data):
        return data
    return masked(data)


def masked(value):
    """`value` with every identity field masked, however deep (dicts and lists)."""
    if isinstance(value, dict):
        return {k: (mask_value(k, v) if k in IDENTITY_FIELDS else masked(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value


def guard(data: dict | None, viewer, case=None, instance_id: int | None = None) -> dict:
    """`mask_data` for a page or payload, auditing the view when `viewer` sees a confidential
    identity (信访工作条例 §30: every access to a reporter's identity leaves a trace): see
    record_identity_view for when the row is committed."""
    data = data or {}
    if not is_confidential(data, case):
        return data
    if not can_see_identity(viewer, case, data):
        return masked(data)
    if viewer is not None and any(data.get(k) for k in IDENTITY_FIELDS):
        record_identity_view(viewer, case, instance_id)
    return data


def record_identity_view(viewer, case=None, instance_id: int | None = None) -> None:
    """Add the view's audit row. A read-only request never commits, so in a request the row is
    committed once the response is ready (committing here would expire every row the page has
    still to read, and cost a SELECT each); outside a request, at once."""
    from flask import after_this_request, has_request_context

    from app.audit.models import AuditAction, AuditEvent
    from app.db import utcnow
    from app.extensions import db
    db.session.add(AuditEvent(at=utcnow(), actor_id=viewer.id, action=AuditAction.VIEW_IDENTITY,
                              case_id=getattr(case, "id", None), instance_id=instance_id,
                              label="查看举报人身份信息"))
    if not has_request_context():
        db.session.commit()
        return

    @after_this_request
    def _commit(response):
        if response.status_code < 500:   # a page re-shown with its errors (422) showed the identity too
            db.session.commit()
        return response
