"""The 纪委 case system's answers to a referral (移送单 TO_JW): its receipt and its feedback, each
recorded on the 移送单 and on the case's timeline, and passed on to the platforms that sent the case."""
from __future__ import annotations

import sqlalchemy as sa

from app.audit.models import AuditAction, AuditEvent
from app.cases.models import Case
from app.db import utcnow
from app.errors import Conflict, NotFound
from app.extensions import db
from app.integration import outbox
from app.integration.errors import SchemaInvalid
from app.integration.models import IntegrationClient, IntegrationTicket, Transfer, TransferDirection
from app.processes.models import ProcessInstance


def _referral(client: IntegrationClient, transfer_no: str) -> Transfer:
    if client.name != "jw_case":
        raise NotFound("只有纪委监委案件系统可以答复移送单")
    row = db.session.execute(sa.select(Transfer).where(Transfer.transfer_no == transfer_no,
                                                       Transfer.direction == TransferDirection.TO_JW)
                             .with_for_update()).scalar_one_or_none()
    if row is None:
        raise NotFound(f"找不到移送单 {transfer_no[:60]}")
    return row


def _record(row: Transfer, type_: str, label: str, payload: dict, now) -> dict:
    conn = db.session.connection()
    instance_id = db.session.execute(sa.select(ProcessInstance.id).where(ProcessInstance.case_id == row.case_id)
                                     .order_by(ProcessInstance.id.desc()).limit(1)).scalar_one_or_none()
    db.session.add(AuditEvent(at=now, action=AuditAction.MESSAGE, case_id=row.case_id, instance_id=instance_id,
                              label=label, data=payload))
    origins = db.session.execute(sa.select(IntegrationTicket.client_id).where(IntegrationTicket.case_id == row.case_id)
                                 .distinct()).scalars().all()
    for client_id in origins:
        outbox._insert(conn, client_id, row.case_id, instance_id, type_, payload, now)
    number = db.session.execute(sa.select(Case.number).where(Case.id == row.case_id)).scalar_one()
    db.session.commit()
    return {"transfer_no": payload["transfer_no"], "case_number": number, "status": "recorded"}


def receive_receipt(client: IntegrationClient, transfer_no: str) -> dict:
    """The 纪委 confirmed receipt. A second receipt changes nothing (409). Commits."""
    row = _referral(client, transfer_no)
    if row.ack_at is not None:
        db.session.rollback()
        raise Conflict("该移送单已确认接收", code="already_received")
    now = utcnow()
    row.ack_at = now
    payload = {"at": now.isoformat(), "transfer_no": row.transfer_no, "ack_due": row.ack_due.isoformat(),
               "on_time": now <= row.ack_due, "by": "纪委监委案件系统"}
    return _record(row, "transfer_received", f"纪委监委确认接收移送单 {row.transfer_no}", payload, now)


def receive_feedback(client: IntegrationClient, transfer_no: str, body) -> dict:
    """The 纪委's feedback on the referral. Commits."""
    text = body.get("feedback") if isinstance(body, dict) else None
    if not isinstance(text, str) or not 2 <= len(text.strip()) <= 2000:
        raise SchemaInvalid("反馈内容有误", fields={"feedback": ["必填，2 到 2000 个字符"]})
    row = _referral(client, transfer_no)
    if row.feedback_at is not None:
        db.session.rollback()
        raise Conflict("该移送单已反馈", code="already_answered")
    now = utcnow()
    row.feedback, row.feedback_at = text.strip(), now
    if row.ack_at is None:
        row.ack_at = now
    payload = {"at": now.isoformat(), "transfer_no": row.transfer_no, "feedback": row.feedback,
               "feedback_due": row.feedback_due.isoformat(), "on_time": now <= row.feedback_due}
    return _record(row, "transfer_feedback", f"纪委监委反馈移送单 {row.transfer_no}", payload, now)
