"""Races and leaks found in review: each fixed behaviour proven, and able to fail."""
from __future__ import annotations

import sqlalchemy as sa

from tests.samples import ASSESS, REGISTER, START
from tests.conftest import deploy_fixture


def _start(api, key="complaint", user="intake1", data=None):
    resp = api.post(f"/api/v1/process-definitions/{key}/start", user=user,
                    json={"data": START if data is None else data})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _make_intake2():
    from app.auth.services import create_or_update_user, resolve_groups
    from app.extensions import db
    user, _ = create_or_update_user("intake2", "demo12345", "受理员 二号", resolve_groups(["intake"]))
    db.session.commit()
    return user.id


def test_a_claim_that_lands_during_a_completion_wins_and_the_completion_gets_409(seeded, api, monkeypatch):
    from app.extensions import db
    from app.tasks import services as task_services
    from app.tasks.models import HumanTask
    intake2 = _make_intake2()
    started = _start(api)
    task_id = started["tasks"][0]["id"]
    original = task_services.processes.lock_instance

    def claim_in_between(instance_id):      # intake2 claims after intake1's checks passed
        with db.engine.begin() as conn:
            conn.execute(sa.update(HumanTask.__table__).where(HumanTask.__table__.c.id == task_id)
                         .values(assignee_id=intake2))
        return original(instance_id)
    monkeypatch.setattr(task_services.processes, "lock_instance", claim_in_between)
    resp = api.post(f"/api/v1/tasks/{task_id}/complete", user="intake1", json={"data": REGISTER})
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "claimed_by_other"
    monkeypatch.undo()
    task = api.get(f"/api/v1/tasks/{task_id}", user="intake2").get_json()
    assert task["status"] == "ready" and task["assignee_id"] == intake2
    inst = api.get(f"/api/v1/process-instances/{started['instance']['id']}", user="admin").get_json()
    assert [t["bpmn_id"] for t in inst["open_tasks"]] == ["register"]       # the engine did not advance
    assert api.post(f"/api/v1/tasks/{task_id}/complete", user="intake2", json={"data": REGISTER}).status_code == 200


def test_messages_need_the_right_to_see_the_instance_and_a_valid_correlation(seeded, api):
    deploy_fixture("message_wait.bpmn")
    started = _start(api, "message_wait", user="dispatch1", data={})
    body = {"name": "reply_received", "correlation": {"instance_id": started["instance"]["id"]},
            "payload": {"secret": "x"}}
    resp = api.post("/api/v1/messages", user="callback1", json=body)
    assert resp.status_code == 403
    assert api.get(f"/api/v1/process-instances/{started['instance']['id']}", user="admin").get_json()[
        "open_tasks"] == []                                                   # nothing delivered
    for bad in ({"instance_id": "abc"}, {}, {"other": 1}):
        resp = api.post("/api/v1/messages", user="dispatch1", json={**body, "correlation": bad})
        assert resp.status_code == 422, bad
    assert api.post("/api/v1/messages", user="dispatch1", json=body).status_code == 200


def test_data_may_not_hide_a_helper_and_a_formless_step_takes_no_data(seeded, api):
    deploy_fixture("timer_escalation.bpmn")
    started = _start(api, "timer_escalation", data={})
    task_id = started["tasks"][0]["id"]
    resp = api.post(f"/api/v1/tasks/{task_id}/complete", user="intake1", json={"data": {"note": "x", "now": 1}})
    assert resp.status_code == 422 and "now" in resp.get_json()["error"]["fields"]
    resp = api.post("/api/v1/process-definitions/timer_escalation/start", user="intake1",
                    json={"data": {"anything": 1}})              # no start form: no data
    assert resp.status_code == 422 and "anything" in resp.get_json()["error"]["fields"]


def test_a_non_utf8_file_is_reported_and_the_next_file_still_deploys(app, tmp_path):
    from app.processes.deploy import deploy_folder
    from tests.processes.test_deploy import PROC, write
    (tmp_path / "a_gbk.bpmn").write_bytes(PROC.format(key="gbk", script="x = 1", task_name="审核").encode("gbk"))
    write(tmp_path, "b_good.bpmn", key="good")
    outcomes = {o.file: o for o in deploy_folder(tmp_path)}
    assert "UTF-8" in outcomes["a_gbk.bpmn"].problems[0].message
    assert outcomes["b_good.bpmn"].created


def test_lanes_without_a_group_warn_and_a_redeploy_after_creating_it_offers_the_tasks(app):
    from app.auth.models import GroupKind
    from app.auth.services import ensure_group
    from app.extensions import db
    from app.processes.deploy import deploy_folder
    from app.seed import DEMO_GROUPS
    first = [o for o in deploy_folder() if o.key == "complaint"][0]
    assert first.created and any("受理员" in w or "intake" in w for w in first.warnings)
    for name, title, _ in DEMO_GROUPS:
        ensure_group(name, title, GroupKind.LANE)
    db.session.commit()
    second = [o for o in deploy_folder() if o.key == "complaint"][0]
    assert second.created and second.version == first.version + 1 and second.warnings == []
    third = [o for o in deploy_folder() if o.key == "complaint"][0]
    assert not third.created


def test_an_assignee_property_assigns_the_task_to_the_initiator(seeded, api, tmp_path):
    from app.processes.deploy import deploy_file
    from tests.processes.test_deploy import PROC
    text = PROC.format(key="assigned", script="x = 1", task_name="本人核对").replace(
        '<spiffworkflow:property name="candidateGroups" value="intake" />',
        '<spiffworkflow:property name="candidateGroups" value="intake" />'
        '<spiffworkflow:property name="assignee" value="initiator" />')
    (tmp_path / "assigned.bpmn").write_text(text, encoding="utf-8")
    assert deploy_file(tmp_path / "assigned.bpmn", forms_dir=str(tmp_path))[0].created
    started = _start(api, "assigned", user="intake1", data={})
    mine = api.get("/api/v1/tasks?scope=mine", user="intake1").get_json()
    assert [t["id"] for t in mine["items"]] == [started["tasks"][0]["id"]]


def test_the_engine_cache_is_bypassed_when_another_node_moved_the_instance_on(seeded, api, app):
    """Another process completes the task (new state at rev+1); this process's cached workflow for
    the old rev must not be used: the next action must see the new state."""
    from app.engine import runtime
    from app.extensions import db
    from app.processes.models import ProcessInstance
    started = _start(api)
    instance_id, task_id = started["instance"]["id"], started["tasks"][0]["id"]
    old_rev = db.session.get(ProcessInstance, instance_id).rev
    assert (instance_id, old_rev) in runtime._live
    cached = runtime._live[(instance_id, old_rev)]
    # "another node": complete the task with the cache emptied, then put the stale workflow back
    runtime._live.clear()
    assert api.post(f"/api/v1/tasks/{task_id}/complete", user="intake1", json={"data": REGISTER}).status_code == 200
    runtime._live.clear()
    runtime._live[(instance_id, old_rev)] = cached
    inst = api.get(f"/api/v1/process-instances/{instance_id}", user="admin").get_json()
    assert [t["bpmn_id"] for t in inst["open_tasks"]] == ["assess"]
    assess_id = inst["open_tasks"][0]["id"]
    detail = api.get(f"/api/v1/tasks/{assess_id}", user="dispatch1").get_json()
    assert detail["data"]["in_scope"] is True              # read from the new state, not the stale cache
    resp = api.post(f"/api/v1/tasks/{assess_id}/complete", user="dispatch1",
                    json={"data": ASSESS})
    assert resp.status_code == 200, resp.get_json()
