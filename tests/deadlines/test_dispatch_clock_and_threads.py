"""The dispatcher on the real clock (#16): a job falling due while a batch runs is claimed by the
same call's next round, each job runs at its own time; on PostgreSQL a batch runs in threads,
a task's rungs still one after another in due order; a deadline rung closes its job in its own
transaction."""
from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.db import utcnow
from tests.conftest import deploy_fixture


def _carrier_tasks(n: int) -> list[int]:
    """n READY human tasks (offered to intake) on one running instance."""
    from app.auth.models import User
    from app.extensions import db
    from app.processes.running import start_process
    from app.seed import seed_demo_users
    from app.tasks.models import HumanTask, TaskStatus
    seed_demo_users("demo12345")
    deploy_fixture("message_wait.bpmn")
    admin = db.session.execute(sa.select(User).where(User.username == "admin")).scalar_one()
    instance, case = start_process("message_wait", {}, admin)
    ids = []
    for i in range(n):
        task = HumanTask(instance_id=instance.id, case_id=case.id, process_key="message_wait",
                         spiff_task_id=str(uuid.uuid4()), bpmn_id=f"probe{i}", name="探针", candidate_groups=["intake"],
                         status=TaskStatus.READY)
        db.session.add(task)
        db.session.flush()
        ids.append(task.id)
    db.session.commit()
    return ids


def _job(kind, task_id, due_at):
    from app.deadlines.models import JobStatus, TimerJob
    from app.extensions import db
    job = TimerJob(kind=kind, human_task_id=task_id, due_at=due_at, status=JobStatus.PENDING)
    db.session.add(job)
    db.session.commit()
    return job.id


def test_a_job_falling_due_during_a_run_is_claimed_by_the_same_call(app, monkeypatch):
    from app.deadlines import dispatcher
    from app.deadlines.models import JobKind, JobStatus, TimerJob
    from app.extensions import db
    first = _job(JobKind.SLA_WARN, None, utcnow() - timedelta(seconds=1))
    later: list[int] = []
    seen_now = {}
    real_run = dispatcher._run

    def slow_first(job, now):
        seen_now[job.id] = now
        if job.id == first:
            later.append(_job(JobKind.SLA_WARN, None, utcnow() + timedelta(milliseconds=200)))
            time.sleep(0.4)           # the second job falls due while the first still runs
        return real_run(job, now)
    monkeypatch.setattr(dispatcher, "_run", slow_first)
    report = dispatcher.dispatch_due_jobs()
    assert set(report.job_ids) == {first, later[0]}
    db.session.expire_all()
    assert db.session.get(TimerJob, later[0]).status == JobStatus.DONE
    assert seen_now[later[0]] - seen_now[first] >= timedelta(seconds=0.4)   # each at its own time


def test_an_explicit_now_still_claims_only_what_is_due_then(app):
    from app.deadlines.dispatcher import dispatch_due_jobs
    from app.deadlines.models import JobKind
    now = utcnow()
    due = _job(JobKind.SLA_WARN, None, now - timedelta(seconds=1))
    _job(JobKind.SLA_WARN, None, now + timedelta(seconds=1))
    assert dispatch_due_jobs(now=now).job_ids == [due]


def test_a_deadline_rung_closes_its_job_in_the_same_commit_as_its_work(app, monkeypatch):
    from app.audit.models import AuditAction, AuditEvent
    from app.deadlines import dispatcher
    from app.deadlines.models import JobKind, JobStatus, TimerJob
    from app.extensions import db
    task_id = _carrier_tasks(1)[0]
    job_id = _job(JobKind.SLA_WARN, task_id, utcnow() - timedelta(seconds=1))
    commits = []
    real_commit = db.session.commit

    def counting_commit():
        commits.append(1)
        return real_commit()
    monkeypatch.setattr(db.session, "commit", counting_commit)
    claimed = dispatcher.claim_due_jobs(utcnow(), "w1", 10, 60)
    assert claimed == [job_id]
    commits.clear()
    assert dispatcher.run_job(job_id, utcnow(), "w1") == "done"
    assert len(commits) == 1
    db.session.expire_all()
    job = db.session.get(TimerJob, job_id)
    assert (job.status, job.locked_by, job.locked_until) == (JobStatus.DONE, None, None)
    assert db.session.execute(sa.select(sa.func.count()).where(
        AuditEvent.action == AuditAction.ESCALATE, AuditEvent.human_task_id == task_id)).scalar_one() == 1


def test_on_postgresql_a_batch_runs_in_threads_and_a_tasks_rungs_stay_in_order(app, monkeypatch):
    from app.deadlines import dispatcher
    from app.deadlines.models import JobKind, JobStatus, TimerJob
    from app.extensions import db
    if db.engine.dialect.name == "sqlite":
        pytest.skip("SQLite runs jobs one by one (one writer)")
    monkeypatch.setitem(app.config, "DISPATCH_THREADS", 4)
    tasks = _carrier_tasks(6)
    now = utcnow()
    warn = {t: _job(JobKind.SLA_WARN, t, now - timedelta(seconds=3)) for t in tasks}
    overdue = {t: _job(JobKind.OVERDUE, t, now - timedelta(seconds=2)) for t in tasks}
    ran: list[tuple[int, str, float]] = []
    lock = threading.Lock()
    real_run = dispatcher._run

    def recording(job, at):
        with lock:
            ran.append((job.id, threading.current_thread().name, time.monotonic()))
        time.sleep(0.05)
        return real_run(job, at)
    monkeypatch.setattr(dispatcher, "_run", recording)
    report = dispatcher.dispatch_due_jobs()
    assert report.done == 12
    assert len({name for _, name, _ in ran}) > 1                       # in several threads
    order = {job_id: i for i, (job_id, _, _) in enumerate(ran)}
    for t in tasks:
        assert order[warn[t]] < order[overdue[t]]                       # yellow before red, per task
    db.session.expire_all()
    for t in tasks:
        statuses = db.session.execute(sa.select(TimerJob.status).where(TimerJob.id.in_([warn[t], overdue[t]]))).scalars()
        assert set(statuses) == {JobStatus.DONE}
        from app.tasks.models import HumanTask
        assert db.session.get(HumanTask, t).escalation_step == "overdue"   # the higher rung won
