"""Outbound, the delivery side: the dispatcher's integration_delivery job POSTs an outbox event to
its client's callback URL, signed like the inbound requests, after the step committed.

At least once: an event is marked delivered only after the receiver answered 2xx, in its own commit;
a dispatcher killed in between leaves the job claimed until its lease runs out, then another
dispatcher delivers it again (the receiver deduplicates by X-Wuyi-Event-Id). In order per case: a
job first delivers every earlier undelivered event of its case for the same client, in `seq` order,
so event n+1 never reaches the platform before event n has. A failure raises: the dispatcher retries
with backoff and, after the last attempt, opens an incident the supervisor can retry.
"""
from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from datetime import datetime

import sqlalchemy as sa
from flask import current_app

from app.cases.models import Case
from app.db import utcnow
from app.deadlines.models import TimerJob
from app.errors import AppError
from app.extensions import db
from app.integration import signing
from app.integration.models import IntegrationClient, IntegrationTicket, OutboxEvent


class DeliveryFailed(AppError):
    """A callback that did not answer 2xx; the message is what the supervisor reads (the incident)."""

    status, code, default_message = 502, "delivery_failed", "平台事件推送失败"


def body_of(event: OutboxEvent, case_number: str | None, ticket_no: str | None) -> bytes:
    return json.dumps({"event_id": event.event_id, "type": event.type, "seq": event.seq, "case_number": case_number,
                       "ticket_no": ticket_no, "occurred_at": event.created_at.isoformat(), "data": event.payload},
                      ensure_ascii=False, sort_keys=True).encode("utf-8")


def post(client: IntegrationClient, event: OutboxEvent, body: bytes) -> None:
    headers = {"Content-Type": "application/json; charset=utf-8", signing.EVENT_HEADER: event.event_id,
               **signing.headers(client.secret, int(time.time()), body)}
    request = urllib.request.Request(client.callback_url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=current_app.config.get("INTEGRATION_TIMEOUT_SECONDS", 10)) as r:
            status = r.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except (urllib.error.URLError, OSError, ValueError):
        raise DeliveryFailed(f"无法连接平台回调地址 {client.callback_url}") from None
    if not 200 <= status < 300:
        raise DeliveryFailed(f"平台回调地址 {client.callback_url} 答复 HTTP {status}")


def run_delivery_job(job: TimerJob, now: datetime) -> None:
    """Deliver the job's event and, first, every earlier undelivered one of its case. Raises DeliveryFailed."""
    event = db.session.get(OutboxEvent, (job.payload or {}).get("event"))
    if event is None or event.delivered_at is not None:
        return
    client = db.session.get(IntegrationClient, event.client_id)
    if not client.enabled:
        raise DeliveryFailed("平台接入已停用，事件暂不推送")
    if not client.callback_url:
        raise DeliveryFailed("平台未设置回调地址")
    case_number = db.session.execute(sa.select(Case.number).where(Case.id == event.case_id)).scalar_one_or_none()
    ticket_no = db.session.execute(
        sa.select(IntegrationTicket.ticket_no).where(IntegrationTicket.case_id == event.case_id,
                                                     IntegrationTicket.client_id == client.id)
        .order_by(IntegrationTicket.id).limit(1)).scalar_one_or_none()
    pending = db.session.execute(
        sa.select(OutboxEvent).where(OutboxEvent.client_id == event.client_id, OutboxEvent.case_id == event.case_id,
                                     OutboxEvent.delivered_at.is_(None), OutboxEvent.seq <= event.seq)
        .order_by(OutboxEvent.seq)).scalars().all()
    for item in pending:
        try:
            post(client, item, body_of(item, case_number, ticket_no))
        except DeliveryFailed as exc:
            db.session.execute(sa.update(OutboxEvent).where(OutboxEvent.id == item.id).values(
                attempts=OutboxEvent.attempts + 1, last_error=str(exc)[:2000]))
            db.session.commit()
            raise
        db.session.execute(sa.update(OutboxEvent).where(OutboxEvent.id == item.id).values(
            delivered_at=utcnow(), attempts=OutboxEvent.attempts + 1, last_error=None))
        db.session.commit()
