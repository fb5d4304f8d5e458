"""Move running instances to the latest version of their process, one transaction per instance.

An instance moves only when the engine finds it safe (app/engine/migration.py: every task it waits
on exists unchanged in the new version); otherwise it stays where it is and the reasons are told.
A migrated instance keeps its SpiffWorkflow task ids, so its human tasks (claims, due dates,
drafts) and timer jobs carry over; the ones that do change are re-synced like after any action.
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import sqlalchemy as sa

from app import engine
from app.audit.models import AuditAction, AuditEvent
from app.auth.models import User
from app.db import set_committed, utcnow
from app.errors import AppError, NotFound
from app.extensions import db
from app.processes.models import InstanceStatus, ProcessDefinition, ProcessInstance
from app.processes.running import ActionContext, apply_result, lock_instance, state_loader
from app.processes.versions import get_bundle, get_latest_definition

log = logging.getLogger(__name__)
LIVE_STATUSES = (InstanceStatus.RUNNING, InstanceStatus.ERROR)
INTERNAL_ERROR = "发生内部错误，该实例保持不变，请联系系统管理员查看日志"


class Outcome:
    MIGRATED = "migrated"
    WOULD_MIGRATE = "would_migrate"   # dry run: it is safe, nothing was changed
    REFUSED = "refused"
    CURRENT = "current"               # already on the latest version


@dataclass
class MigrationOutcome:
    instance_id: int
    status: str
    from_version: int | None = None
    to_version: int | None = None
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def migrate_instance(instance_id: int, *, actor: User | None = None, dry_run: bool = False,
                     key: str | None = None) -> MigrationOutcome:
    """Move one instance to the latest version of its process when it is safe.

    Refusals are outcomes, not exceptions: an unknown, finished or suspended instance, one of
    another process than `key`, one the engine finds unsafe. Commits when migrated; a dry run
    or a refusal writes nothing.
    """
    try:
        instance = lock_instance(instance_id)
    except AppError as exc:
        db.session.rollback()
        return MigrationOutcome(instance_id, Outcome.REFUSED, reasons=[exc.message])
    old = get_bundle(instance.definition_id)
    if key is not None and old.key != key:
        db.session.rollback()
        return MigrationOutcome(instance_id, Outcome.REFUSED, old.version,
                                reasons=[f"该实例属于流程 {old.key}，不属于 {key}"])
    latest = get_latest_definition(old.key)
    if latest.id == old.id:
        db.session.rollback()
        return MigrationOutcome(instance_id, Outcome.CURRENT, old.version, old.version)
    new = get_bundle(latest.id)
    outcome = MigrationOutcome(instance_id, Outcome.WOULD_MIGRATE, old.version, new.version)
    try:
        migration = engine.migrate(old.process, new.process, state_loader(instance))
    except engine.MigrationRefused as exc:
        db.session.rollback()
        outcome.status, outcome.reasons = Outcome.REFUSED, exc.reasons
        return outcome
    if dry_run:
        db.session.rollback()
        return outcome

    now = utcnow()
    ctx = ActionContext(instance, new, actor.id if actor else None, now)
    apply_result(ctx, migration.result, audit=[AuditEvent(
        action=AuditAction.MIGRATE, label=new.name, bpmn_id=new.key,
        data={"from_version": old.version, "to_version": new.version, "from_definition_id": old.id,
              "to_definition_id": new.id, "waiting": migration.waiting,
              "task_ids_kept": migration.task_ids_kept})])
    table = ProcessInstance.__table__
    db.session.connection().execute(   # Core, like apply_result: the ORM would bump rev once more
        sa.update(table).where(table.c.id == instance.id).values(definition_id=new.id))
    set_committed(instance, definition_id=new.id)
    db.session.commit()
    engine.forget(instance.id)
    outcome.status = Outcome.MIGRATED
    return outcome


def migrate_instances(key: str, *, instance_ids: list[int] | None = None, from_version: int | None = None,
                      actor: User | None = None, dry_run: bool = False) -> list[MigrationOutcome]:
    """Move the given instances, or every running instance of `key` on `from_version` (default: on
    any older version), to the latest version; each in its own transaction, one failure does not
    stop the others. Raises NotFound for an unknown key or version. Commits per migrated instance.
    """
    latest = get_latest_definition(key)
    if instance_ids is None:
        query = (sa.select(ProcessInstance.id)
                 .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
                 .where(ProcessDefinition.key == key, ProcessInstance.status.in_(LIVE_STATUSES))
                 .order_by(ProcessInstance.id))
        if from_version is not None:
            if db.session.execute(sa.select(ProcessDefinition.id).where(
                    ProcessDefinition.key == key, ProcessDefinition.version == from_version)).first() is None:
                raise NotFound(f"流程 {key} 没有版本 {from_version}")
            query = query.where(ProcessDefinition.version == from_version)
        else:
            query = query.where(ProcessDefinition.id != latest.id)
        instance_ids = list(db.session.execute(query).scalars())
        db.session.rollback()   # end the read: each instance gets its own transaction
    outcomes = []
    for instance_id in instance_ids:
        try:
            outcomes.append(migrate_instance(instance_id, actor=actor, dry_run=dry_run, key=key))
        except Exception as exc:  # noqa: BLE001 - one instance's failure must not stop the others
            db.session.rollback()
            log.exception("migrating instance %s failed", instance_id)
            message = exc.message if isinstance(exc, AppError) else INTERNAL_ERROR   # no exception text to people
            outcomes.append(MigrationOutcome(instance_id, Outcome.REFUSED, reasons=[f"迁移失败：{message}"]))
    return outcomes
