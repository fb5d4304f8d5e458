"""Append-only history of who did what to which case and task; never updated or deleted."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import JSONType, UTCDateTime, utcnow
from app.extensions import db


class AuditAction:
    START = "start"
    CLAIM = "claim"
    UNCLAIM = "unclaim"
    DELEGATE = "delegate"
    COMPLETE = "complete"
    TIMER = "timer"
    MESSAGE = "message"
    ERROR = "error"
    DEPLOY = "deploy"
    ESCALATE = "escalate"   # a rung of the deadline ladder
    PAUSE = "pause"
    RESUME = "resume"
    EXTEND = "extend"
    RECALCULATE = "recalculate"   # due dates recomputed after a calendar change
    REMIND = "remind"             # 催办 by a supervisor
    SUPERVISE = "supervise"       # 督办 with a deadline (data: note, deadline)
    REASSIGN = "reassign"         # a supervisor handed the task to another member of its groups
    REFUSE_EXTENSION = "refuse_extension"   # an extension request refused (approval is EXTEND)
    RETRY = "retry"               # a failed job or a script error retried
    VIEW_IDENTITY = "view_identity"   # an allowed user saw a confidential reporter's identity (信访工作条例 §30)
    MIGRATE = "migrate"           # a running instance moved to a newer version of its process
    CANCEL = "cancel"             # an instance cancelled (撤销) by a supervisor (data: reason, cancelled_tasks)
    LOCK = "lock"                 # an account locked after repeated failed logins (data: username, failures, until)
    UNLOCK = "unlock"             # a lock lifted by an administrator (data: username, reason, was_locked)


class AuditEvent(db.Model):
    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_instance_id_id", "instance_id", "id"),)

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))  # None = the system
    action: Mapped[str] = mapped_column(sa.String(30))
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case.id"), index=True)
    instance_id: Mapped[int | None] = mapped_column(sa.ForeignKey("process_instance.id"))
    human_task_id: Mapped[int | None] = mapped_column(sa.ForeignKey("human_task.id"))
    bpmn_id: Mapped[str | None] = mapped_column(sa.String(100))
    label: Mapped[str | None] = mapped_column(sa.String(255))   # task / element name at the time
    data: Mapped[dict | None] = mapped_column(JSONType)          # the data change
