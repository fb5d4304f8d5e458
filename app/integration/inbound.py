"""Inbound: a platform's signed ticket or 移送单 → one case, exactly once per ticket number.

The checks run in this order and each refusal starts nothing: the platform is known and registered
(404 unknown_platform) and enabled (403 platform_disabled); the request is signed (401
signature_missing), within ±5 minutes (401 stale_timestamp), with the client's secret (401
bad_signature), and not seen before (409 replayed); the body is JSON (400 invalid_json) and fits the
published schema (422 schema_invalid, per field). Then the ticket starts the complaint at the
platform's channel through the staff start path (running.start_process: the start form validates it
as it validates a 受理员's, 422 validation_failed per field), or — a 移送单 — reaches the case it
names, or starts one.

Idempotency: the (client, ticket_no) row is inserted in the transaction that starts the case, before
the case itself; a concurrent second start of the same ticket fails on the unique constraint (on
PostgreSQL it waits for the first to commit), rolls back, and answers the first one's case number.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

from app.audit.models import AuditAction, AuditEvent
from app.cases.models import Case
from app.db import utcnow
from app.errors import Conflict, FormInvalid
from app.extensions import db
from app.integration import signing, transfers
from app.integration.errors import (
    BadSignature, InvalidJson, PlatformDisabled, Replayed, SignatureMissing, StaleTimestamp, UnknownPlatform)
from app.integration.models import PLATFORMS, IntegrationClient, IntegrationNonce, IntegrationTicket
from app.integration.schema import check_ticket
from app.processes.models import ProcessInstance
from app.processes.running import start_process

log = logging.getLogger(__name__)

PROCESS_KEY = "complaint"
# platform -> the complaint's intake channel (DOMAIN §2.1); the 纪委 system's 移送单 go to the
# 12345 分拨中心, which dispatches them to the 职能部门 (双向移送, DOMAIN §2.7)
CHANNELS = {"hotline_12345": "hotline_12345", "sme_platform": "sme_platform", "jw_case": "hotline_12345"}
TICKET_ONLY_FIELDS = ("ticket_no", "kind", "transfer")
ATTEMPTS = 8


@dataclass
class Received:
    status: int           # 201 started, 200 already known / attached to an existing case
    body: dict


def verify_request(platform: str, timestamp: str | None, given: str | None, body: bytes,
                   now: datetime | None = None) -> IntegrationClient:
    """The client that signed this request, or the refusal. Records the signature (commits)."""
    now = now or utcnow()
    if platform not in PLATFORMS:
        raise UnknownPlatform(f"未登记的平台：{platform[:40]}")
    client = db.session.execute(sa.select(IntegrationClient).where(IntegrationClient.name == platform)
                                ).scalar_one_or_none()
    if client is None:
        raise UnknownPlatform(f"平台“{PLATFORMS[platform]}”尚未登记接入")
    if not client.enabled:
        raise PlatformDisabled(f"平台“{PLATFORMS[platform]}”的接入已停用")
    if not timestamp or not given:
        raise SignatureMissing()
    try:
        sent = int(timestamp)
    except ValueError:
        raise StaleTimestamp("X-Wuyi-Timestamp 应为 Unix 时间（秒）") from None
    if abs(now.timestamp() - sent) > signing.WINDOW_SECONDS:
        raise StaleTimestamp()
    if not signing.matches(client.secret, timestamp, body, given):
        raise BadSignature()
    digest = signing.signature(client.secret, timestamp, body)
    db.session.execute(sa.delete(IntegrationNonce).where(
        IntegrationNonce.seen_at < now - timedelta(seconds=2 * signing.WINDOW_SECONDS)))
    db.session.add(IntegrationNonce(client_id=client.id, signature=digest, seen_at=now))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Replayed() from None
    return client


def parse_body(body: bytes) -> dict:
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise InvalidJson() from None
    return check_ticket(data)


def receive_ticket(client: IntegrationClient, ticket: dict) -> Received:
    """Start (or find) the case of a schema-valid ticket. Commits."""
    kind = ticket.get("kind", "ticket")
    if client.name == "jw_case" and kind != "transfer":
        raise FormInvalid("纪委监委案件系统只接收移送单（kind 应为 transfer）", fields={"kind": ["应为 transfer"]})
    for attempt in range(ATTEMPTS):
        known = _known(client.id, ticket["ticket_no"])
        if known is not None:
            return known
        if kind == "transfer" and transfers.exists(ticket["transfer"]["transfer_no"]):
            db.session.rollback()
            raise Conflict(f"移送单 {ticket['transfer']['transfer_no']} 已由另一工单编号送达",
                           code="duplicate_transfer", fields={"transfer.transfer_no": ["该移送单编号已存在"]})
        try:
            if kind == "transfer":
                target = transfers.find_case(ticket["transfer"])
                if target is not None:
                    return _attach(client, ticket, target)
            return _start(client, ticket)
        except IntegrityError:   # the same ticket (or 移送单) was just started by a concurrent request
            db.session.rollback()
        except OperationalError as exc:   # SQLite: a concurrent writer committed under this read
            db.session.rollback()
            if "locked" not in str(exc).lower() or attempt == ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    known = _known(client.id, ticket["ticket_no"])
    if known is None:
        raise RuntimeError("ticket neither started nor found")
    return known


def _known(client_id: int, ticket_no: str) -> Received | None:
    row = db.session.execute(
        sa.select(IntegrationTicket.started, Case.number).join(Case, Case.id == IntegrationTicket.case_id)
        .where(IntegrationTicket.client_id == client_id, IntegrationTicket.ticket_no == ticket_no)).first()
    db.session.rollback()   # a fresh snapshot for whatever comes next
    if row is None:
        return None
    return Received(200, {"ticket_no": ticket_no, "case_number": row.number,
                          "status": "duplicate", "message": "该工单已收到，未重复立案"})


def start_data(client: IntegrationClient, ticket: dict) -> dict:
    data = {k: v for k, v in ticket.items() if k not in TICKET_ONLY_FIELDS}
    return {**data, "channel": CHANNELS[client.name]}


def _start(client: IntegrationClient, ticket: dict) -> Received:
    now = utcnow()
    row = IntegrationTicket(client_id=client.id, ticket_no=ticket["ticket_no"],
                            kind=ticket.get("kind", "ticket"), received_at=now)
    db.session.add(row)
    db.session.flush()   # the unique (client, ticket_no): a concurrent duplicate stops here

    def link(instance: ProcessInstance, case: Case) -> None:
        row.case_id = case.id
        label = f"收到{PLATFORMS[client.name]}工单 {ticket['ticket_no']}"
        if ticket.get("kind") == "transfer":
            transfer = transfers.record_inbound(client, ticket["transfer"], case, ticket["ticket_no"], now)
            label = f"收到移送单 {transfer.transfer_no}（{transfer.from_org}）"
        db.session.add(AuditEvent(at=now, action=AuditAction.MESSAGE, case_id=case.id, instance_id=instance.id,
                                  label=label, data={"platform": client.name, "ticket_no": ticket["ticket_no"]}))
        db.session.flush()

    try:
        _instance, case = start_process(PROCESS_KEY, start_data(client, ticket), None, before_commit=link)
    except Exception:
        db.session.rollback()
        raise
    return Received(201, {"ticket_no": ticket["ticket_no"], "case_number": case.number, "status": "created",
                          "message": "已受理立案"})


def _attach(client: IntegrationClient, ticket: dict, case: Case) -> Received:
    """A 移送单 about a case already here: recorded on it (the diagram has no message to catch it)."""
    now = utcnow()
    db.session.add(IntegrationTicket(client_id=client.id, ticket_no=ticket["ticket_no"], kind="transfer",
                                     case_id=case.id, started=False, received_at=now))
    db.session.flush()
    transfer = transfers.record_inbound(client, ticket["transfer"], case, ticket["ticket_no"], now)
    instance_id = db.session.execute(sa.select(ProcessInstance.id).where(ProcessInstance.case_id == case.id)
                                     .order_by(ProcessInstance.id.desc()).limit(1)).scalar_one_or_none()
    db.session.add(AuditEvent(at=now, action=AuditAction.MESSAGE, case_id=case.id, instance_id=instance_id,
                              label=f"收到移送单 {transfer.transfer_no}（{transfer.from_org}）",
                              data={"transfer_no": transfer.transfer_no, "from_org": transfer.from_org,
                                    "to_org": transfer.to_org, "reason": transfer.reason}))
    number = case.number
    db.session.commit()
    return Received(200, {"ticket_no": ticket["ticket_no"], "case_number": number, "status": "attached",
                          "message": "移送单已记入原案件"})
