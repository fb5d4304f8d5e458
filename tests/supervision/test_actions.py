"""The supervisor's actions: each writes an audit event and a notification, and refuses a missing note;
incidents and script errors can be retried."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.conftest import deploy_fixture
from tests.supervision.conftest import cst

NOW = cst(2025, 3, 20, 10, 0)


@pytest.fixture
def work(people, rows, db, clock):
    """An overdue task of unit A (offered to the group), one claimed by worker_a, one of unit B."""
    clock.set(NOW)
    case_a = rows.case("complaint", cst(2025, 3, 17, 9), unit="unit_a")
    case_b = rows.case("complaint", cst(2025, 3, 17, 9), unit="unit_b")
    recipe = {"start": cst(2025, 3, 17, 9).isoformat(), "steps": ["2WD"], "warn": None, "pauses": []}
    tasks = {
        "open": rows.task(case_a, "handle", status="ready", groups=["unit_a"], due=cst(2025, 3, 19, 23, 59, 59),
                          name="办理", deadline=recipe),
        "claimed": rows.task(case_a, "reply", status="ready", groups=["unit_a"], due=cst(2025, 3, 19, 23, 59, 59),
                             name="答复", assignee=people["worker_a"]),
        "b": rows.task(case_b, "handle", status="ready", groups=["unit_b"], due=cst(2025, 3, 19, 23, 59, 59),
                       name="办理"),
    }
    db.session.commit()
    return {k: t.id for k, t in tasks.items()}


def _audit(db, action):
    from app.audit.models import AuditEvent
    return db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == action)
                              .order_by(AuditEvent.id)).scalars().all()


def _notes(db, user=None):
    from app.notifications.models import Notification
    stmt = sa.select(Notification).order_by(Notification.id)
    if user is not None:
        stmt = stmt.where(Notification.user_id == user.id)
    return db.session.execute(stmt).scalars().all()


def _missing_note(resp):
    assert resp.status_code == 422, resp.get_json()
    err = resp.get_json()["error"]
    assert err["code"] == "validation_failed" and err["fields"] == {"note": ["必填"]}
    assert "说明" in err["message"]


def test_remind_notifies_the_group_and_is_audited(work, api, db, people):
    url = f"/api/v1/supervision/tasks/{work['open']}/remind"
    _missing_note(api.post(url, user="sup_a", json={"note": "   "}))
    assert _audit(db, "remind") == [] and _notes(db) == []
    resp = api.post(url, user="sup_a", json={"note": "请今日内办结"})
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["action"] == "remind" and body["task_id"] == work["open"]
    assert sorted(body["notified"]) == sorted([people["worker_a"].id, people["worker_a2"].id])
    [event] = _audit(db, "remind")
    assert event.data == {"note": "请今日内办结"} and event.actor_id == people["sup_a"].id
    assert event.human_task_id == work["open"] and event.bpmn_id == "handle"
    note = _notes(db, people["worker_a"])[0]
    assert note.kind == "remind" and note.title == "催办：办理" and "请今日内办结" in note.body
    assert api.post(f"/api/v1/supervision/tasks/{work['b']}/remind", user="sup_a",
                    json={"note": "x"}).status_code == 403
    assert api.post(url, user="worker_a", json={"note": "x"}).status_code == 403


def test_a_claimed_task_reminds_only_its_assignee(work, api, db, people):
    resp = api.post(f"/api/v1/supervision/tasks/{work['claimed']}/remind", user="boss", json={"note": "抓紧"})
    assert resp.get_json()["notified"] == [people["worker_a"].id]


def test_supervise_keeps_the_deadline_and_the_lists_show_it(work, api, db, people):
    url = f"/api/v1/supervision/tasks/{work['open']}/supervise"
    _missing_note(api.post(url, user="sup_a", json={"deadline": "2025-03-25T17:00"}))
    past = api.post(url, user="sup_a", json={"note": "限期办结", "deadline": "2025-03-19T17:00"})
    assert past.status_code == 422 and past.get_json()["error"]["fields"] == {"deadline": ["必须晚于当前时间"]}
    missing = api.post(url, user="sup_a", json={"note": "限期办结"})
    assert missing.status_code == 422 and "deadline" in missing.get_json()["error"]["fields"]
    for extreme in ("9999-12-31T23:59-12:00", "0001-01-01T00:00+14:00"):   # past the calendar once in UTC
        far = api.post(url, user="sup_a", json={"note": "限期办结", "deadline": extreme})
        assert far.status_code == 422, far.get_json()
        assert far.get_json()["error"]["fields"] == {"deadline": ["日期须在 2000 至 2100 年之间"]}
    resp = api.post(url, user="sup_a", json={"note": "限期办结", "deadline": "2025-03-25T17:00"})
    assert resp.status_code == 200, resp.get_json()
    [event] = _audit(db, "supervise")
    assert event.data == {"note": "限期办结", "deadline": "2025-03-25T17:00:00+08:00"}
    note = _notes(db, people["worker_a2"])[0]
    assert note.kind == "supervise" and "2025-03-25 17:00" in note.body
    rows = api.get("/api/v1/supervision/overdue", user="sup_a").get_json()["items"]
    row = next(r for r in rows if r["task_id"] == work["open"])
    assert row["supervise_deadline"].startswith("2025-03-25T09:00:00")   # shown in UTC like every time
    assert next(r for r in rows if r["task_id"] == work["claimed"])["supervise_deadline"] is None


def test_reassign_to_a_member_of_the_task_groups_only(work, api, db, people):
    url = f"/api/v1/supervision/tasks/{work['claimed']}/reassign"
    _missing_note(api.post(url, user="sup_a", json={"username": "worker_a2"}))
    outsider = api.post(url, user="sup_a", json={"username": "worker_b", "note": "换人"})
    assert outsider.status_code == 422 and outsider.get_json()["error"]["fields"] == {"username": ["不在候选用户组中"]}
    nobody = api.post(url, user="sup_a", json={"username": "ghost", "note": "换人"})
    assert nobody.status_code == 422
    resp = api.post(url, user="sup_a", json={"username": "worker_a2", "note": "原经办人休假"})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["data"] == {"from": "worker_a", "to": "worker_a2"}
    from app.tasks.models import HumanTask
    db.session.expire_all()
    assert db.session.get(HumanTask, work["claimed"]).assignee_id == people["worker_a2"].id
    [event] = _audit(db, "reassign")
    assert event.data == {"note": "原经办人休假", "from": "worker_a", "to": "worker_a2"}
    assert [n.kind for n in _notes(db, people["worker_a2"])] == ["assigned"]
    assert [n.kind for n in _notes(db, people["worker_a"])] == ["info"]


def test_approving_an_extension_moves_the_due_date(work, api, db, people):
    from app.deadlines.models import TimerJob
    from app.tasks.models import HumanTask
    url = f"/api/v1/supervision/tasks/{work['open']}/extension"
    _missing_note(api.post(url, user="sup_a", json={"decision": "approve", "days": 3}))
    no_days = api.post(url, user="sup_a", json={"decision": "approve", "note": "同意"})
    assert no_days.status_code == 422 and "days" in no_days.get_json()["error"]["fields"]
    assert api.post(url, user="sup_a", json={"decision": "maybe", "note": "同意"}).status_code == 422
    resp = api.post(url, user="sup_a", json={"decision": "approve", "days": 3, "note": "需现场核查，同意延期"})
    assert resp.status_code == 200, resp.get_json()
    db.session.expire_all()
    task = db.session.get(HumanTask, work["open"])
    # 2 WD from Mon 03-17 = Wed 03-19; + 3 WD = Mon 03-24, end of day
    assert task.due_at == cst(2025, 3, 24, 23, 59, 59) and task.deadline["steps"] == ["2WD", "3WD"]
    [event] = _audit(db, "extend")
    assert event.data["reason"] == "需现场核查，同意延期" and event.data["duration"] == "3WD"
    assert event.actor_id == people["sup_a"].id
    note = _notes(db, people["worker_a"])[0]
    assert note.title == "延期已批准：办理" and "2025-03-24 23:59" in note.body
    jobs = db.session.execute(sa.select(TimerJob).where(TimerJob.human_task_id == work["open"],
                                                        TimerJob.status == "pending")).scalars().all()
    assert {j.due_at for j in jobs if j.kind == "overdue"} == {task.due_at}


def test_refusing_an_extension_is_audited_and_told(work, api, db, people):
    from app.tasks.models import HumanTask
    url = f"/api/v1/supervision/tasks/{work['open']}/extension"
    _missing_note(api.post(url, user="sup_a", json={"decision": "refuse"}))
    resp = api.post(url, user="sup_a", json={"decision": "refuse", "days": 5, "note": "理由不充分"})
    assert resp.status_code == 200, resp.get_json()
    [event] = _audit(db, "refuse_extension")
    assert event.data == {"note": "理由不充分", "days": 5}
    db.session.expire_all()
    assert db.session.get(HumanTask, work["open"]).due_at == cst(2025, 3, 19, 23, 59, 59)
    assert _notes(db, people["worker_a"])[0].title == "延期申请未获批准：办理"


def test_actions_on_a_finished_task_are_refused(work, api, db):
    from app.tasks.models import HumanTask
    db.session.get(HumanTask, work["open"]).status = "completed"
    db.session.commit()
    resp = api.post(f"/api/v1/supervision/tasks/{work['open']}/remind", user="boss", json={"note": "x"})
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "task_not_ready"
    assert api.post("/api/v1/supervision/tasks/999999/remind", user="boss", json={"note": "x"}).status_code == 404


# --- incidents ------------------------------------------------------------------------------------

@pytest.fixture
def incident(work, db):
    from app.deadlines.models import Incident, TimerJob
    from app.tasks.models import HumanTask
    task = db.session.get(HumanTask, work["open"])
    job = TimerJob(kind="overdue", instance_id=task.instance_id, human_task_id=task.id, bpmn_id=task.bpmn_id,
                   due_at=task.due_at, status="failed", attempts=5, last_error="OperationalError: database is locked",
                   created_at=task.due_at)
    db.session.add(job)
    db.session.flush()
    row = Incident(kind="overdue", job_id=job.id, instance_id=task.instance_id, human_task_id=task.id,
                   message="第 5 次执行仍失败：OperationalError: database is locked", created_at=NOW - timedelta(hours=1))
    db.session.add(row)
    db.session.commit()
    return {"id": row.id, "job_id": job.id}


def test_incidents_are_listed_in_scope_and_retried(incident, api, db, people):
    from app.deadlines.dispatcher import dispatch_due_jobs
    from app.deadlines.models import Incident, TimerJob
    listed = api.get("/api/v1/supervision/incidents", user="sup_a").get_json()
    assert [(i["source"], i["id"]) for i in listed["items"]] == [("job", incident["id"])]
    assert listed["items"][0]["attempts"] == 5 and listed["items"][0]["kind_label"] == "超期提醒"
    assert api.get("/api/v1/supervision/incidents", user="sup_b").get_json()["items"] == []
    assert api.get("/api/v1/supervision/incidents", user="clerk").status_code == 403
    csv = api.get("/api/v1/supervision/incidents?format=csv", user="sup_a")
    assert csv.status_code == 200 and "database is locked" in csv.data.decode("utf-8-sig")
    url = f"/api/v1/supervision/incidents/{incident['id']}/retry"
    assert api.post(url, user="sup_b", json={"note": "重试"}).status_code == 403
    _missing_note(api.post(url, user="sup_a", json={}))
    resp = api.post(url, user="sup_a", json={"note": "数据库已恢复，重试"})
    assert resp.status_code == 200, resp.get_json()
    db.session.expire_all()
    job = db.session.get(TimerJob, incident["job_id"])
    assert (job.status, job.attempts, job.locked_by) == ("pending", 0, None)
    assert db.session.get(Incident, incident["id"]).resolved_by_id == people["sup_a"].id
    [event] = _audit(db, "retry")
    assert event.data["incident_id"] == incident["id"] and event.data["note"] == "数据库已恢复，重试"
    assert _notes(db, people["worker_a"])[0].title == "失败作业已重新执行"
    assert api.get("/api/v1/supervision/incidents", user="sup_a").get_json()["items"] == []
    again = api.post(url, user="sup_a", json={"note": "再试"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_resolved"
    # the dispatcher runs the job again on its next tick: the task turns red and the ladder goes on
    report = dispatch_due_jobs(now=NOW + timedelta(seconds=1))
    assert incident["job_id"] in report.job_ids and report.failed == 0
    db.session.expire_all()
    assert db.session.get(TimerJob, incident["job_id"]).status == "done"
    from app.tasks.models import HumanTask
    task = db.session.get(HumanTask, event.human_task_id)
    assert task.sla_state == "red" and task.escalation_step == "notice"   # 超期, then 催办通知书 (due 09:00)


# --- script errors: the real engine --------------------------------------------------------------------

def _start(api, key, user="clerk", data=None):
    resp = api.post(f"/api/v1/process-definitions/{key}/start", user=user, json={"data": data or {}})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_a_script_error_is_listed_and_retried_with_the_saved_input(people, api, db, clock):
    from app.tasks.models import HumanTask
    clock.set(NOW)
    deploy_fixture("script_error.bpmn")
    started = _start(api, "script_error")
    task_id, instance_id = started["tasks"][0]["id"], started["instance"]["id"]
    assert api.post(f"/api/v1/tasks/{task_id}/complete", user="clerk",
                    json={"data": {"note": "请核实"}}).status_code == 422        # no divisor: the script fails
    items = api.get("/api/v1/supervision/incidents", user="boss").get_json()["items"]
    assert [(i["source"], i["id"], i["element"], i["line"]) for i in items] == [("script", instance_id, "broken", 2)]
    assert api.get("/api/v1/supervision/incidents", user="sup_a").get_json()["items"] == []
    url = f"/api/v1/supervision/instances/{instance_id}/retry"
    assert api.post(url, user="sup_a", json={"note": "重试"}).status_code == 403
    _missing_note(api.post(url, user="boss", json={}))
    failed = api.post(url, user="boss", json={"note": "先重试一次"})              # the same input fails again
    assert failed.status_code == 422 and failed.get_json()["error"]["message"].startswith("重试失败")
    assert _audit(db, "retry")[-1].data["outcome"] == "failed"
    # the saved input is corrected (as an administrator would after reading the error), then retried
    db.session.get(HumanTask, task_id).draft = {"note": "请核实", "divisor": 4}
    db.session.commit()
    resp = api.post(url, user="boss", json={"note": "已补充除数，重试"})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["data"] == {"replayed": "complete", "as": "clerk"}
    inst = api.get(f"/api/v1/process-instances/{instance_id}", user="boss").get_json()
    assert inst["status"] == "completed" and inst["error"] is None and inst["data"]["ratio"] == 2.5
    history = inst["history"]
    assert [h["action"] for h in history] == ["start", "error", "error", "retry", "retry", "complete", "end"]
    assert history[-2]["actor"] == "clerk" and history[-3]["actor"] == "boss"   # completed as its author
    assert history[-3]["data"]["note"] == "已补充除数，重试" and history[-4]["data"]["outcome"] == "failed"
    assert _notes(db, people["clerk"])[-1].title == "流程异常已重试：填写"
    again = api.post(url, user="boss", json={"note": "再试"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "not_in_error"


def test_a_failed_timer_is_fired_again(people, api, db, clock):
    from app import engine
    from app.processes.running import record_script_error
    clock.set(NOW)
    deploy_fixture("timer_escalation.bpmn")
    instance_id = _start(api, "timer_escalation")["instance"]["id"]
    clock.set(NOW + timedelta(hours=2))                        # the 1-hour boundary timer is due
    record_script_error(instance_id, engine.ScriptError("连接超时", "deadline", "超时", None), None)
    resp = api.post(f"/api/v1/supervision/instances/{instance_id}/retry", user="boss", json={"note": "重新触发"})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["data"] == {"replayed": "timer", "fired": ["deadline"]}
    inst = api.get(f"/api/v1/process-instances/{instance_id}", user="boss").get_json()
    assert inst["status"] == "running" and [t["bpmn_id"] for t in inst["open_tasks"]] == ["escalate"]
    assert [h["action"] for h in inst["history"]][-2:] == ["retry", "timer"]
    assert _notes(db, people["clerk"])[-1].title == "流程异常已重试"          # whoever started it


def test_a_message_error_cannot_be_replayed(people, api, db, clock):
    from app import engine
    from app.processes.running import record_script_error
    clock.set(NOW)
    deploy_fixture("timer_escalation.bpmn")
    instance_id = _start(api, "timer_escalation")["instance"]["id"]
    record_script_error(instance_id, engine.ScriptError("消息脚本出错", "x", "x", 1), people["clerk"].id)
    resp = api.post(f"/api/v1/supervision/instances/{instance_id}/retry", user="boss", json={"note": "重试"})
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "not_retryable"
    assert _audit(db, "retry") == []
