"""Deploy process versions and run actions on instances: one business action, one transaction.

Every action locks the instance row (PostgreSQL FOR UPDATE; SQLite serializes writers and the
rev check catches a stale read), steps the engine, writes the new state, syncs the human_task and
timer_job projections and the audit trail, and commits once. A failure rolls all of it back.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import sqlalchemy as sa
from flask import current_app

from app import engine
from app.audit.models import AuditAction, AuditEvent
from app.calendar import SHANGHAI, DurationError, parse_duration
from app.auth.models import ROLE_SUPERVISOR, Group, User
from app.auth.services import lane_group_names
from app.cases import privacy
from app.cases.models import Case, CaseStatus
from app.db import set_committed, utcnow
from app.deadlines import due
from app.deadlines.jobs import cancel_task_jobs, sla_jobs
from app.deadlines.models import JobKind, JobStatus, TimerJob
from app.errors import Conflict, Forbidden, FormInvalid, NotFound, ProcessDefinitionError
from app.extensions import db
from app.processes.models import InstanceStatus, ProcessDefinition, ProcessInstance
from app.taskforms.loader import FormFileError, read_form_file
from app.taskforms.validation import FormValidator, check_schema
from app.tasks.models import HumanTask, HumanTaskCandidate, TaskStatus, outcome_of

log = logging.getLogger(__name__)
FORM_PROPERTY = "formJsonSchemaFilename"
UI_PROPERTY = "formUiSchemaFilename"


# --- deployed versions, cached in memory (immutable once deployed) ---------------------------

@dataclass
class Bundle:
    """A deployed version as the runtime needs it: parsed spec, task metadata, form snapshot."""

    id: int
    key: str
    version: int
    name: str
    meta: dict
    forms: dict
    process: engine.ParsedProcess
    _validators: dict = field(default_factory=dict)

    def task_meta(self, bpmn_id: str) -> dict:
        return self.meta["tasks"].get(bpmn_id, {})

    def validator(self, form_path: str | None) -> FormValidator | None:
        if not form_path:
            return None
        found = self._validators.get(form_path)
        if found is None:
            found = self._validators[form_path] = FormValidator(self.forms[form_path])
        return found


_bundles: dict[int, Bundle] = {}
_bundles_lock = threading.Lock()


def get_bundle(definition_id: int) -> Bundle:
    bundle = _bundles.get(definition_id)
    if bundle is not None:
        return bundle
    row = db.session.get(ProcessDefinition, definition_id)
    if row is None:
        raise NotFound("找不到该流程版本")
    process = engine.load_process(row.id, row.key, row.bpmn_xml, row.dmn_xml)
    with _bundles_lock:
        bundle = _bundles.setdefault(row.id, Bundle(row.id, row.key, row.version, row.name,
                                                    row.meta, row.forms, process))
    return bundle


# --- deploy ----------------------------------------------------------------------------------

@dataclass
class DeployOutcome:
    file: str
    key: str | None = None
    version: int | None = None
    created: bool = False
    problems: list[engine.Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _form_problems(process: engine.ParsedProcess, forms_dir: str, filename: str) -> tuple[dict, list]:
    """Load every form the process references; report each problem at the element using it."""
    users: dict[str, str] = {}
    for task in process.tasks.values():
        for prop in (FORM_PROPERTY, UI_PROPERTY):
            if task.properties.get(prop):
                users.setdefault(task.properties[prop], task.bpmn_id)
    for prop in (FORM_PROPERTY, UI_PROPERTY):
        if process.start_properties.get(prop):
            users.setdefault(process.start_properties[prop], "start event")
    forms, problems = {}, []
    for path, element in sorted(users.items()):
        try:
            forms[path] = read_form_file(forms_dir, path)
        except FormFileError as exc:
            problems.append(engine.Problem(str(exc), filename, None, element))
            continue
        if not path.endswith(".uischema.json") and path in {
                t.properties.get(FORM_PROPERTY) for t in process.tasks.values()} | {
                process.start_properties.get(FORM_PROPERTY)}:
            for message in check_schema(forms[path]):
                problems.append(engine.Problem(f"表单 {path}：{message}", filename, None, element))
    return forms, problems


def _content_hash(content: bytes, dmn: dict[str, str], forms: dict, meta: dict) -> str:
    """What makes a version: the file, its DMN and forms, and the groups its lanes resolved to
    (so deploying again after creating a lane's group makes a version that offers tasks to it)."""
    digest = hashlib.sha256(content)
    for name in sorted(dmn):
        digest.update(name.encode() + b"\0" + dmn[name].encode())
    digest.update(json.dumps([forms, meta], sort_keys=True, ensure_ascii=False).encode())
    return digest.hexdigest()


def _task_meta(process: engine.ParsedProcess) -> dict:
    tasks = {}
    for task in process.tasks.values():
        props = task.properties
        explicit = [g.strip() for g in props.get("candidateGroups", "").split(",") if g.strip()]
        # `${handler_org}`: resolved from the task data when it becomes ready (engine.ReadyTask.groups)
        dynamic = any(engine.has_placeholder(g) for g in explicit)
        groups = [] if dynamic else lane_group_names(explicit or ([task.lane] if task.lane else []))
        try:
            priority = int(props.get("priority", 50))
        except ValueError:
            priority = 50
        tasks[task.bpmn_id] = {
            "name": task.name, "lane": task.lane, "candidate_groups": groups,
            "candidate_template": props.get("candidateGroups") if dynamic else None,
            "assignee": props.get("assignee"), "form": props.get(FORM_PROPERTY),
            "ui_form": props.get(UI_PROPERTY), "instructions": task.instructions,
            "due_in": props.get("dueIn"), "warn_before": props.get("warnBefore"), "priority": priority,
        }
    return {
        "tasks": tasks,
        "start_form": process.start_properties.get(FORM_PROPERTY),
        "start_ui_form": process.start_properties.get(UI_PROPERTY),
        "starter_groups": lane_group_names(process.starter_groups),
        "has_timers": process.has_timers,
    }


@dataclass
class _Prepared:
    content: bytes = b""
    dmn_files: dict = field(default_factory=dict)
    processes: list = field(default_factory=list)   # [(ParsedProcess, forms snapshot)]
    problems: list = field(default_factory=list)


def _prepare(path: Path, forms_dir: str) -> _Prepared:
    """Read, parse and check one BPMN file and the forms it references; deploys nothing."""
    try:
        content = path.read_bytes()
    except OSError as exc:
        return _Prepared(problems=[engine.Problem(f"无法读取文件：{exc.strerror}", path.name)])
    dmn_files = {p.name: p.read_bytes() for p in sorted(path.parent.glob("*.dmn"))}
    try:
        content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content[:exc.start].count(b"\n") + 1
        return _Prepared(problems=[engine.Problem("文件不是 UTF-8 编码（请以 UTF-8 保存）", path.name, line)])
    processes, problems = engine.check_bpmn(path.name, content, dmn_files)
    prepared = _Prepared(content, dmn_files, problems=list(problems))
    for process in processes:
        forms, form_problems = _form_problems(process, forms_dir, path.name)
        prepared.problems.extend(form_problems)
        prepared.problems.extend(_duration_problems(process, path.name))
        prepared.processes.append((process, forms))
    for problem in prepared.problems:   # the form and time-limit checks work on specs, not on the XML
        if problem.line is None and problem.element_id:
            problem.line = _line_of(content, problem.element_id)
    return prepared


def _line_of(content: bytes, element_id: str) -> int | None:
    """The line of the element with this id in the file (its first id="…" attribute), for the designer."""
    at = content.find(f'id="{element_id}"'.encode())
    return content[:at].count(b"\n") + 1 if at >= 0 else None


def _duration_problems(process: engine.ParsedProcess, filename: str) -> list[engine.Problem]:
    """dueIn / warnBefore must be business durations the calendar understands."""
    problems = []
    for task in process.tasks.values():
        for prop in ("dueIn", "warnBefore"):
            value = task.properties.get(prop)
            if value is None or engine.has_placeholder(value):   # resolved from the data at run time
                continue
            try:
                parse_duration(value)
            except DurationError as exc:
                problems.append(engine.Problem(f"属性 {prop}：{exc.chinese}", filename, None, task.bpmn_id))
    return problems


def validate_file(path: str | Path, forms_dir: str | None = None) -> list[engine.Problem]:
    """Every problem of one BPMN file (XML, structure, scripts, forms), deploying nothing."""
    return _prepare(Path(path), forms_dir or current_app.config["FORMS_DIR"]).problems


def _unmatched_groups(meta: dict) -> list[str]:
    """Tasks offered to a group that does not exist (yet): nobody would see them."""
    wanted = {g: bpmn_id for bpmn_id, t in meta["tasks"].items() for g in t["candidate_groups"]}
    known = set(db.session.execute(sa.select(Group.name).where(Group.name.in_(list(wanted)))).scalars())
    return [f"任务 {bpmn_id} 的候选组“{g}”不存在：请先创建该用户组（标题与泳道名称一致），再重新部署"
            for g, bpmn_id in sorted(wanted.items()) if g not in known]


def deploy_file(path: str | Path, *, actor: User | None = None, message: str | None = None,
                forms_dir: str | None = None) -> list[DeployOutcome]:
    """Deploy the processes of one BPMN file; an unchanged file makes no new version.

    A file with any problem deploys nothing and returns its problems. Commits.
    """
    path = Path(path)
    prepared = _prepare(path, forms_dir or current_app.config["FORMS_DIR"])
    if prepared.problems:
        return [DeployOutcome(path.name, problems=prepared.problems)]
    content, dmn_files = prepared.content, prepared.dmn_files
    outcomes = []
    for process, forms in prepared.processes:
        dmn = {name: dmn_files[name].decode("utf-8") for name in sorted(process.referenced_dmn)}
        meta = _task_meta(process)
        digest = _content_hash(content, dmn, forms, meta)
        warnings = _unmatched_groups(meta)
        latest = db.session.execute(
            sa.select(ProcessDefinition).where(ProcessDefinition.key == process.key)
            .order_by(ProcessDefinition.version.desc()).limit(1)).scalar_one_or_none()
        if latest is not None and latest.content_hash == digest:
            outcomes.append(DeployOutcome(path.name, process.key, latest.version, created=False,
                                          warnings=warnings))
            continue
        row = ProcessDefinition(
            key=process.key, version=(latest.version + 1) if latest else 1, name=process.name,
            content_hash=digest, source_file=path.name, bpmn_xml=content.decode("utf-8"),
            dmn_xml=dmn, forms=forms, meta=meta, message=message,
            deployed_by_id=actor.id if actor else None)
        db.session.add(row)
        db.session.flush()
        db.session.add(AuditEvent(actor_id=row.deployed_by_id, action=AuditAction.DEPLOY, label=process.name,
                                  bpmn_id=process.key, data={"version": row.version, "file": path.name}))
        outcomes.append(DeployOutcome(path.name, process.key, row.version, created=True, warnings=warnings))
    for process, _ in prepared.processes:
        if process.start_cycle:   # started by the scheduler once per period
            from app.processes.periodic import ensure_schedule
            ensure_schedule(process.key, process.start_cycle)
    db.session.commit()
    return outcomes


def deploy_folder(folder: str | Path | None = None, *, actor: User | None = None,
                  message: str | None = None) -> list[DeployOutcome]:
    """Deploy every *.bpmn of the folder, each file on its own: a broken file does not stop the others."""
    folder = Path(folder or current_app.config["BPMN_DIR"])
    outcomes = []
    for path in sorted(folder.glob("*.bpmn")):
        try:
            outcomes.extend(deploy_file(path, actor=actor, message=message))
        except Exception as exc:  # noqa: BLE001 - one file's failure must not stop the others
            db.session.rollback()
            log.exception("deploying %s failed", path)
            outcomes.append(DeployOutcome(path.name, problems=[engine.Problem(f"部署失败：{exc}", path.name)]))
    return outcomes


def list_latest_definitions() -> list[ProcessDefinition]:
    """The latest version of every process key, newest deploy first."""
    latest = (sa.select(ProcessDefinition.key, sa.func.max(ProcessDefinition.version).label("v"))
              .group_by(ProcessDefinition.key).subquery())
    return list(db.session.execute(
        sa.select(ProcessDefinition).join(latest, sa.and_(ProcessDefinition.key == latest.c.key,
                                                          ProcessDefinition.version == latest.c.v))
        .order_by(ProcessDefinition.deployed_at.desc(), ProcessDefinition.id.desc())).scalars())


def list_definitions_for(user: User) -> list[tuple[ProcessDefinition, bool]]:
    """The latest version of every process, each with whether this user may start it."""
    return [(row, can_start(user, get_bundle(row.id))) for row in list_latest_definitions()]


def get_latest_definition(key: str) -> ProcessDefinition:
    row = db.session.execute(
        sa.select(ProcessDefinition).where(ProcessDefinition.key == key)
        .order_by(ProcessDefinition.version.desc()).limit(1)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"没有已部署的流程：{key}")
    return row


# --- permissions -------------------------------------------------------------------------------

def can_start(user: User, bundle: Bundle) -> bool:
    starters = bundle.meta.get("starter_groups") or []
    return user.is_admin or not starters or bool(user.group_names & set(starters))


def validate_form(bundle: Bundle, form_path: str | None, data: dict) -> dict:
    """The data with the form's top-level defaults filled in for fields not sent (as a form shows
    them prefilled), validated. Raise FormInvalid (422) with per-field Chinese messages."""
    if not isinstance(data, dict):
        raise FormInvalid("表单数据必须是 JSON 对象")
    schema = bundle.forms.get(form_path) if form_path else None
    if schema is not None and isinstance(schema.get("properties"), dict):
        defaults = {key: prop["default"] for key, prop in schema["properties"].items()
                    if isinstance(prop, dict) and "default" in prop and key not in data}
        if defaults:
            data = {**defaults, **data}
    fields: dict[str, list[str]] = {}
    for key in engine.check_data_keys(data):
        fields[key] = ["字段名不可用（保留名或以下划线开头）"]
    if schema is None:
        for key in data:
            fields.setdefault(key, []).append("此步骤没有表单，不接受数据")
    elif isinstance(schema.get("properties"), dict) and schema.get("additionalProperties") is not True:
        for key in data:
            if key not in schema["properties"]:
                fields.setdefault(key, []).append("此表单没有该字段")
    validator = bundle.validator(form_path)
    if validator is not None:
        for path, messages in validator.errors(data).items():
            fields.setdefault(path, []).extend(messages)
    if fields:
        raise FormInvalid(f"表单有 {len(fields)} 处需要修改", fields=fields)
    return data


# --- running actions ---------------------------------------------------------------------------

def state_loader(instance: ProcessInstance):
    """The stored state of the locked row, read only if the engine's cache misses."""
    return lambda: db.session.execute(
        sa.select(ProcessInstance.state).where(ProcessInstance.id == instance.id)).scalar_one()


def lock_instance(instance_id: int) -> ProcessInstance:
    """Load the instance row for an action: locked on PostgreSQL, fresh on both (state deferred)."""
    row = db.session.execute(
        sa.select(ProcessInstance).where(ProcessInstance.id == instance_id).with_for_update()
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
_pi, _ht, _htc, _case, _audit = (ProcessInstance.__table__, HumanTask.__table__, HumanTaskCandidate.__table__,
                                 Case.__table__, AuditEvent.__table__)
_UPDATE_INSTANCE = sa.update(_pi).where(_pi.c.id == sa.bindparam("b_id"), _pi.c.rev == sa.bindparam("b_rev"))
_COMPLETE_TASK = sa.update(_ht).where(
    _ht.c.id == sa.bindparam("b_id"), _ht.c.status == sa.bindparam("b_ready"),
    sa.or_(_ht.c.assignee_id.is_(None), _ht.c.assignee_id == sa.bindparam("b_actor")))
_INSERT_TASKS = sa.insert(_ht).returning(_ht.c.id, sort_by_parameter_order=True)
_INSERT_CANDIDATES = sa.insert(_htc)
_CLOSE_CASE = sa.update(_case).where(_case.c.id == sa.bindparam("b_id"))
_INSERT_AUDIT = sa.insert(_audit)
_SET_CASE_UNIT = sa.update(_case).where(_case.c.id == sa.bindparam("b_id"),
                                        sa.or_(_case.c.unit.is_(None), _case.c.unit != sa.bindparam("b_unit")))
_INSERT_JOBS = sa.insert(TimerJob.__table__)
_MARK_CONFIDENTIAL = sa.update(_case).where(_case.c.id == sa.bindparam("b_id"), _case.c.is_confidential.is_(False))


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
    # the 承办单位 once dispatched: only when a task was just routed by a `${...}` group, as after
    # 派单 or a ruling, not on every action of the case
    unit = result.data.get("handler_org")
    if isinstance(unit, str) and unit and instance.case_id is not None and \
            any(t.groups is not None for t in new_tasks):
        conn.execute(_SET_CASE_UNIT, {"b_id": instance.case_id, "b_unit": unit, "unit": unit})
    # a step that makes the case confidential (a report, a misconduct clue): the lists and exports
    # read the column, so it follows the data at once; one UPDATE only on such a step
    if submitted and instance.case_id is not None and privacy.is_confidential(submitted):
        conn.execute(_MARK_CONFIDENTIAL, {"b_id": instance.case_id, "is_confidential": True})
    if result.status != "running" and instance.case_id is not None:
        conn.execute(_CLOSE_CASE, {"b_id": instance.case_id, "status": CaseStatus.CLOSED, "closed_at": now})
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
        assignee_id = _assignee_id(meta.get("assignee"), instance)
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


def script_error_response(error: engine.ScriptError) -> ProcessDefinitionError:
    where = error.element_name or error.element_id or "未知元素"
    line = f"第 {error.line} 行" if error.line else ""
    return ProcessDefinitionError(
        f"流程脚本出错（{where}{' ' + line if line else ''}）：{error.message}。"
        "您提交的内容已保存为草稿，流程已标记为异常，管理员修复后可重试。",
        element_id=error.element_id, element_name=error.element_name, line=error.line)


def _case_number(case_id: int, now: datetime) -> str:
    local = now.astimezone(SHANGHAI)  # the case number carries the local (Asia/Shanghai) date
    return f"JM-{local:%Y}-{local:%m%d}-{case_id:06d}"


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


def start_process(key: str, data: dict, actor: User | None, message: str | None = None
                  ) -> tuple[ProcessInstance, Case]:
    """Start the latest version of a process with its start-form data (`actor` None: the system).

    Raises NotFound, Forbidden, FormInvalid (422), ProcessDefinitionError. Commits.
    """
    definition = get_latest_definition(key)
    bundle = get_bundle(definition.id)
    if actor is not None and not can_start(actor, bundle):
        raise Forbidden("您不在可发起该流程的用户组中")
    if actor is not None or bundle.meta.get("start_form"):   # the scheduler's own start data has no form
        data = validate_form(bundle, bundle.meta.get("start_form"), dict(data or {}))
    message = start_message_for(bundle, data, message)
    now = utcnow()
    case = Case(process_key=key, title=_text(data.get("title"), 200), channel=_text(data.get("channel"), 40),
                district=_text(data.get("district"), 40), company_name=_text(data.get("company_name"), 200),
                uscc=_text(data.get("uscc"), 18),
                is_confidential=privacy.is_confidential(data),
                created_at=now, created_by_id=actor.id if actor else None)
    db.session.add(case)
    db.session.flush()
    case.number = _case_number(case.id, now)
    start_data = {**data, "case_number": case.number, "received_at": now.isoformat()}
    try:
        result = engine.start(bundle.process, start_data, message)
    except engine.ScriptError as exc:
        db.session.rollback()
        raise script_error_response(exc) from None
    actor_id = actor.id if actor else None
    instance = ProcessInstance(definition_id=bundle.id, case_id=case.id,
                               serializer_version=engine.runtime.SERIALIZER_VERSION,
                               started_at=now, started_by_id=actor_id)
    db.session.add(instance)
    ctx = ActionContext(instance, bundle, actor_id, now)
    apply_result(ctx, result, audit=[AuditEvent(action=AuditAction.START, label=bundle.name,
                                                bpmn_id=bundle.key, data=data)])
    db.session.commit()
    engine.remember(instance.id, instance.rev, result)
    return instance, case


def _text(value, limit: int) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)[:limit]


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


def deliver_message(name: str, correlation: dict, payload, actor: User) -> ProcessInstance:
    """Deliver a message to the instance named by correlation {instance_id | case_number}. Commits.

    Raises NotFound (no such instance), Forbidden (the actor may not see it), Conflict (it does not
    wait for this message).
    """
    instance_id = correlation.get("instance_id")
    if instance_id is None and correlation.get("case_number"):
        instance_id = db.session.execute(
            sa.select(ProcessInstance.id).join(Case, Case.id == ProcessInstance.case_id)
            .where(Case.number == correlation["case_number"])
            .order_by(ProcessInstance.id.desc()).limit(1)).scalar_one_or_none()
    if instance_id is None:
        raise NotFound("找不到与关联键匹配的流程实例")
    instance = lock_instance(int(instance_id))
    if not can_view_instance(actor, instance):
        db.session.rollback()
        raise Forbidden("您无权向该流程实例发送消息")
    bundle = get_bundle(instance.definition_id)
    try:
        result = engine.deliver_message(bundle.process, instance.id, instance.rev, state_loader(instance),
                                         name, payload)
    except engine.NotWaiting:
        db.session.rollback()
        raise Conflict(f"该流程实例当前不在等待消息“{name}”", code="not_waiting") from None
    except engine.ScriptError as exc:
        record_script_error(instance.id, exc, actor.id)
        raise script_error_response(exc) from None
    ctx = ActionContext(instance, bundle, actor.id, utcnow())
    apply_result(ctx, result, audit=[AuditEvent(action=AuditAction.MESSAGE, label=name,
                                                data={"payload": payload})])
    db.session.commit()
    engine.remember(instance.id, instance.rev, result)
    return instance


# --- reading ---------------------------------------------------------------------------------

def get_instance(instance_id: int) -> ProcessInstance:
    row = db.session.get(ProcessInstance, instance_id)
    if row is None:
        raise NotFound("找不到该流程实例")
    return row


def can_view_instance(user: User, instance: ProcessInstance) -> bool:
    """Admins, the starter, and whoever has or had a task of it (by assignment or group)."""
    if user.is_admin or instance.started_by_id == user.id:
        return True
    groups = list(user.group_names) or [""]
    stmt = sa.select(sa.literal(1)).select_from(HumanTask).where(
        HumanTask.instance_id == instance.id,
        sa.or_(HumanTask.assignee_id == user.id, HumanTask.completed_by_id == user.id,
               HumanTask.id.in_(sa.select(HumanTaskCandidate.task_id)
                                .where(HumanTaskCandidate.group_name.in_(groups))))).limit(1)
    return db.session.execute(stmt).first() is not None


def instance_access(user: User, instance: ProcessInstance) -> str | None:
    """"write" for those of can_view_instance (they may also add comments and files), "read" for a
    supervisor of the units the case or one of its tasks belongs to (the dashboard links to it),
    else None."""
    if can_view_instance(user, instance):
        return "write"
    if not user.has_role(ROLE_SUPERVISOR):
        return None
    from app.supervision.access import can_supervise_instance, supervision_scope
    return "read" if can_supervise_instance(supervision_scope(user), instance.id, instance.case_id) else None


def can_read_instance(user: User, instance: ProcessInstance) -> bool:
    """Who may open an instance (its case page, GET /instances/<id>): see instance_access."""
    return instance_access(user, instance) is not None


def instance_details(instance: ProcessInstance, viewer: User | None = None) -> dict:
    """Status, visible data, open tasks and history of one instance, as plain data, as `viewer` may
    see it (a reporter's identity masked for those without the right, also in the history)."""
    bundle = get_bundle(instance.definition_id)
    data = {}
    if instance.status != InstanceStatus.CANCELLED:
        data = engine.read(bundle.process, instance.id, instance.rev, state_loader(instance))["data"]
    open_tasks = list(db.session.execute(
        sa.select(HumanTask).where(HumanTask.instance_id == instance.id, HumanTask.status == TaskStatus.READY)
        .order_by(HumanTask.id)).scalars())
    history = list(db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.instance_id == instance.id,
                                    AuditEvent.action != AuditAction.VIEW_IDENTITY)   # the trail of who looked
        .order_by(AuditEvent.id)).scalars())
    actor_ids = {e.actor_id for e in history if e.actor_id is not None}
    actors = dict(db.session.execute(sa.select(User.id, User.username).where(User.id.in_(actor_ids))).all()) \
        if actor_ids else {}
    case = db.session.get(Case, instance.case_id) if instance.case_id else None
    visible = privacy.guard(data, viewer, case, instance.id)
    if visible is not data:   # masked: the history carries the same fields in its form data
        history = [SimpleNamespace(**{**{c.key: getattr(e, c.key) for c in AuditEvent.__table__.columns},
                                      "data": privacy.masked(e.data)}) for e in history]
    return {"instance": instance, "definition": bundle, "data": visible, "open_tasks": open_tasks,
            "history": history, "actors": actors, "case": case}
