"""移送单 (DOMAIN §2.7) both ways: sender, receiver, reason, original ticket, a receipt due within
1 working day and a feedback due date (15 working days unless the sender sets one), both computed
on the business calendar (app.deadlines.due.add_business_duration), and the feedback."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.cases.models import Case
from app.deadlines.due import add_business_duration
from app.extensions import db
from app.integration.models import IntegrationClient, IntegrationTicket, Transfer, TransferDirection

RECEIPT_WITHIN = "1WD"
FEEDBACK_WITHIN_DAYS = 15


def find_case(transfer: dict) -> Case | None:
    """The case a 移送单 refers to: by its case number, else by the original ticket number."""
    if transfer.get("original_case"):
        case = db.session.execute(sa.select(Case).where(Case.number == transfer["original_case"])).scalar_one_or_none()
        if case is not None:
            return case
    if transfer.get("original_ticket_no"):
        return db.session.execute(
            sa.select(Case).join(IntegrationTicket, IntegrationTicket.case_id == Case.id)
            .where(IntegrationTicket.ticket_no == transfer["original_ticket_no"])
            .order_by(IntegrationTicket.id).limit(1)).scalar_one_or_none()
    return None


def exists(transfer_no: str) -> bool:
    return db.session.execute(sa.select(Transfer.id).where(Transfer.transfer_no == transfer_no)).first() is not None


def due_dates(sent_at: datetime, feedback_days: int | None) -> tuple[datetime, datetime]:
    return (add_business_duration(sent_at, RECEIPT_WITHIN).due,
            add_business_duration(sent_at, f"{feedback_days or FEEDBACK_WITHIN_DAYS}WD").due)


def record_inbound(client: IntegrationClient, transfer: dict, case: Case, ticket_no: str,
                   now: datetime) -> Transfer:
    """A platform's 移送单 into this system, on `case`. Flushes, does not commit."""
    ack_due, feedback_due = due_dates(now, transfer.get("feedback_days"))
    row = Transfer(transfer_no=transfer["transfer_no"],
                   direction=TransferDirection.FROM_JW if client.name == "jw_case" else TransferDirection.INBOUND,
                   case_id=case.id, client_id=client.id, from_org=transfer["from_org"], to_org=transfer["to_org"],
                   reason=transfer["reason"], original_ticket_no=transfer.get("original_ticket_no") or ticket_no,
                   sent_at=now, ack_due=ack_due, feedback_due=feedback_due)
    db.session.add(row)
    db.session.flush()
    return row


# the workflow's own transfers[] directions -> ours, with the orgs a script left out
WORKFLOW_DIRECTIONS = {"hotline_to_jw": (TransferDirection.TO_JW, "12345热线分拨中心", "市纪委监委信访室"),
                       "jw_to_hotline": (TransferDirection.FROM_JW, "市纪委监委信访室", "12345热线分拨中心")}


def record_referral(conn, case_id: int, data: dict, now: datetime, workflow_direction: str = "hotline_to_jw"
                    ) -> dict | None:
    """The 移送单 the step just made (the workflow's last transfers[] entry of that direction: a 纪委
    referral, or the 纪委's transfer back to 12345 / 职能部门) as a Transfer row, in the step's
    transaction; its receipt and feedback due dates on the business calendar. Returns its §2.7
    fields for the outbox."""
    direction, from_org, to_org = WORKFLOW_DIRECTIONS[workflow_direction]
    made = [t for t in data.get("transfers") or [] if isinstance(t, dict) and t.get("direction") == workflow_direction]
    if not made:
        return None
    t = made[-1]
    ack_due, feedback_due = due_dates(now, None)
    original = conn.execute(sa.select(IntegrationTicket.ticket_no).where(IntegrationTicket.case_id == case_id)
                            .order_by(IntegrationTicket.id).limit(1)).scalar_one_or_none()
    row = {"transfer_no": t["transfer_no"], "direction": direction, "case_id": case_id,
           "client_id": None, "from_org": t.get("from_org") or from_org,
           "to_org": t.get("to_org") or to_org, "reason": t.get("reason") or "（未写明）",
           "original_ticket_no": original, "sent_at": now, "ack_due": ack_due, "ack_at": None,
           "feedback_due": feedback_due, "feedback": None, "feedback_at": None}
    exists = conn.execute(sa.select(Transfer.id).where(Transfer.transfer_no == row["transfer_no"])).first()
    if exists is None:
        conn.execute(sa.insert(Transfer.__table__), row)
    return as_fields(row, data.get("case_number"))


def as_fields(row, case_number: str | None) -> dict:
    get = row.get if isinstance(row, dict) else (lambda k: getattr(row, k))

    def iso(value):
        return value.isoformat() if value is not None else None
    return {"transfer_no": get("transfer_no"), "from_org": get("from_org"), "to_org": get("to_org"),
            "reason": get("reason"), "original_ticket_no": get("original_ticket_no"), "original_case": case_number,
            "sent_at": iso(get("sent_at")), "ack_due": iso(get("ack_due")), "ack_at": iso(get("ack_at")),
            "feedback_due": iso(get("feedback_due")), "feedback": get("feedback"),
            "feedback_at": iso(get("feedback_at"))}
