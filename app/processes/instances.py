"""Reading instances: who may see one (and whether only to read), its details as a viewer may see
them."""
from __future__ import annotations

from types import SimpleNamespace

import sqlalchemy as sa

from app import engine
from app.audit.models import AuditAction, AuditEvent
from app.auth.models import ROLE_SUPERVISOR, User
from app.cases import privacy
from app.cases.models import Case
from app.errors import NotFound
from app.extensions import db
from app.processes.models import InstanceStatus, ProcessDefinition, ProcessInstance
from app.processes.running import state_loader
from app.processes.versions import get_bundle
from app.tasks.models import HumanTask, HumanTaskCandidate, TaskStatus


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


def diagram_data(instance: ProcessInstance) -> dict:
    """The BPMN XML of the instance's version, its completed steps and the current ones, for bpmn-js
    (the caller has checked the viewer may open the case)."""
    bundle = get_bundle(instance.definition_id)
    xml = db.session.execute(sa.select(ProcessDefinition.bpmn_xml)
                             .where(ProcessDefinition.id == instance.definition_id)).scalar_one()
    completed: list[str] = []
    if instance.status != InstanceStatus.CANCELLED:
        completed = engine.read(bundle.process, instance.id, instance.rev, state_loader(instance))["completed_steps"]
    current = list(db.session.execute(
        sa.select(HumanTask.bpmn_id).where(HumanTask.instance_id == instance.id,
                                           HumanTask.status == TaskStatus.READY)).scalars())
    return {"xml": xml, "completed": completed, "current": sorted(set(current)),
            "error": instance.error_element if instance.status == InstanceStatus.ERROR else None}
