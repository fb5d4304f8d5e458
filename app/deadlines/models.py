"""What must happen at a time: BPMN timer wake-ups now; SLA and escalation jobs later."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import JSONType, UTCDateTime, utcnow
from app.extensions import db


class JobKind:
    BPMN_TIMER = "bpmn_timer"   # wake an instance whose BPMN timer is due
    SLA_WARN = "sla_warn"       # yellow: 催办 the handler
    OVERDUE = "overdue"         # red: tell the handler, schedule the ladder
    NOTICE = "notice"           # 催办通知书, copied to the unit's deputy head
    SUPERVISE = "supervise"     # 督办 to the supervisor
    CRITICISE = "criticise"     # 通报 when still open 5 WD after the notice
    START_PROCESS = "start_process"   # start a timer-started process (bpmn_id = its key) for a period
    INTEGRATION_DELIVERY = "integration_delivery"   # POST an outbox event to a platform (payload: {"event": id})


class JobStatus:
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"       # out of attempts: an incident says why
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


class Incident(db.Model):
    """A job that failed its last attempt (or a script error): what supervisors must look at."""

    __tablename__ = "incident"
    __table_args__ = (sa.Index("ix_incident_resolved_at_created_at", "resolved_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(30))
    job_id: Mapped[int | None] = mapped_column(sa.ForeignKey("timer_job.id"))
    instance_id: Mapped[int | None] = mapped_column(sa.ForeignKey("process_instance.id"), index=True)
    human_task_id: Mapped[int | None] = mapped_column(sa.ForeignKey("human_task.id"))
    message: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
