"""What must happen at a time: BPMN timer wake-ups now; SLA and escalation jobs later."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import JSONType, UTCDateTime, utcnow
from app.extensions import db


class JobKind:
    BPMN_TIMER = "bpmn_timer"


class JobStatus:
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class TimerJob(db.Model):
    __tablename__ = "timer_job"
    __table_args__ = (sa.Index("ix_timer_job_status_due_at", "status", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(30))
    instance_id: Mapped[int | None] = mapped_column(sa.ForeignKey("process_instance.id"), index=True)
    human_task_id: Mapped[int | None] = mapped_column(sa.ForeignKey("human_task.id"))
    spiff_task_id: Mapped[str | None] = mapped_column(sa.String(36))
    bpmn_id: Mapped[str | None] = mapped_column(sa.String(100))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(sa.String(20), default=JobStatus.PENDING)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    locked_by: Mapped[str | None] = mapped_column(sa.String(100))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payload: Mapped[dict | None] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
