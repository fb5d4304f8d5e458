"""Actions on instances: script errors roll back, timers fire with an injected clock, messages arrive."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.conftest import deploy_fixture


@pytest.fixture
def users(app, db):
    from app.seed import seed_demo_users
    seed_demo_users("demo12345")


def _start(api, key, user="intake1", data=None):
    resp = api.post(f"/api/v1/process-definitions/{key}/start", user=user, json={"data": data or {}})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_a_script_error_marks_the_instance_and_rolls_the_action_back(users, api):
    deploy_fixture("script_error.bpmn")
    started = _start(api, "script_error")
    task_id, instance_id = started["tasks"][0]["id"], started["instance"]["id"]
    resp = api.post(f"/api/v1/tasks/{task_id}/complete", user="intake1", json={"data": {"note": "请核实"}})
    assert resp.status_code == 422
    err = resp.get_json()["error"]
    assert err["code"] == "process_error"
    assert err["element_id"] == "broken" and err["line"] == 2
    assert "计算比例" in err["message"] and "divisor" in err["message"]
    # the action rolled back: the task is still open, the input kept as a draft
    task = api.get(f"/api/v1/tasks/{task_id}", user="intake1").get_json()
    assert task["status"] == "ready" and task["draft"] == {"note": "请核实"}
    inst = api.get(f"/api/v1/process-instances/{instance_id}", user="intake1").get_json()
    assert inst["status"] == "error"
    assert inst["error"]["element_id"] == "broken" and inst["error"]["line"] == 2
    assert [h["action"] for h in inst["history"]] == ["start", "error"]
    assert inst["history"][-1]["actor"] == "intake1" and inst["history"][-1]["data"]["line"] == 2
    # with the missing value supplied, a retry succeeds and clears the error
    resp = api.post(f"/api/v1/tasks/{task_id}/complete", user="intake1",
                    json={"data": {"note": "请核实", "divisor": 4}})
    assert resp.status_code == 200, resp.get_json()
    inst = api.get(f"/api/v1/process-instances/{instance_id}", user="intake1").get_json()
    assert inst["status"] == "completed" and inst["error"] is None and inst["data"]["ratio"] == 2.5


def test_a_due_timer_fires_with_an_injected_clock_and_escalates(users, api):
    from app.db import utcnow
    from app.deadlines.models import TimerJob
    from app.extensions import db
    from app.processes.running import fire_instance_timers
    deploy_fixture("timer_escalation.bpmn")
    started = _start(api, "timer_escalation")
    instance_id = started["instance"]["id"]
    job = db.session.execute(db.select(TimerJob).where(TimerJob.kind == "bpmn_timer")).scalar_one()
    assert job.status == "pending" and job.bpmn_id == "deadline"
    assert timedelta(minutes=59) < job.due_at - utcnow() <= timedelta(hours=1)
    assert fire_instance_timers(instance_id, now=utcnow()) == []          # not due yet
    fired = fire_instance_timers(instance_id, now=job.due_at + timedelta(seconds=1))
    assert fired == [("deadline", "超时")]
    inst = api.get(f"/api/v1/process-instances/{instance_id}", user="admin").get_json()
    assert [t["bpmn_id"] for t in inst["open_tasks"]] == ["escalate"]
    assert inst["open_tasks"][0]["candidate_groups"] == ["supervisor"]
    assert [h["action"] for h in inst["history"]] == ["start", "timer"]
    db.session.expire_all()
    assert db.session.execute(db.select(TimerJob).where(TimerJob.kind == "bpmn_timer")).scalar_one().status == "done"
    work = api.get(f"/api/v1/tasks/{started['tasks'][0]['id']}", user="intake1").get_json()
    assert work["status"] == "cancelled"
    assert fire_instance_timers(instance_id, now=job.due_at + timedelta(hours=5)) == []   # fires once


def test_completing_before_the_deadline_cancels_the_timer_job(users, api):
    from app.deadlines.models import TimerJob
    from app.extensions import db
    deploy_fixture("timer_escalation.bpmn")
    started = _start(api, "timer_escalation")
    resp = api.post(f"/api/v1/tasks/{started['tasks'][0]['id']}/complete", user="intake1",
                    json={"data": {"note": "办结"}})
    assert resp.status_code == 200
    db.session.expire_all()
    assert db.session.execute(db.select(TimerJob).where(TimerJob.kind == "bpmn_timer")).scalar_one().status == "cancelled"


def test_a_message_is_delivered_to_the_waiting_instance(users, api):
    deploy_fixture("message_wait.bpmn")
    started = _start(api, "message_wait", user="dispatch1")
    assert started["tasks"] == []
    number = started["case"]["number"]
    resp = api.post("/api/v1/messages", user="dispatch1",
                    json={"name": "reply_received", "correlation": {"case_number": number},
                          "payload": {"text": "已收到整改报告"}})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert [t["bpmn_id"] for t in body["open_tasks"]] == ["evaluate"]
    assert body["data"]["reply"] == {"text": "已收到整改报告"}
    again = api.post("/api/v1/messages", user="dispatch1",
                     json={"name": "reply_received", "correlation": {"case_number": number}, "payload": {}})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "not_waiting"
    missing = api.post("/api/v1/messages", user="dispatch1",
                       json={"name": "reply_received", "correlation": {"case_number": "JM-0000"}})
    assert missing.status_code == 404
