"""The inbox and the life of a human task: claim, unclaim, delegate, complete."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from jinja2 import ChainableUndefined, pass_context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from app import engine, labels
from app.audit.models import AuditAction, AuditEvent
from app.auth.models import User
from app.auth.services import get_user_by_username
from app.cases import privacy
from app.cases.models import Case
from app.db import set_committed, utcnow
from app.errors import AppError, Conflict, Forbidden, NotFound
from app.extensions import db
from app.metrics import count_completion
from app.processes import running as processes
from app.processes.models import ProcessInstance
from app.processes.versions import get_bundle, validate_form
from app.tasks import folding
from app.tasks.models import HumanTask, HumanTaskCandidate, TaskStatus

SCOPES = ("mine", "group", "all")


@dataclass
class Page:
    items: list
    page: int
    per_page: int
    total: int


def visible_clause(user: User):
    """Tasks a user may see: assigned to them, or offered to one of their groups."""
    groups = list(user.group_names) or [""]
    return sa.or_(HumanTask.assignee_id == user.id,
                  HumanTask.id.in_(sa.select(HumanTaskCandidate.task_id)
                                   .where(HumanTaskCandidate.group_name.in_(groups))))


def list_tasks(user: User, scope: str = "all", *, overdue: bool = False, process_key: str | None = None,
               page: int = 1, per_page: int = 20, now=None) -> Page:
    """The inbox: READY tasks, soonest due first. scope mine|group|all (all = mine + my groups')."""
    if scope not in SCOPES:
        raise AppError(f"scope 只能是 {'、'.join(SCOPES)}", fields={"scope": ["取值无效"]})
    stmt = sa.select(HumanTask).where(HumanTask.status == TaskStatus.READY)
    if scope == "mine":
        stmt = stmt.where(HumanTask.assignee_id == user.id)
    elif scope == "group":
        groups = list(user.group_names) or [""]
        stmt = stmt.where(HumanTask.id.in_(sa.select(HumanTaskCandidate.task_id)
                                           .where(HumanTaskCandidate.group_name.in_(groups))))
    elif not user.is_admin:
        stmt = stmt.where(visible_clause(user))
    if overdue:
        stmt = stmt.where(HumanTask.due_at < (now or utcnow()))
    if process_key:
        stmt = stmt.where(HumanTask.process_key == process_key)
    total = db.session.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()
    rows = db.session.execute(
        # NULLS LAST, not "due_at IS NULL, due_at": the due_at indexes give this order (a page stops early)
        stmt.order_by(HumanTask.due_at.asc().nulls_last(), HumanTask.priority.desc(), HumanTask.id)
        .limit(per_page).offset((page - 1) * per_page)).scalars().all()
    return Page(list(rows), page, per_page, total)


def get_task(task_id: int) -> HumanTask:
    task = db.session.get(HumanTask, task_id)
    if task is None:
        raise NotFound("找不到该任务")
    return task


def can_see(user: User, task: HumanTask) -> bool:
    return (user.is_admin or task.assignee_id == user.id or task.completed_by_id == user.id
            or bool(user.group_names & set(task.candidate_groups)))


def get_visible_task(task_id: int, user: User) -> HumanTask:
    """The task if the user may see it. Raises NotFound, Forbidden."""
    task = get_task(task_id)
    if not can_see(user, task):
        raise Forbidden("此任务不属于您或您所在的用户组")
    return task


def can_act(user: User, task: HumanTask) -> bool:
    """May the user fill in and complete this task now (the rule check_can_act enforces)?"""
    return (can_see(user, task) and task.status == TaskStatus.READY
            and (task.assignee_id is None or task.assignee_id == user.id))


def check_can_act(user: User, task: HumanTask) -> None:
    """Raises Forbidden (not theirs) or Conflict (done, cancelled, held by another) unless can_act."""
    if not can_see(user, task):
        raise Forbidden("此任务不属于您或您所在的用户组")
    if task.status != TaskStatus.READY:
        raise Conflict("任务已办理完毕或已取消" if task.status == TaskStatus.COMPLETED else "任务已取消",
                       code="task_not_ready")
    if task.assignee_id is not None and task.assignee_id != user.id:
        raise _held_by_other(task)


def _held_by_other(task: HumanTask, hint: str = "") -> Conflict:
    holder = db.session.get(User, task.assignee_id)
    return Conflict(f"任务已由 {holder.display_name if holder else '他人'} 认领{hint}", code="claimed_by_other")


def task_details(task: HumanTask, viewer: User | None = None, *, fold_long_values: bool = False) -> dict:
    """A task with its form (schema + UI schema), instructions and current data, as `viewer` may
    see them: a reporter's identity is masked for those without the right (and the instructions are
    rendered from the masked data); a view of it by those with the right is audited.
    fold_long_values: long values in the instructions get a 展开 (for the task page)."""
    instance = db.session.get(ProcessInstance, task.instance_id)
    bundle = get_bundle(instance.definition_id)
    meta = bundle.task_meta(task.bpmn_id)
    data = {}
    if task.status == TaskStatus.READY:
        data = engine.read(bundle.process, instance.id, instance.rev,
                           processes.state_loader(instance))["task_data"].get(task.spiff_task_id, {})
    elif task.status == TaskStatus.COMPLETED:
        data = submitted_data(task)
    case = db.session.get(Case, task.case_id) if task.case_id else None
    data = privacy.guard(data, viewer, case, instance.id)
    return {
        "task": task, "instance": instance, "definition": bundle,
        "form_schema": bundle.forms.get(meta.get("form")) if meta.get("form") else None,
        "ui_schema": bundle.forms.get(meta.get("ui_form")) if meta.get("ui_form") else None,
        # the instructions guide the person doing the step: a finished step's data is only what was submitted
        "instructions": render_instructions(meta.get("instructions"), data, _titles_for(meta.get("instructions"), bundle),
                                            fold_long_values=fold_long_values)
        if task.status == TaskStatus.READY else None,
        "data": data,
    }


def _titles_for(instructions: str | None, bundle) -> dict[str, str] | None:
    """The code -> title table for instructions that print data ({{ ... }}); none for those that do not."""
    return labels.value_titles(bundle.forms) if instructions and "{{" in instructions else None


def submitted_data(task: HumanTask) -> dict:
    """What was submitted when the task was completed (its completion's audit record), unmasked."""
    data = db.session.execute(
        sa.select(AuditEvent.data).where(AuditEvent.instance_id == task.instance_id,   # ix_audit_event_instance_id_id
                                         AuditEvent.human_task_id == task.id, AuditEvent.action == AuditAction.COMPLETE)
        .order_by(AuditEvent.id.desc()).limit(1)).scalar_one_or_none()
    return data if isinstance(data, dict) else {}


_TITLES = "_titles"   # a name no task data may have (engine.check_data_keys refuses a leading underscore)


@pass_context
def _shown(context, value):
    """What a {{ placeholder }} prints: a code (a unit's group name, a form choice's value) as its title,
    a list of them joined with 、. Only the printed value: {% if handler_org == 'jm_scjgj' %} still sees the code."""
    titles = context.get(_TITLES) or {}
    if isinstance(value, str):
        return titles.get(value, value)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "、".join(titles.get(v, v) for v in value)
    return value


@pass_context
def _shown_folded(context, value):
    """_shown, then a long value folded behind a 展开 (the task page's instructions)."""
    return folding.fold(_shown(context, value))


_jinja = ImmutableSandboxedEnvironment(autoescape=False, undefined=ChainableUndefined,   # cannot mutate data
                                       finalize=_shown)
_jinja_folded = _jinja.overlay(finalize=_shown_folded)


def render_instructions(template: str | None, data: dict, titles: dict[str, str] | None = None, *,
                        fold_long_values: bool = False) -> str | None:
    """The task's Markdown instructions with {{ placeholders }} filled from its data (sandboxed Jinja),
    each printed code replaced by its title from `titles` (labels.value_titles).

    The result is Markdown text, not HTML: whoever shows it must render it safely. With
    fold_long_values a long value is marked for a 展开 (app.tasks.folding; the web's Markdown filter
    draws it), which only the task page asks for.
    """
    if not template:
        return None
    env = _jinja_folded if fold_long_values else _jinja
    try:
        return env.from_string(template).render(**data, **{_TITLES: titles or {}})
    except Exception:  # noqa: BLE001 - a designer's template error must not break the task
        return template


def claim_task(task_id: int, user: User) -> HumanTask:
    """Take a group task. Raises Forbidden, Conflict (someone else holds it, or it is done). Commits."""
    task = get_task(task_id)
    check_can_act(user, task)
    now = utcnow()
    result = db.session.execute(
        sa.update(HumanTask).where(HumanTask.id == task.id, HumanTask.status == TaskStatus.READY,
                                   sa.or_(HumanTask.assignee_id.is_(None), HumanTask.assignee_id == user.id))
        .values(assignee_id=user.id, claimed_at=now).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        raise Conflict("任务刚被他人认领或已办理", code="claimed_by_other")
    db.session.add(_audit(task, AuditAction.CLAIM, user.id, now))
    db.session.commit()
    set_committed(task, assignee_id=user.id, claimed_at=now)
    return task


def unclaim_task(task_id: int, user: User) -> HumanTask:
    """Give a claimed task back to its groups (the holder or an administrator). Commits."""
    task = get_task(task_id)
    if not can_see(user, task):
        raise Forbidden("此任务不属于您或您所在的用户组")
    if task.status != TaskStatus.READY:
        raise Conflict("任务已办理完毕或已取消", code="task_not_ready")
    if task.assignee_id is None:
        raise Conflict("任务尚未被认领", code="not_claimed")
    if task.assignee_id != user.id and not user.is_admin:
        raise _held_by_other(task, "，只有认领人或管理员可以退回")
    now = utcnow()
    result = db.session.execute(
        sa.update(HumanTask).where(HumanTask.id == task.id, HumanTask.assignee_id == task.assignee_id,
                                   HumanTask.status == TaskStatus.READY)
        .values(assignee_id=None, claimed_at=None).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        raise Conflict("任务状态已变化，请刷新")
    db.session.add(_audit(task, AuditAction.UNCLAIM, user.id, now))
    db.session.commit()
    set_committed(task, assignee_id=None, claimed_at=None)
    return task


def delegate_task(task_id: int, user: User, username: str) -> HumanTask:
    """Hand a task to another member of its candidate groups. Commits."""
    task = get_task(task_id)
    check_can_act(user, task)
    target = get_user_by_username(username or "")
    if target is None or not target.is_active_user:
        raise AppError("找不到该用户", fields={"username": ["用户不存在或已停用"]})
    if not (target.is_admin or target.group_names & set(task.candidate_groups)):
        raise AppError("该用户不在任务的候选用户组中", fields={"username": ["不在候选用户组中"]})
    now = utcnow()
    result = db.session.execute(
        sa.update(HumanTask).where(HumanTask.id == task.id, HumanTask.status == TaskStatus.READY,
                                   sa.or_(HumanTask.assignee_id.is_(None), HumanTask.assignee_id == user.id,
                                          sa.literal(user.is_admin)))
        .values(assignee_id=target.id, claimed_at=now).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        db.session.rollback()
        raise Conflict("任务状态已变化，请刷新")
    event = _audit(task, AuditAction.DELEGATE, user.id, now)
    event.data = {"to": target.username}
    db.session.add(event)
    db.session.commit()
    set_committed(task, assignee_id=target.id, claimed_at=now)
    return task


def save_draft(task_id: int, user: User, draft: dict) -> HumanTask:
    """Keep unfinished form input on the task. Raises NotFound, Forbidden, Conflict. Commits."""
    task = get_task(task_id)
    check_can_act(user, task)
    changed = db.session.execute(
        sa.update(HumanTask).where(HumanTask.id == task.id, HumanTask.status == TaskStatus.READY)
        .values(draft=draft).execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        db.session.rollback()
        raise Conflict("任务状态已变化，请刷新", code="task_not_ready")
    db.session.commit()
    db.session.refresh(task)
    return task


def complete_task(task_id: int, data: dict, user: User) -> HumanTask:
    """Validate the form, step the engine, sync rows: one transaction.

    Raises Forbidden, Conflict (claimed by another, not READY, concurrent change), FormInvalid (422),
    ProcessDefinitionError (a script failed: nothing applied, the input kept as a draft). Commits.
    """
    task = get_task(task_id)
    check_can_act(user, task)
    data = data if data is not None else {}
    instance_id = task.instance_id
    instance = processes.lock_instance(instance_id)
    bundle = get_bundle(instance.definition_id)
    data = validate_form(bundle, task.form, data)
    try:
        result = engine.complete_task(bundle.process, instance.id, instance.rev,
                                      processes.state_loader(instance), task.spiff_task_id, data)
    except engine.TaskNotReady:
        db.session.rollback()
        raise Conflict("任务已被办理，不能重复提交", code="task_not_ready") from None
    except engine.UnknownTask:
        db.session.rollback()
        raise Conflict("任务已不在流程中", code="task_not_ready") from None
    except engine.ScriptError as exc:
        processes.record_script_error(instance_id, exc, user.id, task, draft=data)
        raise processes.script_error_response(exc) from None
    now = utcnow()
    ctx = processes.ActionContext(instance, bundle, user.id, now)
    processes.apply_result(ctx, result, completed=task, submitted=data,
                           audit=[_audit(task, AuditAction.COMPLETE, user.id, now, data=data)])
    new_rev = instance.rev
    db.session.commit()
    engine.remember(instance_id, new_rev, result)
    count_completion(task.process_key)
    return task


def _audit(task: HumanTask, action: str, actor_id: int | None, now, data=None) -> AuditEvent:
    return AuditEvent(at=now, actor_id=actor_id, action=action, case_id=task.case_id,
                      instance_id=task.instance_id, human_task_id=task.id, bpmn_id=task.bpmn_id,
                      label=task.name, data=data)
