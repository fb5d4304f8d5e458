"""Run actions on instances: start, step, fire timers; one business action, one transaction.

Every action locks the instance row (PostgreSQL FOR UPDATE; SQLite serializes writers and the
rev check catches a stale read), steps the engine, writes the new state, syncs the human_task and
timer_job projections and the audit trail, and commits once. A failure rolls all of it back.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import sqlalchemy as sa

from app import engine
from app.audit.models import AuditAction, AuditEvent
from app.auth.models import User
from app.cases.models import Case
from app.db import set_committed, utcnow
from app.deadlines import due
from app.deadlines.jobs import cancel_task_jobs, sla_jobs
from app.deadlines.models import JobKind, JobStatus, TimerJob
from app.errors import Conflict, Forbidden, FormInvalid, NotFound, ProcessDefinitionError
from app.extensions import db
from app.integration import outbox
from app.processes import casemap
from app.processes.models import InstanceStatus, ProcessInstance
from app.processes.versions import Bundle, get_bundle, get_latest_definition, start_refusal, validate_form
from app.tasks.models import HumanTask, HumanTaskCandidate, TaskStatus, outcome_of


def state_loader(instance: ProcessInstance):
    """The stored state of the locked row, read only if the engine's cache misses."""
    return lambda: db.session.execute(
        sa.select(ProcessInstance.state).where(ProcessInstance.id == instance.id)).scalar_one()


def lock_instance(instance_id: int) -> ProcessInstance:
    """Load the instance row for an action: locked on PostgreSQL, fresh on both (state deferred)."""
    row = db.session.execute(
        # FOR NO KEY UPDATE (PostgreSQL): excludes every other action on the instance, but not the
        # KEY SHARE lock an insert referencing the instance takes (a claim's audit row); FOR UPDATE
        # made a claim and a completion of the same task deadlock
        sa.select(ProcessInstance).where(ProcessInstance.id == instance_id).with_for_update(key_share=True)
        .execution_options(populate_existing=True)).scalar_one_or_none()
    if row is None:
        raise NotFound("找不到该流程实例")
    if row.status in (InstanceStatus.COMPLETED, InstanceStatus.CANCELLED):
        raise Conflict("流程实例已结束")
    if row.status == InstanceStatus.SUSPENDED:
        raise Conflict("流程实例已挂起")
    return row


@dataclass
class ActionContext:
    instance: ProcessInstance
    bundle: Bundle
    actor_id: int | None
    now: datetime


# Prebuilt Core statements on the tables: the hot path skips the ORM's unit of work and the per-call
# statement construction; SET columns come from the parameter keys.
_pi, _ht, _htc, _audit = (ProcessInstance.__table__, HumanTask.__table__, HumanTaskCandidate.__table__,
                          AuditEvent.__table__)
_UPDATE_INSTANCE = sa.update(_pi).where(_pi.c.id == sa.bindparam("b_id"), _pi.c.rev == sa.bindparam("b_rev"))
_COMPLETE_TASK = sa.update(_ht).where(
    _ht.c.id == sa.bindparam("b_id"), _ht.c.status == sa.bindparam("b_ready"),
    sa.or_(_ht.c.assignee_id.is_(None), _ht.c.assignee_id == sa.bindparam("b_actor")))
_INSERT_TASKS = sa.insert(_ht).returning(_ht.c.id, sort_by_parameter_order=True)
_INSERT_CANDIDATES = sa.insert(_htc)
_INSERT_AUDIT = sa.insert(_audit)
_INSERT_JOBS = sa.insert(TimerJob.__table__)


def apply_result(ctx: ActionContext, result: engine.StepResult, *, completed: HumanTask | None = None,
                 submitted: dict | None = None, audit: list[AuditEvent] | None = None) -> None:
    """Write the new state first (the rev check), then sync tasks, timers, case and audit.

    Prebuilt Core statements, not the ORM unit of work: this is the hot path of every action.
    Raises Conflict when the row moved on since it was read. Does not commit.
    """
    instance, bundle, now = ctx.instance, ctx.bundle, ctx.now
    status = {"running": InstanceStatus.RUNNING, "completed": InstanceStatus.COMPLETED,
              "cancelled": InstanceStatus.CANCELLED}[result.status]
    ended_at = now if result.status != "running" else None
    conn = db.session.connection()
    if instance.id is None:   # a new instance: one INSERT with its first state
        instance.state, instance.status, instance.ended_at = result.state, status, ended_at
        db.session.add(instance)
        db.session.flush()
    else:   # UPDATE ... WHERE rev = old, before any other write: it also takes SQLite's write lock
        values = {"state": result.state, "status": status, "rev": instance.rev + 1, "ended_at": ended_at,
                  "error_message": None, "error_element": None, "error_line": None, "error_at": None}
        if conn.execute(_UPDATE_INSTANCE, {"b_id": instance.id, "b_rev": instance.rev, **values}).rowcount != 1:
            db.session.rollback()
            raise Conflict("该流程实例刚被他人处理过，请刷新后重试")
        set_committed(instance, **values)

    gone = result.ready_before - {r.spiff_task_id for r in result.ready}
    if completed is not None:
        gone.discard(completed.spiff_task_id)
        done = {"status": TaskStatus.COMPLETED, "completed_at": now, "completed_by_id": ctx.actor_id,
                "draft": None, "assignee_id": ctx.actor_id, "outcome": outcome_of(submitted)}
        # only if still READY and not claimed by someone else meanwhile (claims do not lock the instance)
        if conn.execute(_COMPLETE_TASK, {"b_id": completed.id, "b_ready": TaskStatus.READY,
                                         "b_actor": ctx.actor_id, **done}).rowcount != 1:
            db.session.rollback()
            raise Conflict("任务刚被他人认领或已办理，请刷新后重试", code="claimed_by_other")
        set_committed(completed, **done)
    ended = [completed.id] if completed is not None and completed.due_at is not None else []
    if gone:
        ended += conn.execute(
            sa.update(_ht).where(_ht.c.instance_id == instance.id, _ht.c.spiff_task_id.in_(gone),
                                 _ht.c.status == TaskStatus.READY)
            .values(status=TaskStatus.CANCELLED, completed_at=now).returning(_ht.c.id)).scalars().all()
    cancel_task_jobs(ended)   # one UPDATE of timer_job for the completed and the cancelled tasks
    new_tasks = [r for r in result.ready if r.spiff_task_id not in result.ready_before]
    if new_tasks:
        _insert_tasks(conn, instance, bundle, new_tasks, now)
    if bundle.meta.get("has_timers") or result.timers_before:
        _sync_timers(instance, result, now)
    casemap.sync_case(conn, instance.case_id, bundle.key, data=result.data,
                      routed=any(t.groups is not None for t in new_tasks),
                      ended=result.status != "running", now=now)
    if completed is not None:   # what a platform must hear about: outbox rows in this transaction
        outbox.record_step_events(conn, process_key=bundle.key, case_id=instance.case_id, instance_id=instance.id,
                                  bpmn_id=completed.bpmn_id, submitted=submitted, data=result.data, now=now)
    events = list(audit or [])   # the end itself is instance.ended_at/status: not stored twice
    if events:
        conn.execute(_INSERT_AUDIT, [{
            "at": now, "actor_id": ev.actor_id if ev.actor_id is not None or ev.action == AuditAction.TIMER
            else ctx.actor_id,
            "action": ev.action, "case_id": instance.case_id, "instance_id": instance.id,
            "human_task_id": ev.human_task_id, "bpmn_id": ev.bpmn_id, "label": ev.label, "data": ev.data}
            for ev in events])


def _insert_tasks(conn, instance: ProcessInstance, bundle: Bundle, ready: list, now: datetime) -> None:
    rows = []
    calendar = None
    for task in ready:
        meta = bundle.task_meta(task.bpmn_id)
        assignee_id = _assignee_id(task.assignee or meta.get("assignee"), instance)
        recipe = due.deadline_for({**meta, "due_in": task.due_in} if task.due_in else meta,
                                  task.limit, now, task.limit_start)
        if recipe is not None:
            calendar = calendar or due.get_calendar()
            computed = due.compute(recipe, calendar)
        else:
            computed = due.Computed(None, None, False)
        rows.append({
            "instance_id": instance.id, "case_id": instance.case_id, "process_key": bundle.key,
            "spiff_task_id": task.spiff_task_id, "bpmn_id": task.bpmn_id, "name": task.name, "lane": task.lane,
            "candidate_groups": task.groups or meta.get("candidate_groups", []), "form": meta.get("form"),
            "priority": meta.get("priority", 50), "status": TaskStatus.READY, "created_at": now,
            "assignee_id": assignee_id, "claimed_at": now if assignee_id else None,
            "completed_at": None, "completed_by_id": None, "due_at": computed.due_at, "warn_at": computed.warn_at,
            "sla_state": None, "draft": None, "deadline": recipe, "due_provisional": computed.provisional,
            "paused_at": None, "escalation_step": None})
    ids = conn.execute(_INSERT_TASKS, rows).scalars().all()
    candidates = [{"task_id": task_id, "group_name": group}
                  for task_id, row in zip(ids, rows) for group in row["candidate_groups"]]
    if candidates:
        conn.execute(_INSERT_CANDIDATES, candidates)
    jobs = [job for task_id, row in zip(ids, rows) if row["due_at"] is not None
            for job in sla_jobs(task_id, instance.id, row["bpmn_id"], row["warn_at"], row["due_at"], now)]
    if jobs:
        conn.execute(_INSERT_JOBS, jobs)


def _assignee_id(assignee: str | None, instance: ProcessInstance) -> int | None:
    """A task's assignee property: a username, or initiator / ${initiator} for whoever started it."""
    if not assignee:
        return None
    if assignee.strip() in ("initiator", "${initiator}"):
        return instance.started_by_id
    return db.session.execute(sa.select(User.id).where(User.username == assignee.strip())).scalar_one_or_none()


def _sync_timers(instance: ProcessInstance, result: engine.StepResult, now: datetime) -> None:
    pending = {j.spiff_task_id: j for j in db.session.execute(
        sa.select(TimerJob).where(TimerJob.instance_id == instance.id, TimerJob.kind == JobKind.BPMN_TIMER,
                                  TimerJob.status == JobStatus.PENDING)).scalars()}
    waiting = {t.spiff_task_id: t for t in result.timers}
    for spiff_id, job in pending.items():
        if spiff_id not in waiting:   # fired when it was due, else its task finished first
            job.status = JobStatus.DONE if job.due_at <= now else JobStatus.CANCELLED
    for spiff_id, timer in waiting.items():
        job = pending.get(spiff_id)
        if job is None:
            db.session.add(TimerJob(kind=JobKind.BPMN_TIMER, instance_id=instance.id, spiff_task_id=spiff_id,
                                    bpmn_id=timer.bpmn_id, due_at=timer.due_at, status=JobStatus.PENDING,
                                    created_at=now))
        elif job.due_at != timer.due_at:   # a cycle timer moved on
            job.due_at = timer.due_at


def record_script_error(instance_id: int, error: engine.ScriptError, actor_id: int | None,
                        task: HumanTask | None = None, draft: dict | None = None) -> None:
    """After a rolled-back action: mark the instance `error`, keep the user's input as a draft. Commits.

    Touches only the status/error columns and the draft, never the state: no rev check is needed,
    and a concurrent action cannot make this fail.
    """
    db.session.rollback()
    engine.forget(instance_id)
    now = utcnow()
    conn = db.session.connection()
    conn.execute(sa.update(_pi).where(_pi.c.id == instance_id).values(
        status=InstanceStatus.ERROR, error_message=error.message[:2000], error_element=error.element_id,
        error_line=error.line, error_at=now))
    if task is not None and draft is not None:
        conn.execute(sa.update(_ht).where(_ht.c.id == task.id, _ht.c.status == TaskStatus.READY)
                     .values(draft=draft))
    case_id = conn.execute(sa.select(_pi.c.case_id).where(_pi.c.id == instance_id)).scalar_one_or_none()
    conn.execute(_INSERT_AUDIT, {
        "at": now, "actor_id": actor_id, "action": AuditAction.ERROR, "case_id": case_id,
        "instance_id": instance_id, "human_task_id": task.id if task else None, "bpmn_id": error.element_id,
        "label": error.element_name, "data": {"message": error.message[:2000], "line": error.line}})
    db.session.commit()
    db.session.expire_all()


_AFTER_ERROR = {
    "draft": "您提交的内容已保存为草稿，流程已标记为异常，管理员修复后可重试。",
    "start": "流程未启动，没有保存任何内容；请稍后重试，或联系流程设计员。",
    "message": "消息未能处理，流程已标记为异常；修复后请发送方重新发送消息。",
}


def script_error_response(error: engine.ScriptError, *, kept: str = "draft") -> ProcessDefinitionError:
    """The error people read, saying what was kept: the submitted form as a draft (`draft`), nothing
    (a failed `start` creates nothing), or nothing of a `message` (its payload is not kept)."""
    where = error.element_name or error.element_id or "未知元素"
    line = f"第 {error.line} 行" if error.line else ""
    after = _AFTER_ERROR[kept]
    return ProcessDefinitionError(
        f"流程脚本出错（{where}{' ' + line if line else ''}）：{error.message.rstrip('。')}。{after}",
        element_id=error.element_id, element_name=error.element_name, line=error.line)


def start_message_for(bundle: Bundle, data: dict, message: str | None = None) -> str | None:
    """The message start event a start goes through: the one named, else the one for the data's
    `channel` (`<key>.<channel>`, one message start per intake channel); None for a plain start.
    Raises FormInvalid when the process starts only by messages and none matches."""
    names = bundle.process.start_messages
    if not names:
        return None
    if message is None and isinstance(data.get("channel"), str):
        message = f"{bundle.key}.{data['channel']}"
    if message not in names:
        raise FormInvalid("该流程按来源渠道启动，请选择有效的来源渠道",
                          fields={"channel": [f"没有对应的开始事件（可选：{'、'.join(sorted(names))}）"]})
    return message


def start_process(key: str, data: dict, actor: User | None, message: str | None = None, *,
                  before_commit: Callable[[ProcessInstance, Case], None] | None = None
                  ) -> tuple[ProcessInstance, Case]:
    """Start the latest version of a process with its start-form data (`actor` None: the system).

    `before_commit(instance, case)` writes in the same transaction (a platform's ticket row).
    Raises NotFound, Forbidden, FormInvalid (422), ProcessDefinitionError. Commits.
    """
    definition = get_latest_definition(key)
    bundle = get_bundle(definition.id)
    refusal = start_refusal(actor, bundle) if actor is not None else None
    if refusal:
        raise Forbidden(refusal)
    if actor is not None or bundle.meta.get("start_form"):   # the scheduler's own start data has no form
        data = validate_form(bundle, bundle.meta.get("start_form"), dict(data or {}))
    message = start_message_for(bundle, data, message)
    now = utcnow()
    case = casemap.open_case(key, data, actor.id if actor else None, now)
    start_data = {**data, "case_number": case.number, "received_at": now.isoformat()}
    try:
        result = engine.start(bundle.process, start_data, message)
    except engine.ScriptError as exc:
        db.session.rollback()
        raise script_error_response(exc, kept="start") from None
    actor_id = actor.id if actor else None
    instance = ProcessInstance(definition_id=bundle.id, case_id=case.id,
                               serializer_version=engine.runtime.SERIALIZER_VERSION,
                               started_at=now, started_by_id=actor_id)
    db.session.add(instance)
    ctx = ActionContext(instance, bundle, actor_id, now)
    apply_result(ctx, result, audit=[AuditEvent(action=AuditAction.START, label=bundle.name,
                                                bpmn_id=bundle.key, data=data)])
    if before_commit is not None:
        before_commit(instance, case)
    db.session.commit()
    engine.remember(instance.id, instance.rev, result)
    return instance, case


def fire_instance_timers(instance_id: int, now: datetime | None = None) -> list[tuple[str, str]]:
    """Fire the timers of one instance that are due at `now`. Returns the fired (bpmn_id, name). Commits."""
    now = now or utcnow()
    instance = lock_instance(instance_id)
    bundle = get_bundle(instance.definition_id)
    try:
        result = engine.fire_timers(bundle.process, instance.id, instance.rev, state_loader(instance), now)
    except engine.ScriptError as exc:
        record_script_error(instance_id, exc, None)
        raise
    if result is None:   # nothing due: no write at all
        db.session.rollback()
        return []
    ctx = ActionContext(instance, bundle, None, now)
    audit = [AuditEvent(action=AuditAction.TIMER, bpmn_id=bpmn_id, label=name, data={"fired_at": now.isoformat()})
             for bpmn_id, name in result.fired]
    apply_result(ctx, result, audit=audit)
    db.session.commit()
    engine.remember(instance.id, instance.rev, result)
    return result.fired
