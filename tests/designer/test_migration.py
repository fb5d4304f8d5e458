"""Migrating running instances to the latest version: refused with reasons when unsafe, and a
migrated instance carries on (and completes) on the new version."""
from __future__ import annotations

import sqlalchemy as sa

from tests.designer.conftest import linear, user

V1 = linear("mig", [("register", "登记"), ("review", "审核")])
# v2 removes review and adds check after register: register is unchanged, review is gone
V2 = linear("mig", [("register", "登记"), ("check", "复核（v2 新增）")])
NOTE = {"note": "已办理"}


def deploy(xml, message="测试"):
    from app.designer import services
    outcomes = services.deploy_xml(xml, message, user("designer"))
    assert outcomes[0].created, outcomes
    return outcomes[0].version


def start(key="mig"):
    from app.processes.running import start_process
    instance, _ = start_process(key, {}, user("intake1"))
    return instance.id


def open_tasks(instance_id):
    from app.extensions import db
    from app.tasks.models import HumanTask, TaskStatus
    return list(db.session.execute(sa.select(HumanTask).where(
        HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.READY).order_by(HumanTask.id)).scalars())


def complete(api, instance_id, bpmn_id):
    [task] = open_tasks(instance_id)
    assert task.bpmn_id == bpmn_id
    resp = api.post(f"/api/v1/tasks/{task.id}/complete", user="intake1", json={"data": NOTE})
    assert resp.status_code == 200, resp.get_json()


def instance_row(instance_id):
    from app.extensions import db
    from app.processes.models import ProcessInstance
    db.session.expire_all()
    return db.session.get(ProcessInstance, instance_id)


def test_unsafe_instance_is_refused_and_safe_one_migrates_and_completes_on_the_new_version(users, fixture_forms, api):
    from app.audit.models import AuditEvent
    from app.designer.migrate import migrate_instance
    from app.extensions import db
    from app.processes.versions import get_bundle
    deploy(V1)
    waiting_on_register = start()
    waiting_on_review = start()
    complete(api, waiting_on_review, "register")
    [before] = open_tasks(waiting_on_register)
    rev_before = instance_row(waiting_on_register).rev
    deploy(V2)

    refused = migrate_instance(waiting_on_review)
    assert refused.status == "refused" and (refused.from_version, refused.to_version) == (1, 2)
    assert any("review" in r and "已删除" in r for r in refused.reasons), refused.reasons
    assert get_bundle(instance_row(waiting_on_review).definition_id).version == 1   # untouched

    done = migrate_instance(waiting_on_register, actor=user("designer"))
    assert done.status == "migrated", done.reasons
    row = instance_row(waiting_on_register)
    assert get_bundle(row.definition_id).version == 2 and row.rev == rev_before + 1
    [after] = open_tasks(waiting_on_register)
    # SpiffWorkflow keeps the id of an unchanged task: the same human task row, nothing re-created
    assert (after.id, after.spiff_task_id) == (before.id, before.spiff_task_id)
    audit = db.session.execute(sa.select(AuditEvent).where(
        AuditEvent.instance_id == waiting_on_register, AuditEvent.action == "migrate")).scalar_one()
    assert audit.data["from_version"] == 1 and audit.data["to_version"] == 2
    assert audit.actor_id == user("designer").id

    complete(api, waiting_on_register, "register")
    complete(api, waiting_on_register, "check")          # the step that exists only in v2
    assert instance_row(waiting_on_register).status == "completed"
    resp = api.get(f"/api/v1/process-instances/{waiting_on_register}", user="admin")
    assert resp.get_json()["process_version"] == 2
    assert [h["action"] for h in resp.get_json()["history"]].count("migrate") == 1


def test_a_changed_waiting_task_is_refused_naming_element_and_change(users, fixture_forms):
    from app.designer.migrate import migrate_instance
    deploy(V1)
    instance_id = start()
    deploy(linear("mig", [("register", "登记（改名）"), ("review", "审核")]))
    outcome = migrate_instance(instance_id)
    assert outcome.status == "refused"
    assert outcome.reasons == ["实例正在等待办理的步骤 register（登记） 在新版本中有改动：名称"]


def test_a_removed_step_of_the_history_is_refused(users, fixture_forms, api):
    from app.designer.migrate import migrate_instance
    deploy(V1)
    instance_id = start()
    complete(api, instance_id, "register")
    deploy(linear("mig", [("review", "审核")]))       # review unchanged, but register is gone
    outcome = migrate_instance(instance_id)
    assert outcome.status == "refused"
    assert any("register" in r and "已完成" in r for r in outcome.reasons), outcome.reasons


def test_dry_run_changes_nothing_and_bulk_migrates_each_on_its_own(users, fixture_forms, api):
    from app.designer.migrate import migrate_instances
    from app.processes.versions import get_bundle
    deploy(V1)
    first, second = start(), start()
    complete(api, second, "register")
    deploy(V2)
    dry = migrate_instances("mig", from_version=1, dry_run=True)
    assert [(o.instance_id, o.status) for o in dry] == [(first, "would_migrate"), (second, "refused")]
    assert get_bundle(instance_row(first).definition_id).version == 1
    outcomes = migrate_instances("mig")
    assert [(o.instance_id, o.status) for o in outcomes] == [(first, "migrated"), (second, "refused")]
    assert get_bundle(instance_row(first).definition_id).version == 2
    again = migrate_instances("mig", instance_ids=[first])
    assert again[0].status == "current"


def test_a_waiting_timer_keeps_its_due_time(users, fixture_forms):
    from app.deadlines.models import JobKind, TimerJob
    from app.designer.migrate import migrate_instance
    from app.extensions import db
    deploy(linear("mig", [("register", "登记"), ("review", "审核")], timer_on="register"))
    instance_id = start()
    [job] = db.session.execute(sa.select(TimerJob).where(
        TimerJob.instance_id == instance_id, TimerJob.kind == JobKind.BPMN_TIMER)).scalars().all()
    due, spiff_id = job.due_at, job.spiff_task_id
    deploy(linear("mig", [("register", "登记"), ("check", "复核")], timer_on="register"))
    assert migrate_instance(instance_id).status == "migrated"
    db.session.expire_all()
    jobs = db.session.execute(sa.select(TimerJob).where(
        TimerJob.instance_id == instance_id, TimerJob.kind == JobKind.BPMN_TIMER)).scalars().all()
    assert [(j.spiff_task_id, j.due_at, j.status) for j in jobs] == [(spiff_id, due, "pending")]


def test_adding_a_boundary_timer_to_the_waiting_task_is_a_change(users, fixture_forms):
    from app.designer.migrate import migrate_instance
    deploy(V1)
    instance_id = start()
    deploy(linear("mig", [("register", "登记"), ("review", "审核")], timer_on="register"))
    outcome = migrate_instance(instance_id)
    assert outcome.status == "refused" and "边界事件" in outcome.reasons[0], outcome.reasons


def test_an_instance_of_another_process_is_refused(users, fixture_forms):
    from app.designer.migrate import migrate_instances
    deploy(V1)
    instance_id = start()
    deploy(linear("other", [("a", "登记")]))
    [outcome] = migrate_instances("other", instance_ids=[instance_id])
    assert outcome.status == "refused" and outcome.reasons == ["该实例属于流程 mig，不属于 other"]
    [unknown] = migrate_instances("other", instance_ids=[999999])
    assert unknown.status == "refused" and unknown.reasons == ["找不到该流程实例"]


def test_an_unexpected_error_is_a_generic_chinese_reason_and_is_logged(users, fixture_forms, monkeypatch, caplog):
    """One instance failing does not stop the others; the person sees no exception text, the log has it."""
    from app.designer import migrate
    from app.errors import Conflict
    deploy(V1)
    first, second, third = start(), start(), start()
    deploy(V2)
    real = migrate.migrate_instance

    def flaky(instance_id, **kw):
        if instance_id == first:
            raise RuntimeError("internal detail: connection string postgres://secret")
        if instance_id == second:
            raise Conflict("该实例正被他人处理，请稍后再试")
        return real(instance_id, **kw)

    monkeypatch.setattr(migrate, "migrate_instance", flaky)
    with caplog.at_level("ERROR", logger="app.designer.migrate"):
        outcomes = migrate.migrate_instances("mig")
    assert [(o.instance_id, o.status) for o in outcomes] == [(first, "refused"), (second, "refused"),
                                                             (third, "migrated")]
    assert outcomes[0].reasons == ["迁移失败：发生内部错误，该实例保持不变，请联系系统管理员查看日志"]
    assert outcomes[1].reasons == ["迁移失败：该实例正被他人处理，请稍后再试"]
    logged = [r for r in caplog.records if r.name == "app.designer.migrate"]
    assert any(r.exc_info and "postgres://secret" in str(r.exc_info[1]) for r in logged)
