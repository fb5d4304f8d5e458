"""Pause, resume and extend a task's clock; load a year's calendar. Each is one transaction with
an audit event, and the deadline jobs follow the new due date."""
from __future__ import annotations

import sqlalchemy as sa

from app.audit.models import AuditAction, AuditEvent
from app.auth.models import User
from app.calendar import Duration, DurationError, YearSchedule, parse_duration
from app.db import utcnow
from app.deadlines import due as due_dates
from app.deadlines.jobs import cancel_task_jobs, sla_jobs
from app.errors import AppError, Conflict, NotFound
from app.extensions import db
from app.tasks.models import HumanTask, TaskStatus


def _open_task(task_id: int) -> HumanTask:
    task = db.session.get(HumanTask, task_id)
    if task is None:
        raise NotFound("找不到该任务")
    if task.status != TaskStatus.READY:
        raise Conflict("任务已办理完毕或已取消", code="task_not_ready")
    if not task.deadline:
        raise Conflict("该任务没有办理时限", code="no_deadline")
    return task


def _reschedule(task: HumanTask, now) -> None:
    """Recompute due/warn from the recipe, and replace the task's pending deadline jobs."""
    from app.deadlines.models import TimerJob
    computed = due_dates.compute(task.deadline, due_dates.get_calendar())
    task.due_at, task.warn_at, task.due_provisional = computed.due_at, computed.warn_at, computed.provisional
    task.sla_state, task.escalation_step = None, None
    cancel_task_jobs([task.id])
    if task.paused_at is None and computed.due_at is not None:
        db.session.execute(sa.insert(TimerJob.__table__),
                           sla_jobs(task.id, task.instance_id, task.bpmn_id, computed.warn_at, computed.due_at, now))


def _audit(task: HumanTask, action: str, actor: User | None, now, data: dict) -> None:
    db.session.add(AuditEvent(at=now, actor_id=actor.id if actor else None, action=action, case_id=task.case_id,
                              instance_id=task.instance_id, human_task_id=task.id, bpmn_id=task.bpmn_id,
                              label=task.name, data=data))


def pause_clock(task_id: int, actor: User, reason: str, now=None) -> HumanTask:
    """Stop a task's clock (waiting for 补正, a hearing...). Raises Conflict if already paused. Commits."""
    now = now or utcnow()
    if not (reason or "").strip():
        raise AppError("请填写暂停原因", fields={"reason": ["必填"]})
    task = _open_task(task_id)
    if task.paused_at is not None:
        raise Conflict("计时已暂停", code="already_paused")
    task.paused_at = now
    task.deadline = {**task.deadline, "pauses": [*task.deadline.get("pauses", []), [now.isoformat(), None]]}
    cancel_task_jobs([task.id])
    _audit(task, AuditAction.PAUSE, actor, now, {"reason": reason.strip()})
    db.session.commit()
    return task


def resume_clock(task_id: int, actor: User, now=None) -> HumanTask:
    """Restart a paused clock: the time left at the pause counts on from now. Commits."""
    now = now or utcnow()
    task = _open_task(task_id)
    if task.paused_at is None:
        raise Conflict("计时未暂停", code="not_paused")
    pauses = [list(p) for p in task.deadline.get("pauses", [])]
    pauses[-1][1] = now.isoformat()
    task.deadline = {**task.deadline, "pauses": pauses}
    task.paused_at = None
    before = task.due_at
    _reschedule(task, now)
    _audit(task, AuditAction.RESUME, actor, now, {"due_before": before.isoformat() if before else None,
                                                  "due_after": task.due_at.isoformat()})
    db.session.commit()
    return task


def extend_deadline(task_id: int, approver: User, reason: str, duration: str, now=None) -> HumanTask:
    """延期: move the due date by `duration` (e.g. 5WD) from the current due date. Commits."""
    now = now or utcnow()
    fields = {}
    if not (reason or "").strip():
        fields["reason"] = ["请填写延期理由"]
    try:
        step: Duration = parse_duration(duration)
    except DurationError as exc:
        fields["duration"] = [str(exc)]
    if fields:
        raise AppError("延期申请有误", fields=fields)
    task = _open_task(task_id)
    before = task.due_at
    task.deadline = {**task.deadline, "steps": [*task.deadline["steps"], str(step)]}
    _reschedule(task, now)
    _audit(task, AuditAction.EXTEND, approver, now, {"reason": reason.strip(), "duration": str(step),
                                                     "due_before": before.isoformat() if before else None,
                                                     "due_after": task.due_at.isoformat()})
    db.session.commit()
    return task


def load_year(schedule: YearSchedule, actor: User | None = None, now=None) -> tuple[int, int]:
    """Write a year's official days, then recompute every open task whose due date was provisional.

    Returns (days written, due dates recomputed). Commits once.
    """
    from app.calendar.models import write_year_overrides
    now = now or utcnow()
    days = write_year_overrides(db.session, schedule)
    due_dates.forget_calendar()
    tasks = db.session.execute(sa.select(HumanTask).where(HumanTask.status == TaskStatus.READY,
                                                          HumanTask.due_provisional.is_(True))).scalars().all()
    for task in tasks:
        before = task.due_at
        _reschedule(task, now)
        _audit(task, AuditAction.RECALCULATE, actor, now,
               {"year": schedule.year, "due_before": before.isoformat() if before else None,
                "due_after": task.due_at.isoformat() if task.due_at else None,
                "provisional": task.due_provisional})
    db.session.commit()
    due_dates.forget_calendar()
    return days, len(tasks)
