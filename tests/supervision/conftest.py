"""Fixtures for supervision: units, supervisors and rows inserted directly (cases, instances, human
tasks, audit events), so the numbers do not depend on how a diagram happens to be drawn today."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest

CST = timezone(timedelta(hours=8))
PASSWORD = "demo12345"


def cst(*parts) -> datetime:
    return datetime(*parts, tzinfo=CST)


@pytest.fixture
def people(app, db):
    """Units A and B, their supervisors and workers, an administrator and a plain caseworker."""
    from app.auth.models import GroupKind
    from app.auth.services import create_or_update_user, ensure_group
    groups = {name: ensure_group(name, title, kind) for name, title, kind in [
        ("admin", "系统管理员", GroupKind.ROLE), ("supervisor", "督办员", GroupKind.ROLE),
        ("unit_a", "甲局", GroupKind.UNIT), ("unit_b", "乙局", GroupKind.UNIT),
        ("unit_a_head", "甲局负责人", GroupKind.LANE), ("intake", "受理员", GroupKind.LANE)]}
    users = {}
    for username, name, member_of in [
            ("boss", "管理员 甲", ["admin"]), ("sup_a", "督办员 甲", ["supervisor", "unit_a"]),
            ("sup_b", "督办员 乙", ["supervisor", "unit_b"]), ("sup_none", "督办员 无单位", ["supervisor"]),
            ("worker_a", "经办人 甲一", ["unit_a"]), ("worker_a2", "经办人 甲二", ["unit_a"]),
            ("head_a", "负责人 甲", ["unit_a_head"]), ("worker_b", "经办人 乙一", ["unit_b"]),
            ("clerk", "受理员 丙", ["intake"])]:
        users[username], _ = create_or_update_user(username, PASSWORD, name, [groups[g] for g in member_of])
    db.session.commit()
    return users


class Rows:
    """Direct inserts with explicit times (flush only; the test commits)."""

    def __init__(self, db):
        self.db = db
        self._definitions = {}

    def definition(self, key):
        from app.processes.models import ProcessDefinition
        if key not in self._definitions:
            row = ProcessDefinition(key=key, version=1, name=key, content_hash="0" * 64, source_file=f"{key}.bpmn",
                                    bpmn_xml="<definitions/>", dmn_xml={}, forms={}, meta={"tasks": {}})
            self.db.session.add(row)
            self.db.session.flush()
            self._definitions[key] = row
        return self._definitions[key]

    def case(self, key, created, closed=None, *, unit=None, channel="hotline_12345", district="江海区",
             company="示例公司", confidential=False, instance_status=None):
        from app.cases.models import Case
        from app.processes.models import ProcessInstance
        case = Case(process_key=key, title=f"{key} 工单", status="closed" if closed else "open", channel=channel,
                    district=district, company_name=company, unit=unit, is_confidential=confidential,
                    created_at=created, closed_at=closed)
        self.db.session.add(case)
        self.db.session.flush()
        case.number = f"JM-T-{case.id:06d}"
        instance = ProcessInstance(definition_id=self.definition(key).id, case_id=case.id,
                                   status=instance_status or ("completed" if closed else "running"),
                                   state=b"", serializer_version="1", started_at=created, ended_at=closed)
        self.db.session.add(instance)
        self.db.session.flush()
        case.instance = instance
        return case

    def task(self, case, bpmn_id, *, status="completed", created=None, due=None, warn=None, done=None,
             groups=("handler",), assignee=None, paused=None, name=None, deadline=None, done_by=None):
        from app.tasks.models import HumanTask, HumanTaskCandidate
        task = HumanTask(instance_id=case.instance.id, case_id=case.id, process_key=case.process_key,
                         spiff_task_id=str(uuid.uuid4()),
                         bpmn_id=bpmn_id, name=name or bpmn_id, candidate_groups=list(groups), status=status,
                         created_at=created or case.created_at, due_at=due, warn_at=warn, completed_at=done,
                         assignee_id=assignee.id if assignee else None, paused_at=paused, deadline=deadline,
                         completed_by_id=done_by.id if done_by else None)
        self.db.session.add(task)
        self.db.session.flush()
        for group in groups:
            self.db.session.add(HumanTaskCandidate(group_name=group, task_id=task.id))
        self.db.session.flush()
        return task

    def done(self, case, bpmn_id, at, data=None, *, due=None, created=None):
        """A completed task and its audit "complete" event carrying the form data."""
        from app.tasks.models import outcome_of
        task = self.task(case, bpmn_id, status="completed", created=created or at - timedelta(hours=1), due=due,
                         done=at)
        task.outcome = outcome_of(data)   # as completing the task through the app records it
        self.audit(case, "complete", at, data or {}, task=task)
        return task

    def audit(self, case, action, at, data=None, *, task=None, bpmn_id=None, actor=None):
        from app.audit.models import AuditEvent
        event = AuditEvent(at=at, action=action, case_id=case.id, instance_id=case.instance.id,
                           human_task_id=task.id if task else None, bpmn_id=task.bpmn_id if task else bpmn_id,
                           label=task.name if task else bpmn_id, data=data, actor_id=actor.id if actor else None)
        self.db.session.add(event)
        self.db.session.flush()
        return event


@pytest.fixture
def rows(db):
    return Rows(db)
