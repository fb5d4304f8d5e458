"""In-app notifications (one row per user) and the e-mail outbox, written in the caller's transaction."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UTCDateTime, utcnow
from app.extensions import db


class NotificationKind:
    REMIND = "remind"          # 催办
    NOTICE = "notice"          # 催办通知书
    SUPERVISE = "supervise"    # 督办
    CRITICISE = "criticise"    # 通报
    WARN = "warn"              # 预警
    OVERDUE = "overdue"        # 超期
    ASSIGNED = "assigned"      # a task was assigned / delegated to you
    INFO = "info"

    ALL = frozenset({REMIND, NOTICE, SUPERVISE, CRITICISE, WARN, OVERDUE, ASSIGNED, INFO})
    TITLES = {REMIND: "催办", NOTICE: "催办通知书", SUPERVISE: "督办", CRITICISE: "通报", WARN: "预警",
              OVERDUE: "超期", ASSIGNED: "任务分派", INFO: "通知"}


class EmailStatus:
    PENDING = "pending"
    SENDING = "sending"   # claimed by one sender (claim_token, claimed_at); stale after 10 minutes
    SENT = "sent"
    FAILED = "failed"     # gave up after MAIL_MAX_ATTEMPTS, or the server refused the recipient for good


class Notification(db.Model):
    __tablename__ = "notification"
    __table_args__ = (sa.Index("ix_notification_user_id_read_at", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(30))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case.id"))
    human_task_id: Mapped[int | None] = mapped_column(sa.ForeignKey("human_task.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class EmailMessage(db.Model):
    """One e-mail in the outbox. Rows appear in the business transaction; a sender delivers them after
    the commit (send_pending_emails), so a rolled-back action never mails anybody."""

    __tablename__ = "email_outbox"
    __table_args__ = (sa.Index("ix_email_outbox_status_created_at", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    to_addr: Mapped[str] = mapped_column(sa.String(255))
    subject: Mapped[str] = mapped_column(sa.String(255))
    body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(20), default=EmailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claim_token: Mapped[str | None] = mapped_column(sa.String(32))   # which sender run holds it
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
