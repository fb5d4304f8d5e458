"""The escalation ladder of DOMAIN §1.4/§2.5: yellow 催办 → red 超期 → 催办通知书 → 督办 → 通报.

Each rung is a timer_job; running one notifies, records an audit event, moves the task's SLA
state and schedules the next rung, all in one transaction. Running a rung twice changes nothing.
"""
from __future__ import annotations

from datetime import datetime, time

from app.audit.models import AuditAction, AuditEvent
from app.auth.models import ROLE_SUPERVISOR
from app.calendar import SHANGHAI, SlaState
from app.deadlines.due import get_calendar
from app.deadlines.models import JobKind, JobStatus, TimerJob
from app.extensions import db
from app.labels import case_number
from app.notifications.models import NotificationKind
from app.notifications.services import notify, users_in_groups
from app.supervision.access import task_units
from app.tasks.models import HumanTask, TaskStatus

OFFICE_OPENS = time(9, 0)
CRITICISE_AFTER = "5WD"   # 通报 when still open 5 working days after the 催办通知书 (DOMAIN §2.5)

# job kind -> (rung name, order, SLA colour, notification kind, Chinese title)
RUNGS = {
    JobKind.SLA_WARN: ("remind", 1, SlaState.YELLOW, NotificationKind.REMIND, "催办：任务即将到期"),
    JobKind.OVERDUE: ("overdue", 2, SlaState.RED, NotificationKind.OVERDUE, "超期：任务已超过办理时限"),
    JobKind.NOTICE: ("notice", 3, SlaState.RED, NotificationKind.NOTICE, "催办通知书"),
    JobKind.SUPERVISE: ("supervise", 4, SlaState.RED, NotificationKind.SUPERVISE, "督办"),
    JobKind.CRITICISE: ("criticise", 5, SlaState.RED, NotificationKind.CRITICISE, "通报：超期未办结"),
}
ORDER = {name: order for name, order, *_ in RUNGS.values()}


def _next_office_morning(day_after: datetime) -> datetime:
    """09:00 local on the first working day after the local date of `day_after`."""
    calendar = get_calendar()
    day, _ = calendar.next_working_day(calendar.local_date(day_after))
    return datetime.combine(day, OFFICE_OPENS, tzinfo=SHANGHAI)


def _handlers(task: HumanTask) -> list[int]:
    return [task.assignee_id] if task.assignee_id else users_in_groups(task.candidate_groups)


def _supervisors(task: HumanTask) -> list[int]:
    """Whom 催办通知书/督办/通报 are copied to: the supervisors of the task's unit (a candidate group of
    kind unit, the unit of a `<unit>_head` group, or the case's unit); every supervisor when the task
    belongs to no unit (the hotline's own steps)."""
    supervisors = users_in_groups([ROLE_SUPERVISOR])
    units = task_units(task)
    if not units:
        return supervisors
    in_units = set(users_in_groups(units))
    return [user_id for user_id in supervisors if user_id in in_units]


def run_deadline_job(job_id: int, now: datetime) -> None:
    """Climb one rung for the job's task, if the task is still open and not past this rung. Commits."""
    job = db.session.get(TimerJob, job_id)
    task = db.session.get(HumanTask, job.human_task_id) if job.human_task_id else None
    rung, order, colour, kind, title = RUNGS[job.kind]
    if task is None or task.status != TaskStatus.READY or task.paused_at is not None \
            or ORDER.get(task.escalation_step or "", 0) >= order:
        db.session.rollback()
        return
    handlers = _handlers(task)
    supervisors = _supervisors(task) if order >= 3 else []
    due_text = task.due_at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if task.due_at else "—"
    body = f"任务“{task.name}”（案件 {case_number(task.case_id)}）办理时限 {due_text}。"
    notify(handlers, kind, title, body, case_id=task.case_id, human_task_id=task.id, now=now)
    if supervisors:
        notify(supervisors, kind, f"{title}（抄送）", body, case_id=task.case_id, human_task_id=task.id, now=now)
    task.sla_state = str(colour)
    task.escalation_step = rung
    db.session.add(AuditEvent(at=now, action=AuditAction.ESCALATE, case_id=task.case_id,
                              instance_id=task.instance_id, human_task_id=task.id, bpmn_id=task.bpmn_id,
                              label=title, data={"rung": rung, "due_at": task.due_at.isoformat() if task.due_at
                                                 else None, "notified": sorted(set(handlers + supervisors))}))
    for next_kind, at in _next_rungs(job.kind, task, now):
        db.session.add(TimerJob(kind=next_kind, instance_id=task.instance_id, human_task_id=task.id,
                                bpmn_id=task.bpmn_id, due_at=at, status=JobStatus.PENDING, created_at=now))
    job.status, job.locked_by, job.locked_until = JobStatus.DONE, None, None   # closed with its work: one commit
    db.session.commit()


def _next_rungs(kind: str, task: HumanTask, now: datetime) -> list[tuple[str, datetime]]:
    if kind == JobKind.OVERDUE:
        return [(JobKind.NOTICE, _next_office_morning(task.due_at or now))]
    if kind == JobKind.NOTICE:
        return [(JobKind.SUPERVISE, _next_office_morning(now)),
                (JobKind.CRITICISE, get_calendar().add(now, CRITICISE_AFTER).due)]
    return []
