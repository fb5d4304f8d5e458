"""The dispatcher: BPMN timers, retries then an incident, expired claims, exactly-once across processes."""
from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.conftest import PROJECT, deploy_fixture


def _start(api, key, user="intake1"):
    resp = api.post(f"/api/v1/process-definitions/{key}/start", user=user, json={"data": {}})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def test_a_bpmn_timer_fires_through_the_dispatcher(seeded, api):
    from app.deadlines.dispatcher import dispatch_due_jobs
    from app.deadlines.models import TimerJob
    from app.extensions import db
    deploy_fixture("timer_escalation.bpmn")
    started = _start(api, "timer_escalation")
    job = db.session.execute(sa.select(TimerJob).where(TimerJob.kind == "bpmn_timer")).scalar_one()
    report = dispatch_due_jobs(now=job.due_at + timedelta(seconds=1))
    assert (report.claimed, report.done) == (1, 1)
    inst = api.get(f"/api/v1/process-instances/{started['instance']['id']}", user="admin").get_json()
    assert [t["bpmn_id"] for t in inst["open_tasks"]] == ["escalate"]
    db.session.expire_all()
    assert db.session.get(TimerJob, job.id).status == "done"
    assert dispatch_due_jobs(now=job.due_at + timedelta(hours=1)).claimed == 0


def test_a_failing_job_retries_with_backoff_then_becomes_an_incident_and_others_still_run(
        seeded, api, app, monkeypatch):
    from app.deadlines import dispatcher, escalation
    from app.deadlines.models import Incident, TimerJob
    from app.extensions import db
    deploy_fixture("timer_escalation.bpmn")
    deploy_fixture("sla_task.bpmn")
    _start(api, "timer_escalation")
    _start(api, "sla_task")
    timer = db.session.execute(sa.select(TimerJob).where(TimerJob.kind == "bpmn_timer")
                               .order_by(TimerJob.due_at).limit(1)).scalar_one()   # the 1-hour one
    now = timer.due_at + timedelta(seconds=1)
    monkeypatch.setitem(app.config, "JOB_MAX_ATTEMPTS", 3)

    def broken(job_id, when):
        raise RuntimeError("通知服务不可用")
    monkeypatch.setattr(escalation, "run_deadline_job", broken)
    sla = db.session.execute(sa.select(TimerJob).where(TimerJob.kind == "sla_warn")).scalar_one()
    sla_id, first_due = sla.id, sla.due_at
    db.session.execute(sa.update(TimerJob).where(TimerJob.id == sla_id).values(due_at=now - timedelta(seconds=5)))
    db.session.commit()
    report = dispatcher.dispatch_due_jobs(now=now)
    assert (report.done, report.retried) == (1, 1)          # the timer job still ran
    db.session.expire_all()
    job = db.session.get(TimerJob, sla_id)
    assert job.attempts == 1 and job.status == "pending" and "通知服务不可用" in job.last_error
    assert job.due_at == now + timedelta(seconds=dispatcher.BACKOFF_SECONDS[0]) and job.locked_by is None
    assert dispatcher.dispatch_due_jobs(now=now + timedelta(seconds=1)).claimed == 0   # waits for its backoff
    when = job.due_at
    for _ in range(2):
        dispatcher.dispatch_due_jobs(now=when)
        db.session.expire_all()
        when = db.session.get(TimerJob, sla_id).due_at + timedelta(hours=1)
    job = db.session.get(TimerJob, sla_id)
    assert job.status == "failed" and job.attempts == 3
    incident = db.session.execute(sa.select(Incident)).scalar_one()
    assert incident.job_id == sla_id and "通知服务不可用" in incident.message and incident.resolved_at is None
    assert first_due is not None


def test_a_dead_workers_claim_expires(seeded, api):
    from app.deadlines.dispatcher import claim_due_jobs, dispatch_due_jobs
    from app.deadlines.models import TimerJob
    from app.extensions import db
    deploy_fixture("timer_escalation.bpmn")
    _start(api, "timer_escalation")
    job = db.session.execute(sa.select(TimerJob).where(TimerJob.kind == "bpmn_timer")).scalar_one()
    now = job.due_at + timedelta(seconds=1)
    assert claim_due_jobs(now, "dead-node", 10, 60) == [job.id]      # claimed, then the node dies
    assert dispatch_due_jobs(now=now + timedelta(seconds=30)).claimed == 0
    assert dispatch_due_jobs(now=now + timedelta(seconds=61)).done == 1


@pytest.mark.slow
def test_two_dispatcher_processes_run_each_of_300_due_jobs_exactly_once(seeded, api, app):
    from app.deadlines.models import JobStatus, TimerJob
    from app.extensions import db
    deploy_fixture("sla_task.bpmn")
    db.session.execute(sa.delete(TimerJob))   # the weekly problem-list start of the seeded diagrams
    db.session.commit()
    for _ in range(100):
        _start(api, "sla_task")              # 3 jobs each: warn, overdue, and the BPMN timer of P30D
    db.session.execute(sa.update(TimerJob).values(due_at=sa.func.coalesce(TimerJob.created_at, TimerJob.due_at)))
    db.session.commit()
    ids = set(db.session.execute(sa.select(TimerJob.id)).scalars())
    assert len(ids) == 300
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    procs = [subprocess.Popen([sys.executable, "-m", "tests.deadlines.claimer", url], cwd=PROJECT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-2000:]
    ran = [[int(line) for line in out.split()] for out, _ in outputs]
    everything = ran[0] + ran[1]
    assert sorted(everything) == sorted(ids), "every job ran exactly once"
    assert ran[0] and ran[1], "both processes took part"
    db.session.expire_all()
    assert set(db.session.execute(sa.select(TimerJob.status).where(TimerJob.id.in_(ids))).scalars()) == {
        JobStatus.DONE}                      # (the ladder scheduled new, later rungs: those stay pending)
