"""Outbound, the write side: a completed step the platforms must hear about becomes outbox rows (one
per platform that sent the case a ticket) and their delivery jobs, in the step's own transaction
(called from running.apply_result). A step of no interest costs a set lookup; a step of interest on a
case no platform sent costs one indexed SELECT.

Events (DOMAIN §2.3, §2.7): rejected 不予受理, signed_in 签收, returned 退单, extension_granted 延期,
closed 办结 (with the reply), callback_result 回访, transferred_to_jw 移送纪委 (and the referral itself
to the 纪委 case system when it is registered), transfer_received 移送单签收, transfer_feedback 移送单反馈,
transferred_to_unit 纪委移送职能部门.
"""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa

from app.deadlines.models import JobKind, JobStatus, TimerJob
from app.extensions import db
from app.integration import transfers
from app.integration.models import IntegrationClient, IntegrationTicket, OutboxEvent, Transfer, TransferDirection

PROCESS_KEY = "complaint"
STEPS = frozenset({"register", "sign_in", "extension_center", "qa", "kb_answer", "callback", "assess",
                   "dispatch", "jw_register", "jw_assess", "jw_close"})

_outbox, _job, _ticket, _transfer = (OutboxEvent.__table__, TimerJob.__table__, IntegrationTicket.__table__,
                                     Transfer.__table__)
_ORIGINS = sa.select(_ticket.c.client_id).where(_ticket.c.case_id == sa.bindparam("b_case")).distinct()
_NEXT_SEQ = sa.select(sa.func.coalesce(sa.func.max(_outbox.c.seq), 0) + 1).where(
    _outbox.c.client_id == sa.bindparam("b_client"), _outbox.c.case_id == sa.bindparam("b_case"))
_INSERT_EVENT = sa.insert(_outbox).returning(_outbox.c.id)


def record_step_events(conn, *, process_key: str, case_id: int | None, instance_id: int, bpmn_id: str,
                       submitted: dict | None, data: dict, now: datetime) -> None:
    """Write the outbox rows of a completed step (in the caller's transaction; does not commit)."""
    if bpmn_id not in STEPS or process_key != PROCESS_KEY or case_id is None:
        return
    form = submitted if isinstance(submitted, dict) else {}
    referral = bpmn_id == "assess" and form.get("misconduct") is True
    origins = conn.execute(_ORIGINS, {"b_case": case_id}).scalars().all()
    jw_client = _jw_client(conn) if referral else None
    if not origins and jw_client is None:
        return
    events = _events(conn, bpmn_id, form, data, case_id, now, referral)
    for client_id in origins:
        for type_, payload in events:
            _insert(conn, client_id, case_id, instance_id, type_, payload, now)
    if jw_client is not None and jw_client not in origins:
        fields = next((p["transfer"] for t, p in events if t == "transferred_to_jw"), None)
        if fields is not None:
            _insert(conn, jw_client, case_id, instance_id, "referral",
                    {"transfer": fields, "case": _case_summary(data)}, now)


def _jw_client(conn) -> int | None:
    return conn.execute(sa.select(IntegrationClient.id).where(IntegrationClient.name == "jw_case",
                                                              IntegrationClient.enabled.is_(True))).scalar_one_or_none()


def _case_summary(data: dict) -> dict:
    """What the 纪委 case system gets with a referral: the matter, never the reporter's identity."""
    keys = ("appeal_type", "category", "district", "title", "content", "respondent_org", "respondent_person",
            "company_name", "uscc")
    return {k: data.get(k) for k in keys if data.get(k) not in (None, "", [])}


def _events(conn, bpmn_id: str, form: dict, data: dict, case_id: int, now: datetime,
            referral: bool) -> list[tuple[str, dict]]:
    at = now.isoformat()
    if bpmn_id == "register" and form.get("in_scope") is False:
        return [("rejected", {"at": at, "reason": form.get("out_of_scope_reason"),
                              "advice": form.get("out_of_scope_advice")})]
    if bpmn_id == "sign_in":
        if form.get("sign_action") == "sign":
            return [("signed_in", {"at": at, "unit": data.get("handler_org_name") or data.get("handler_org")})]
        if form.get("sign_action") == "return":
            return [("returned", {"at": at, "reason": form.get("return_reason"), "basis": form.get("return_basis")})]
    if bpmn_id == "extension_center" and form.get("center_decision") == "approve":
        granted = (data.get("extensions") or [{}])[-1]
        return [("extension_granted", {"at": at, "days": granted.get("days"), "unit": granted.get("unit"),
                                       "notice": form.get("applicant_notice")})]
    if bpmn_id == "qa" and form.get("qa_result") == "pass":
        feedback = _close_inbound_transfers(conn, case_id, data.get("reply_text"), now)
        return [("closed", {"at": at, "result_code": data.get("result_code"), "reply_text": data.get("reply_text"),
                            "reply_method": data.get("reply_method")})] + feedback
    if bpmn_id == "kb_answer":
        feedback = _close_inbound_transfers(conn, case_id, form.get("answer_text"), now)
        return [("closed", {"at": at, "result_code": "kb_answered", "reply_text": form.get("answer_text"),
                            "reply_method": form.get("answer_method")})] + feedback
    if bpmn_id == "callback":
        return [("callback_result", {"at": at, "contacted": form.get("contacted"), "resolved": form.get("resolved"),
                                     "satisfaction": form.get("satisfaction")})]
    if referral:
        fields = transfers.record_referral(conn, case_id, data, now)
        return [("transferred_to_jw", {"at": at, "transfer": fields})] if fields else []
    if bpmn_id == "dispatch":   # the 分拨中心 took the case in: its inbound 移送单 are received
        return _ack(conn, case_id, (TransferDirection.FROM_JW, TransferDirection.INBOUND), now)
    if bpmn_id == "jw_register":
        return _ack(conn, case_id, (TransferDirection.TO_JW,), now)
    if bpmn_id == "jw_close":
        return _feedback(conn, case_id, (TransferDirection.TO_JW,), form.get("closing_summary"), now)
    if bpmn_id == "jw_assess" and form.get("disposal") == "transfer_back":
        fields = transfers.record_referral(conn, case_id, data, now, "jw_to_hotline")
        return [("transferred_to_unit", {"at": at, "transfer": fields})] if fields else []
    return []


def _open(conn, case_id: int, directions, column) -> list:
    return conn.execute(sa.select(_transfer).where(_transfer.c.case_id == case_id,
                                                   _transfer.c.direction.in_(directions), column.is_(None))).all()


def _ack(conn, case_id: int, directions, now: datetime) -> list[tuple[str, dict]]:
    out = []
    for row in _open(conn, case_id, directions, _transfer.c.ack_at):
        conn.execute(sa.update(_transfer).where(_transfer.c.id == row.id).values(ack_at=now))
        out.append(("transfer_received", {"at": now.isoformat(), "transfer_no": row.transfer_no,
                                          "ack_due": row.ack_due.isoformat(), "on_time": now <= row.ack_due}))
    return out


def _feedback(conn, case_id: int, directions, text: str | None, now: datetime) -> list[tuple[str, dict]]:
    out = []
    for row in _open(conn, case_id, directions, _transfer.c.feedback_at):
        conn.execute(sa.update(_transfer).where(_transfer.c.id == row.id).values(feedback=text, feedback_at=now))
        out.append(("transfer_feedback", {"at": now.isoformat(), "transfer_no": row.transfer_no, "feedback": text,
                                          "feedback_due": row.feedback_due.isoformat(),
                                          "on_time": now <= row.feedback_due}))
    return out


def _close_inbound_transfers(conn, case_id: int, text: str | None, now: datetime) -> list[tuple[str, dict]]:
    return _feedback(conn, case_id, (TransferDirection.FROM_JW, TransferDirection.INBOUND), text, now)


def _insert(conn, client_id: int, case_id: int, instance_id: int | None, type_: str, payload: dict,
            now: datetime) -> None:
    seq = conn.execute(_NEXT_SEQ, {"b_client": client_id, "b_case": case_id}).scalar_one()
    event_pk = conn.execute(_INSERT_EVENT, {
        "event_id": str(uuid.uuid4()), "client_id": client_id, "case_id": case_id, "seq": seq, "type": type_,
        "payload": payload, "created_at": now, "delivered_at": None, "attempts": 0, "last_error": None}
    ).scalar_one()
    conn.execute(sa.insert(_job), {
        "kind": JobKind.INTEGRATION_DELIVERY, "instance_id": instance_id, "human_task_id": None,
        "spiff_task_id": None, "bpmn_id": type_, "due_at": now, "status": JobStatus.PENDING, "attempts": 0,
        "last_error": None, "locked_by": None, "locked_until": None, "payload": {"event": event_pk},
        "created_at": now})


def outbox_backlog() -> int:
    """Events written but not yet delivered (for the metrics)."""
    return db.session.execute(sa.select(sa.func.count(OutboxEvent.id))
                              .where(OutboxEvent.delivered_at.is_(None))).scalar_one()
