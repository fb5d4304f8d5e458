"""Cancel (撤销) a process instance with a reason: an administrator, or a supervisor of its units.

One transaction: the instance becomes `cancelled` (the rev check of every action), its open tasks
are cancelled with their deadline jobs, its BPMN timers and open incidents are settled, its case is
marked cancelled, and an audit event records who cancelled it and why. The stored workflow state is
left as it was: a cancelled instance is never stepped again (lock_instance refuses it).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app import engine
from app.audit.models import AuditAction, AuditEvent
from app.auth.models import User
from app.cases.models import Case, CaseStatus
from app.db import set_committed, utcnow
from app.deadlines.jobs import cancel_task_jobs
from app.deadlines.models import Incident, JobKind, JobStatus, TimerJob
from app.errors import Conflict, Forbidden, FormInvalid
from app.extensions import db
from app.processes.models import InstanceStatus, ProcessDefinition, ProcessInstance
from app.processes.running import lock_instance
from app.supervision.access import can_supervise_instance, supervision_scope
from app.tasks.models import HumanTask, TaskStatus

REASON_MAX = 500
# what lock_instance lets an action take: an ended (completed, cancelled) or suspended instance is not
CANCELLABLE = (InstanceStatus.RUNNING, InstanceStatus.ERROR)

_pi, _ht, _case = ProcessInstance.__table__, HumanTask.__table__, Case.__table__


def check_reason(reason) -> str:
    """The reason, stripped. Raises FormInvalid (422) with a message at the field `reason`."""
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise FormInvalid("请填写撤销理由", fields={"reason": ["必填：请说明撤销该流程实例的理由"]})
    if len(text) > REASON_MAX:
        raise FormInvalid("撤销理由过长", fields={"reason": [f"不超过 {REASON_MAX} 字（当前 {len(text)} 字）"]})
    return text


@dataclass
class Cancelled:
    instance: ProcessInstance
    cancelled_tasks: list[str]   # the names of the open steps it had


def cancel_instance(instance_id: int, user: User, reason, *, now: datetime | None = None) -> Cancelled:
    """Cancel a running (or stopped) instance. Returns it, cancelled, with its open steps' names. Commits.

    Raises Forbidden (not an administrator or a supervisor of its units), FormInvalid (no reason),
    NotFound, Conflict (already ended, suspended, or changed meanwhile).
    """
    scope = supervision_scope(user)
    text = check_reason(reason)
    now = now or utcnow()
    instance = lock_instance(instance_id)
    if not can_supervise_instance(scope, instance.id, instance.case_id):
        db.session.rollback()
        raise Forbidden("您无权撤销该流程实例（不在您督办的单位范围内）")
    conn = db.session.connection()
    values = {"status": InstanceStatus.CANCELLED, "ended_at": now, "rev": instance.rev + 1}
    if conn.execute(sa.update(_pi).where(_pi.c.id == instance.id, _pi.c.rev == instance.rev)
                    .values(**values)).rowcount != 1:
        db.session.rollback()
        raise Conflict("该流程实例刚被他人处理过，请刷新后重试")
    set_committed(instance, **values)
    cancelled = conn.execute(
        sa.update(_ht).where(_ht.c.instance_id == instance.id, _ht.c.status == TaskStatus.READY)
        .values(status=TaskStatus.CANCELLED, completed_at=now).returning(_ht.c.id, _ht.c.name)).all()
    cancel_task_jobs([task_id for task_id, _ in cancelled])
    db.session.execute(sa.update(TimerJob).where(
        TimerJob.instance_id == instance.id, TimerJob.kind == JobKind.BPMN_TIMER,
        TimerJob.status == JobStatus.PENDING).values(status=JobStatus.CANCELLED))
    db.session.execute(sa.update(Incident).where(Incident.instance_id == instance.id, Incident.resolved_at.is_(None))
                       .values(resolved_at=now, resolved_by_id=user.id))
    if instance.case_id is not None:
        conn.execute(sa.update(_case).where(_case.c.id == instance.case_id).values(status=CaseStatus.CANCELLED))
    name = db.session.execute(sa.select(ProcessDefinition.name)
                              .where(ProcessDefinition.id == instance.definition_id)).scalar_one()
    db.session.add(AuditEvent(at=now, actor_id=user.id, action=AuditAction.CANCEL, case_id=instance.case_id,
                              instance_id=instance.id, label=name,
                              data={"reason": text, "cancelled_tasks": [n for _, n in cancelled]}))
    db.session.commit()
    engine.forget(instance.id)
    return Cancelled(instance, [n for _, n in cancelled])
