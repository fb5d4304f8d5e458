"""Deliver a BPMN message to a waiting instance (correlated by instance id or case number). Commits."""
from __future__ import annotations

import sqlalchemy as sa

from app import engine
from app.audit.models import AuditAction, AuditEvent
from app.auth.models import User
from app.cases.models import Case
from app.db import utcnow
from app.errors import Conflict, Forbidden, NotFound
from app.extensions import db
from app.processes.instances import can_view_instance
from app.processes.models import ProcessInstance
from app.processes.running import (
    ActionContext, apply_result, lock_instance, record_script_error, script_error_response, state_loader)
from app.processes.versions import get_bundle


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
        raise script_error_response(exc, kept="message") from None
    ctx = ActionContext(instance, bundle, actor.id, utcnow())
    apply_result(ctx, result, audit=[AuditEvent(action=AuditAction.MESSAGE, label=name,
                                                data={"payload": payload})])
    db.session.commit()
    engine.remember(instance.id, instance.rev, result)
    return instance
