"""The exchange tables: registered platforms, the tickets they sent (one case each), the signatures
seen (replay), the outbox of events they must hear about, and 移送单 (transfers, DOMAIN §2.7)."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import JSONType, UTCDateTime, utcnow
from app.extensions import db

# the platforms that may register, and their titles (the URL names the platform: /integration/<name>/…)
PLATFORMS = {
    "hotline_12345": "12345政务服务便民热线",
    "sme_platform": "中小微企业诉求快速响应平台（粤商通）",
    "jw_case": "纪委监委案件管理系统",
}


class IntegrationClient(db.Model):
    """A registered platform: its shared secret signs both directions (HMAC-SHA256)."""

    __tablename__ = "integration_client"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(40), unique=True)   # one of PLATFORMS
    secret: Mapped[str] = mapped_column(sa.String(128))
    callback_url: Mapped[str | None] = mapped_column(sa.String(500))
    enabled: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class IntegrationTicket(db.Model):
    """A ticket a platform sent, by its own number (the idempotency key): the case it started or
    reached. The unique (client, ticket_no) makes a second start of the same ticket fail."""

    __tablename__ = "integration_ticket"
    __table_args__ = (sa.UniqueConstraint("client_id", "ticket_no", name="uq_integration_ticket_client_ticket"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("integration_client.id"))
    ticket_no: Mapped[str] = mapped_column(sa.String(60))
    kind: Mapped[str] = mapped_column(sa.String(20))                    # ticket | transfer
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case.id"), index=True)
    started: Mapped[bool] = mapped_column(sa.Boolean, default=True)    # False: it reached an existing case
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IntegrationNonce(db.Model):
    """A signature already accepted: the same signed request again is a replay. Rows older than the
    signature window are purged (a request that old is refused as stale anyway)."""

    __tablename__ = "integration_nonce"
    __table_args__ = (sa.UniqueConstraint("client_id", "signature", name="uq_integration_nonce_client_signature"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("integration_client.id"))
    signature: Mapped[str] = mapped_column(sa.String(64))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class OutboxEvent(db.Model):
    """An event a platform must hear about, written in the transaction of the step that caused it and
    delivered after commit by the dispatcher (job kind integration_delivery). `seq` numbers a case's
    events for one client: event n+1 is never delivered before event n."""

    __tablename__ = "integration_outbox"
    __table_args__ = (sa.Index("ix_integration_outbox_client_case_seq", "client_id", "case_id", "seq"),
                      sa.Index("ix_integration_outbox_delivered_at", "delivered_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(sa.String(36), unique=True)   # the receiver deduplicates by it
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("integration_client.id"))
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case.id"))
    seq: Mapped[int] = mapped_column(sa.Integer)
    type: Mapped[str] = mapped_column(sa.String(40))
    payload: Mapped[dict] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)


class TransferDirection:
    TO_JW = "to_jw"       # a complaint's 涉纪 clue referred to the 纪委监委
    FROM_JW = "from_jw"   # 纪委监委 → 12345 / 职能部门: a report that is a service or business demand
    INBOUND = "inbound"   # another platform's 移送单 into this system


class Transfer(db.Model):
    """One 移送单 (DOMAIN §2.7): sender, receiver, reason, the original ticket, a receipt due within
    1 working day and a feedback due date, both on the business calendar, and the feedback."""

    __tablename__ = "integration_transfer"

    id: Mapped[int] = mapped_column(primary_key=True)
    transfer_no: Mapped[str] = mapped_column(sa.String(60), unique=True)
    direction: Mapped[str] = mapped_column(sa.String(20))
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case.id"), index=True)
    client_id: Mapped[int | None] = mapped_column(sa.ForeignKey("integration_client.id"))
    from_org: Mapped[str] = mapped_column(sa.String(100))
    to_org: Mapped[str] = mapped_column(sa.String(100))
    reason: Mapped[str] = mapped_column(sa.Text)
    original_ticket_no: Mapped[str | None] = mapped_column(sa.String(60))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ack_due: Mapped[datetime] = mapped_column(UTCDateTime)
    ack_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feedback_due: Mapped[datetime] = mapped_column(UTCDateTime)
    feedback: Mapped[str | None] = mapped_column(sa.Text)
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
