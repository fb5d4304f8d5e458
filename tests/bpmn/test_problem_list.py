"""问题清单 (DOMAIN §2.3 A16): started by the scheduler once a week from a timer start event, with the
recurring problems of the closed cases; listed, rectified per item by the owner units, signed off."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

CST = timezone(timedelta(hours=8))
T0 = datetime(2027, 3, 1, 10, 0, tzinfo=CST)


def _jobs():
    from app.deadlines.models import TimerJob
    from app.extensions import db
    db.session.expire_all()
    return db.session.execute(sa.select(TimerJob).where(TimerJob.kind == "start_process")
                              .order_by(TimerJob.id)).scalars().all()


def _closed_case(number, district, unit, closed_at):
    from app.cases.models import Case
    from app.extensions import db
    db.session.add(Case(number=number, process_key="complaint", status="closed", district=district, unit=unit,
                        created_at=closed_at - timedelta(days=3), closed_at=closed_at))
    db.session.commit()


def _open(api, instance_id):
    return api.get(f"/api/v1/process-instances/{instance_id}", user="admin").get_json()


def _complete(api, task, user, data):
    resp = api.post(f"/api/v1/tasks/{task['id']}/complete", user=user, json={"data": data})
    assert resp.status_code == 200, resp.get_json()


def test_the_weekly_list_is_started_once_collected_rectified_and_closed(seeded, api, app, clock):
    from app.deadlines.dispatcher import dispatch_due_jobs
    from app.processes.models import ProcessInstance
    from app.extensions import db
    (job,) = _jobs()   # deploying the timer-started process scheduled its first start
    assert job.bpmn_id == "problem_list" and job.status == "pending"
    due = job.due_at if job.due_at.tzinfo else job.due_at.replace(tzinfo=timezone.utc)
    for n, (district, unit) in enumerate([("蓬江区", "pj_gov")] * 3 + [("新会区", "jm_scjgj")]):
        _closed_case(f"JM-T-{n}", district, unit, due - timedelta(days=2))

    clock.set(due + timedelta(seconds=1))
    dispatch_due_jobs(now=due + timedelta(seconds=1))
    dispatch_due_jobs(now=due + timedelta(seconds=2))   # a second tick starts nothing more
    started = db.session.execute(sa.select(ProcessInstance)).scalars().all()
    assert len(started) == 1
    jobs = _jobs()
    assert [j.status for j in jobs] == ["done", "pending"]
    nxt = jobs[1].due_at if jobs[1].due_at.tzinfo else jobs[1].due_at.replace(tzinfo=timezone.utc)
    assert nxt == due + timedelta(days=7)

    inst = _open(api, started[0].id)
    # only the repeated problem (3 cases of 蓬江区 / pj_gov) is a cluster
    assert [(c["district"], c["unit"], c["count"]) for c in inst["data"]["clusters"]] == [("蓬江区", "pj_gov", 3)]
    (review,) = inst["open_tasks"]
    assert review["bpmn_id"] == "review" and review["candidate_groups"] == ["dispatch"]
    detail = api.get(f"/api/v1/tasks/{review['id']}", user="dispatch1").get_json()
    assert "蓬江区人民政府" in detail["instructions"] and "3 件" in detail["instructions"]
    _complete(api, review, "dispatch1", {"items": [
        {"no": 1, "problem": "镇级工程款拖欠反复投诉", "frequency": 3, "owner_org": "pj_gov",
         "due_date": "2027-03-31", "measures": "建立工程款支付台账。"},
        {"no": 2, "problem": "检测机构指定问题", "frequency": 1, "owner_org": "jm_scjgj", "due_date": "2027-03-31"}]})
    tasks = _open(api, started[0].id)["open_tasks"]
    assert sorted((t["bpmn_id"], tuple(t["candidate_groups"])) for t in tasks) == [
        ("rectify", ("jm_scjgj",)), ("rectify", ("pj_gov",))]
    for task in tasks:
        user = "handler_pj" if task["candidate_groups"] == ["pj_gov"] else "handler1"
        _complete(api, task, user, {"rectification": "已整改。"})
    (signoff,) = _open(api, started[0].id)["open_tasks"]
    _complete(api, signoff, "dispatch1", {"all_closed": False, "signoff_note": "第2项证据不足。"})
    tasks = _open(api, started[0].id)["open_tasks"]
    assert [t["bpmn_id"] for t in tasks] == ["rectify", "rectify"]   # back to the owners
    for task in tasks:
        user = "handler_pj" if task["candidate_groups"] == ["pj_gov"] else "handler1"
        _complete(api, task, user, {"rectification": "补充整改证据。"})
    (signoff,) = _open(api, started[0].id)["open_tasks"]
    _complete(api, signoff, "dispatch1", {"all_closed": True, "signoff_note": "全部销号。"})
    final = _open(api, started[0].id)
    assert final["status"] == "completed", (final["open_tasks"], final["data"].get("all_closed"), final["history"][-3:])
    assert [r["owner_org"] for r in final["data"]["rectifications"]] == ["pj_gov", "jm_scjgj"]


def test_an_empty_list_ends_at_once(seeded, api, app, clock):
    from app.deadlines.dispatcher import dispatch_due_jobs
    from app.processes.models import ProcessInstance
    from app.extensions import db
    (job,) = _jobs()
    due = job.due_at if job.due_at.tzinfo else job.due_at.replace(tzinfo=timezone.utc)
    clock.set(due + timedelta(seconds=1))
    dispatch_due_jobs(now=due + timedelta(seconds=1))
    inst = db.session.execute(sa.select(ProcessInstance)).scalar_one()
    (review,) = _open(api, inst.id)["open_tasks"]
    _complete(api, review, "dispatch1", {"items": []})
    assert _open(api, inst.id)["status"] == "completed"


def test_a_retried_start_job_starts_nothing_twice_and_keeps_its_period(seeded, api, app, clock):
    """A crash after the start committed but before the dispatcher marked the job done: the retry
    finds the next period's job (committed with the start) and starts nothing. A failed attempt's
    backoff moves due_at; the period comes from the payload."""
    from app.extensions import db
    from app.processes.models import ProcessInstance
    from app.processes.periodic import run_start_job
    (job,) = _jobs()
    period_end = job.payload["period_end"]
    clock.set(T0)
    job.due_at = job.due_at + timedelta(hours=5)   # as a failed attempt's backoff would
    db.session.commit()
    run_start_job(job.id, T0 + timedelta(days=30))
    run_start_job(job.id, T0 + timedelta(days=30))   # the retry
    started = db.session.execute(sa.select(ProcessInstance)).scalars().all()
    assert len(started) == 1
    assert _open(api, started[0].id)["data"]["period_end"] == period_end
    assert [j.status for j in _jobs()] == ["pending", "pending"]   # this one and the next period's
