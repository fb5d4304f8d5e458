"""The supervisor's actions on a task or an incident: 催办, 督办, reassign, approve or refuse an
extension, retry a failed job, retry a script error.

Each action: authorize (the task is in the supervisor's units) → require a note → act → one audit
event → a notification to the assignee (or the task's candidate groups) → one commit. The engine is
reached only through the tasks, deadlines and processes services.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from app import engine
from app.audit.models import AuditAction, AuditEvent
from app.auth.models import ROLE_ADMIN, User
from app.auth.services import get_user_by_username
from app.calendar import SHANGHAI
from app.db import set_committed, utcnow
from app.deadlines import due as due_dates
from app.deadlines.models import Incident, JobStatus, TimerJob
from app.deadlines.services import extend_deadline
from app.errors import Conflict, Forbidden, FormInvalid, NotFound, ProcessDefinitionError
from app.extensions import db
from app.labels import case_number
from app.notifications.models import NotificationKind
from app.notifications.services import notify, users_in_groups
from app.numbers import whole_number
from app.processes.models import InstanceStatus, ProcessInstance
from app.processes.running import fire_instance_timers
from app.supervision.access import Scope, can_supervise_case, can_supervise_task, supervision_scope
from app.supervision.queries import YEAR_RANGE_MESSAGE, in_year_range, local_text
from app.tasks import services as tasks
from app.tasks.models import HumanTask, TaskStatus

NOTE_MAX_LENGTH = 2000
MAX_EXTENSION_DAYS = 60
DECISIONS = ("approve", "refuse")


@dataclass
class ActionResult:
    """What an action did, for the page and the API."""

    action: str
    at: datetime
    note: str
    task_id: int | None = None
    instance_id: int | None = None
    incident_id: int | None = None
    notified: list[int] = field(default_factory=list)
    data: dict = field(default_factory=dict)


# --- helpers (flush, never commit) ----------------------------------------------------------------

def require_note(note: str | None) -> str:
    """The action's note, stripped. Raises FormInvalid (422) when it is missing or too long."""
    text = (note or "").strip()
    if not text:
        raise FormInvalid("请填写督办说明（备注），说明为必填项", fields={"note": ["必填"]})
    if len(text) > NOTE_MAX_LENGTH:
        too_long = f"不能超过 {NOTE_MAX_LENGTH} 字（当前 {len(text)} 字）"
        raise FormInvalid(f"说明{too_long}", fields={"note": [too_long]})
    return text


def _supervised_task(task_id: int, scope: Scope) -> HumanTask:
    task = db.session.get(HumanTask, task_id)
    if task is None:
        raise NotFound("找不到该任务")
    if not can_supervise_task(scope, task):
        raise Forbidden("该任务不属于您督办的单位")
    if task.status != TaskStatus.READY:
        raise Conflict("任务已办理完毕或已取消，无需督办" if task.status == TaskStatus.COMPLETED else "任务已取消",
                       code="task_not_ready")
    return task


def _handlers(task: HumanTask) -> list[int]:
    """Who works on the task: its assignee, else the members of its candidate groups."""
    return [task.assignee_id] if task.assignee_id else users_in_groups(task.candidate_groups or [])


def _audit(action: str, actor: User, now: datetime, data: dict, task: HumanTask | None = None, *,
           instance_id: int | None = None, case_id: int | None = None, label: str | None = None) -> AuditEvent:
    event = AuditEvent(at=now, actor_id=actor.id, action=action, data=data,
                       case_id=task.case_id if task else case_id,
                       instance_id=task.instance_id if task else instance_id,
                       human_task_id=task.id if task else None, bpmn_id=task.bpmn_id if task else None,
                       label=label or (task.name if task else None))
    db.session.add(event)
    return event


def _notify(user_ids: list[int], kind: str, title: str, body: str, now: datetime, task: HumanTask | None = None,
            case_id: int | None = None, *, actor: User | None = None) -> list[int]:
    """Notify these users, except the one acting (a supervisor who is also a member of the unit)."""
    recipients = [u for u in user_ids if actor is None or u != actor.id]
    rows = notify(recipients, kind, title, body, case_id=task.case_id if task else case_id,
                  human_task_id=task.id if task else None, now=now)
    return sorted({n.user_id for n in rows})


def _commit_or_rollback(fn):
    """Run a unit of work; roll back the session on any error so nothing half-done is left behind."""
    try:
        return fn()
    except Exception:
        db.session.rollback()
        raise


# --- actions on a task --------------------------------------------------------------------------

def remind_task(task_id: int, user: User, note: str | None, *, now: datetime | None = None) -> ActionResult:
    """催办: remind whoever works on the task. Raises Forbidden, NotFound, Conflict, FormInvalid. Commits."""
    scope = supervision_scope(user)
    task = _supervised_task(task_id, scope)
    text = require_note(note)
    now = now or utcnow()

    def work():
        _audit(AuditAction.REMIND, user, now, {"note": text}, task)
        body = (f"{user.display_name} 催办任务“{task.name}”（案件 {case_number(task.case_id)}，"
                f"办理时限 {local_text(task.due_at, '—')}）：{text}")
        notified = _notify(_handlers(task), NotificationKind.REMIND, f"催办：{task.name}", body, now, task, actor=user)
        db.session.commit()
        return ActionResult(AuditAction.REMIND, now, text, task_id=task.id, instance_id=task.instance_id,
                            notified=notified)
    return _commit_or_rollback(work)


def parse_deadline(value) -> datetime:
    """A 督办 deadline: an aware datetime, or ISO text (without an offset it is Asia/Shanghai time)."""
    if isinstance(value, datetime):
        parsed = value
    else:
        try:
            parsed = datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise FormInvalid("督办期限格式有误", fields={"deadline": ["应为 ISO 日期时间，如 2026-11-30T17:00"]}) \
                from None
    if not in_year_range(parsed):   # also keeps the conversions to Beijing time and UTC in range
        raise FormInvalid("督办期限超出范围", fields={"deadline": [YEAR_RANGE_MESSAGE]})
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=SHANGHAI)
    return parsed


def supervise_task(task_id: int, user: User, note: str | None, deadline, *,
                   now: datetime | None = None) -> ActionResult:
    """督办 with a deadline to get it done: the deadline is kept in the audit event (the lists show the
    latest one) and sent to whoever works on the task. Raises Forbidden, NotFound, Conflict, FormInvalid.
    Commits."""
    scope = supervision_scope(user)
    task = _supervised_task(task_id, scope)
    text = require_note(note)
    now = now or utcnow()
    if deadline in (None, ""):
        raise FormInvalid("请填写督办期限", fields={"deadline": ["必填"]})
    when = parse_deadline(deadline)
    if when <= now:
        raise FormInvalid("督办期限必须晚于当前时间", fields={"deadline": ["必须晚于当前时间"]})

    def work():
        _audit(AuditAction.SUPERVISE, user, now, {"note": text, "deadline": when.astimezone(SHANGHAI).isoformat()},
               task)
        body = (f"{user.display_name} 督办任务“{task.name}”（案件 {case_number(task.case_id)}），"
                f"请于 {local_text(when, '—')} 前办结：{text}")
        notified = _notify(_handlers(task), NotificationKind.SUPERVISE, f"督办：{task.name}", body, now, task, actor=user)
        db.session.commit()
        return ActionResult(AuditAction.SUPERVISE, now, text, task_id=task.id, instance_id=task.instance_id,
                            notified=notified, data={"deadline": when})
    return _commit_or_rollback(work)


def reassign_task(task_id: int, user: User, username: str | None, note: str | None, *,
                  now: datetime | None = None) -> ActionResult:
    """Hand the task to another member of one of its candidate groups (whoever holds it now).

    Raises Forbidden, NotFound, Conflict, FormInvalid (422: unknown user, or not in the task's groups).
    Commits.
    """
    scope = supervision_scope(user)
    task = _supervised_task(task_id, scope)
    text = require_note(note)
    now = now or utcnow()
    target = get_user_by_username((username or "").strip()) if (username or "").strip() else None
    if target is None or not target.is_active_user:
        raise FormInvalid("找不到该用户或该用户已停用", fields={"username": ["用户不存在或已停用"]})
    if not target.group_names & set(task.candidate_groups or ()):
        raise FormInvalid("该用户不在任务的候选用户组中，不能改派给他", fields={"username": ["不在候选用户组中"]})
    if task.assignee_id == target.id:
        raise FormInvalid("任务已由该用户办理", fields={"username": ["已是当前办理人"]})
    previous_id = task.assignee_id

    def work():
        result = db.session.execute(
            sa.update(HumanTask).where(HumanTask.id == task.id, HumanTask.status == TaskStatus.READY,
                                       HumanTask.assignee_id.is_(None) if previous_id is None
                                       else HumanTask.assignee_id == previous_id)
            .values(assignee_id=target.id, claimed_at=now).execution_options(synchronize_session=False))
        if result.rowcount != 1:
            raise Conflict("任务状态已变化，请刷新后重试")
        previous = db.session.get(User, previous_id) if previous_id else None
        _audit(AuditAction.REASSIGN, user, now, {"note": text, "from": previous.username if previous else None,
                                                 "to": target.username}, task)
        case_text = case_number(task.case_id)
        notified = _notify([target.id], NotificationKind.ASSIGNED, f"任务改派：{task.name}",
                           f"{user.display_name} 将任务“{task.name}”（案件 {case_text}）改派给您：{text}", now, task, actor=user)
        if previous is not None:
            notified += _notify([previous.id], NotificationKind.INFO, f"任务已改派：{task.name}",
                                f"{user.display_name} 将任务“{task.name}”（案件 {case_text}）改派给 "
                                f"{target.display_name}：{text}", now, task, actor=user)
        db.session.commit()
        set_committed(task, assignee_id=target.id, claimed_at=now)
        return ActionResult(AuditAction.REASSIGN, now, text, task_id=task.id, instance_id=task.instance_id,
                            notified=sorted(set(notified)),
                            data={"from": previous.username if previous else None, "to": target.username})
    return _commit_or_rollback(work)


def decide_extension(task_id: int, user: User, decision: str | None, note: str | None, days: int | None = None,
                     *, now: datetime | None = None) -> ActionResult:
    """Approve an extension (延期: the due date moves by `days` working days, through
    deadlines.services.extend_deadline, which writes the EXTEND audit event) or refuse it (a
    REFUSE_EXTENSION audit event). Either way whoever works on the task is told.

    Raises Forbidden, NotFound, Conflict (no deadline, not open), FormInvalid. Commits.
    """
    scope = supervision_scope(user)
    task = _supervised_task(task_id, scope)
    if decision not in DECISIONS:
        raise FormInvalid("请选择批准或不批准延期", fields={"decision": ["取值只能是 approve 或 refuse"]})
    text = require_note(note)
    now = now or utcnow()
    case_text = case_number(task.case_id)
    if decision == "refuse":
        def refuse():
            _audit(AuditAction.REFUSE_EXTENSION, user, now, {"note": text, "days": days}, task)
            notified = _notify(_handlers(task), NotificationKind.INFO, f"延期申请未获批准：{task.name}",
                               f"{user.display_name} 未批准任务“{task.name}”（案件 {case_text}）的延期申请，"
                               f"请在原办理时限 {local_text(task.due_at, '—')} 前办结：{text}", now, task, actor=user)
            db.session.commit()
            return ActionResult(AuditAction.REFUSE_EXTENSION, now, text, task_id=task.id,
                                instance_id=task.instance_id, notified=notified, data={"days": days})
        return _commit_or_rollback(refuse)

    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_EXTENSION_DAYS:
        raise FormInvalid("请填写延期天数", fields={"days": [f"1 至 {MAX_EXTENSION_DAYS} 个工作日"]})
    if not task.deadline:
        raise Conflict("该任务没有办理时限，无法延期", code="no_deadline")
    duration = f"{days}WD"
    # the same replay extend_deadline does, so the notice can name the new due date
    new_due = due_dates.compute({**task.deadline, "steps": [*task.deadline["steps"], duration]},
                                due_dates.get_calendar()).due_at

    def approve():
        notified = _notify(_handlers(task), NotificationKind.INFO, f"延期已批准：{task.name}",
                           f"{user.display_name} 批准任务“{task.name}”（案件 {case_text}）延期 {days} 个工作日，"
                           f"办理时限由 {local_text(task.due_at, '—')} 延至 {local_text(new_due, '—')}：{text}",
                           now, task, actor=user)
        before = task.due_at
        extended = extend_deadline(task.id, user, text, duration, now=now)   # writes EXTEND and commits
        return ActionResult(AuditAction.EXTEND, now, text, task_id=task.id, instance_id=task.instance_id,
                            notified=notified, data={"days": days, "due_before": before,
                                                     "due_after": extended.due_at})
    return _commit_or_rollback(approve)


def decide_extension_form(task_id: int, user: User, decision: str | None, note: str | None,
                          days_text: str | None, *, now: datetime | None = None) -> ActionResult:
    """decide_extension with the days as typed in a form. An approval without a whole number of days
    is refused at the field before anything else (with a missing note beside it, so both are
    reported at once). The days approved are in the result's data. Raises as decide_extension."""
    days = None
    if decision == "approve":
        days = whole_number(days_text)
        if days is None:
            fields = {"days": [f"请填写 1 至 {MAX_EXTENSION_DAYS} 的整数（工作日）"]}
            if not (note or "").strip():
                fields["note"] = ["必填"]
            raise FormInvalid("请填写延期天数" + ("和说明" if "note" in fields else ""), fields=fields)
    return decide_extension(task_id, user, decision, note, days, now=now)


# --- incidents and script errors ---------------------------------------------------------------------

def _instance_people(instance: ProcessInstance | None) -> list[int]:
    """Who hears about an instance-level retry: whoever started it, and the administrators."""
    starter = [instance.started_by_id] if instance is not None and instance.started_by_id else []
    return starter + users_in_groups([ROLE_ADMIN])


def retry_incident(incident_id: int, user: User, note: str | None, *, now: datetime | None = None) -> ActionResult:
    """Put an incident's failed job back in the queue (pending, attempts reset, due now) and mark the
    incident resolved; the dispatcher runs it on its next tick. Raises Forbidden, NotFound, Conflict,
    FormInvalid. Commits."""
    scope = supervision_scope(user)
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        raise NotFound("找不到该异常")
    task = db.session.get(HumanTask, incident.human_task_id) if incident.human_task_id else None
    instance = db.session.get(ProcessInstance, incident.instance_id) if incident.instance_id else None
    if task is not None:
        allowed = can_supervise_task(scope, task)
    elif instance is not None:
        allowed = can_supervise_case(scope, instance.case_id)
    else:
        allowed = scope.is_all
    if not allowed:
        raise Forbidden("该异常不属于您督办的单位")
    text = require_note(note)
    if incident.resolved_at is not None:
        raise Conflict("该异常已处理", code="already_resolved")
    job = db.session.get(TimerJob, incident.job_id) if incident.job_id else None
    if job is None:
        raise Conflict("该异常没有可重试的作业", code="not_retryable")
    if job.status not in (JobStatus.FAILED, JobStatus.PENDING):
        raise Conflict("该作业已完成或已取消，无需重试", code="not_retryable")
    now = now or utcnow()

    def work():
        changed = db.session.execute(
            sa.update(TimerJob).where(TimerJob.id == job.id, TimerJob.status.in_([JobStatus.FAILED, JobStatus.PENDING]))
            .values(status=JobStatus.PENDING, attempts=0, due_at=now, locked_by=None, locked_until=None)
            .execution_options(synchronize_session=False)).rowcount
        resolved = db.session.execute(
            sa.update(Incident).where(Incident.id == incident.id, Incident.resolved_at.is_(None))
            .values(resolved_at=now, resolved_by_id=user.id).execution_options(synchronize_session=False)).rowcount
        if changed != 1 or resolved != 1:
            raise Conflict("异常状态已变化，请刷新后重试")
        case_id = task.case_id if task else (instance.case_id if instance else None)
        _audit(AuditAction.RETRY, user, now, {"note": text, "incident_id": incident.id, "job_id": job.id,
                                              "kind": job.kind, "error": incident.message[:500]}, task,
               instance_id=incident.instance_id, case_id=case_id, label="重试失败作业")
        recipients = _handlers(task) if task is not None else _instance_people(instance)
        notified = _notify(recipients, NotificationKind.INFO, "失败作业已重新执行",
                           f"{user.display_name} 重新执行了失败的作业（{job.kind}，第 {job.attempts} 次失败："
                           f"{incident.message[:200]}）：{text}", now, task, case_id, actor=user)
        db.session.commit()
        set_committed(incident, resolved_at=now, resolved_by_id=user.id)
        return ActionResult(AuditAction.RETRY, now, text, task_id=task.id if task else None,
                            instance_id=incident.instance_id, incident_id=incident.id, notified=notified,
                            data={"job_id": job.id, "kind": job.kind})
    return _commit_or_rollback(work)


def retry_script_error(instance_id: int, user: User, note: str | None, *,
                       now: datetime | None = None) -> ActionResult:
    """Run again the action whose script failed and left the instance in `error`.

    app.processes has no retry, so this replays the failed action with the existing services:
    a task completion is submitted again with the saved draft, as the person who submitted it
    (tasks.complete_task); a timer is fired again (fire_instance_timers). A message is not
    replayable (its payload is not kept): Conflict. If the script fails again, the instance stays in
    `error` and ProcessDefinitionError says why. Raises Forbidden, NotFound, Conflict, FormInvalid.
    Commits (the retry's audit event and notification with the action itself).
    """
    scope = supervision_scope(user)
    instance = db.session.get(ProcessInstance, instance_id)
    if instance is None:
        raise NotFound("找不到该流程实例")
    if not can_supervise_case(scope, instance.case_id):
        raise Forbidden("该流程实例不属于您督办的单位")
    text = require_note(note)
    if instance.status != InstanceStatus.ERROR:
        raise Conflict("流程实例不处于异常状态，无需重试", code="not_in_error")
    error = db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.instance_id == instance.id, AuditEvent.action == AuditAction.ERROR)
        .order_by(AuditEvent.id.desc()).limit(1)).scalar_one_or_none()
    if error is None:
        raise Conflict("找不到出错的操作记录，无法重试", code="not_retryable")
    now = now or utcnow()
    base = {"note": text, "error": instance.error_message, "element": instance.error_element}
    if error.human_task_id is not None:
        return _retry_completion(instance, error, user, text, base, now)
    if error.actor_id is None:
        return _retry_timers(instance, user, text, base, now)
    raise Conflict("该异常由消息触发，消息内容未保存，无法在此重试；请发送方重新发送消息", code="not_retryable")


def _retry_completion(instance, error: AuditEvent, user: User, text: str, base: dict, now) -> ActionResult:
    task = db.session.get(HumanTask, error.human_task_id)
    if task is None or task.status != TaskStatus.READY:
        raise Conflict("出错的任务已不在办理中，无法重试", code="not_retryable")
    actor = db.session.get(User, error.actor_id) if error.actor_id else None
    if actor is None or not actor.is_active_user or not tasks.can_see(actor, task) \
            or task.assignee_id not in (None, actor.id):
        raise Conflict("原提交人已无权办理该任务，请改派后由办理人重新提交", code="not_retryable")
    draft = dict(task.draft or {})
    data = {**base, "replayed": "complete", "as": actor.username}

    def work():
        _audit(AuditAction.RETRY, user, now, data, task, label="重试流程脚本错误")
        notified = _notify(_handlers(task), NotificationKind.INFO, f"流程异常已重试：{task.name}",
                           f"{user.display_name} 以 {actor.display_name} 保存的表单重新提交了任务“{task.name}”：{text}",
                           now, task, actor=user)
        tasks.complete_task(task.id, draft, actor)   # commits the completion, the audit event and the notice
        return ActionResult(AuditAction.RETRY, now, text, task_id=task.id, instance_id=instance.id,
                            notified=notified, data={"replayed": "complete", "as": actor.username})
    return _replay(work, instance, user, data, now)


def _retry_timers(instance, user: User, text: str, base: dict, now) -> ActionResult:
    data = {**base, "replayed": "timer"}

    def work():
        _audit(AuditAction.RETRY, user, now, data, instance_id=instance.id, case_id=instance.case_id,
               label="重试流程脚本错误")
        notified = _notify(_instance_people(instance), NotificationKind.INFO, "流程异常已重试",
                           f"{user.display_name} 重新触发了案件 {case_number(instance.case_id)} 的到期定时器：{text}", now,
                           case_id=instance.case_id, actor=user)
        fired = fire_instance_timers(instance.id, now)   # commits, or rolls back when nothing is due
        if not fired:
            raise Conflict("没有到期的定时器可以重试，流程实例仍处于异常状态", code="nothing_to_retry")
        return ActionResult(AuditAction.RETRY, now, text, instance_id=instance.id, notified=notified,
                            data={"replayed": "timer", "fired": [bpmn_id for bpmn_id, _ in fired]})
    return _replay(work, instance, user, data, now)


def _replay(work, instance, user: User, data: dict, now) -> ActionResult:
    """Run the replay; when the script fails again, record the failed attempt (its own commit) and say so."""
    try:
        return work()
    except (ProcessDefinitionError, engine.ScriptError) as exc:
        db.session.rollback()
        if isinstance(exc, ProcessDefinitionError):
            message, extra = exc.message, exc.extra
        else:
            message, extra = exc.message, {"element_id": exc.element_id, "line": exc.line}
        _audit(AuditAction.RETRY, user, now, {**data, "outcome": "failed", "message": message[:2000]},
               instance_id=instance.id, case_id=instance.case_id, label="重试流程脚本错误（仍失败）")
        db.session.commit()
        raise ProcessDefinitionError(f"重试失败：{message}", **extra) from None
    except Exception:
        db.session.rollback()
        raise
