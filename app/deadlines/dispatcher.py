"""The dispatcher: claim due timer_job rows atomically, run each in its own transaction, retry with
backoff, and raise an incident after the last attempt. Safe in every process on every node."""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app.db import utcnow
from app.deadlines import escalation
from app.deadlines.models import Incident, JobKind, JobStatus, TimerJob
from app.errors import AppError
from app.extensions import db
from app.metrics import count_claimed, count_dispatched

log = logging.getLogger(__name__)

BACKOFF_SECONDS = (5, 30, 120, 600, 1800)   # after attempt 1, 2, 3, ...

_WORKER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def worker_id() -> str:
    """Who claims: host, process and a per-process nonce, so a restarted process is a new worker."""
    return _WORKER


@dataclass
class DispatchReport:
    claimed: int = 0
    done: int = 0
    retried: int = 0
    failed: int = 0
    job_ids: list[int] = field(default_factory=list)


def claim_due_jobs(now: datetime, worker: str, limit: int, lock_seconds: int) -> list[int]:
    """The ids of the jobs claimed (see claim_due_rows), in id order."""
    return sorted(row.id for row in claim_due_rows(now, worker, limit, lock_seconds))


def claim_due_rows(now: datetime, worker: str, limit: int, lock_seconds: int) -> list:
    """Claim up to `limit` due jobs for `worker`: one conditional UPDATE, committed at once.

    Returns (id, instance_id, human_task_id, due_at) rows. A job is claimable when pending, due,
    and not held by a live claim (an expired `locked_until` means its worker died). PostgreSQL:
    FOR UPDATE SKIP LOCKED lets concurrent dispatchers take different rows; SQLite: one writer at
    a time makes the UPDATE exclusive.
    """
    job = TimerJob.__table__
    free = sa.or_(job.c.locked_until.is_(None), job.c.locked_until < now)
    due = (sa.select(job.c.id).where(job.c.status == JobStatus.PENDING, job.c.due_at <= now, free)
           .order_by(job.c.due_at, job.c.id).limit(limit).with_for_update(skip_locked=True)
           .cte("due_jobs"))   # a CTE runs once; IN (SELECT ... LIMIT) may be re-run per row on PostgreSQL
    claimed = db.session.execute(
        sa.update(job).where(job.c.id == due.c.id, job.c.status == JobStatus.PENDING, free)
        .values(locked_by=worker, locked_until=now + timedelta(seconds=lock_seconds))
        .returning(job.c.id, job.c.instance_id, job.c.human_task_id, job.c.due_at)).all()
    db.session.commit()
    return claimed


def _run(job: TimerJob, now: datetime) -> None:
    """Do what the job is for. Raises on failure; the caller retries."""
    if job.kind == JobKind.BPMN_TIMER:
        from app.processes.running import fire_instance_timers
        try:
            fire_instance_timers(job.instance_id, now)
        except AppError as exc:   # the instance ended or is suspended: nothing left to fire
            db.session.rollback()
            log.info("timer job %s: %s", job.id, exc.message)
    elif job.kind == JobKind.START_PROCESS:
        from app.processes.periodic import run_start_job
        run_start_job(job.id, now)
    elif job.kind == JobKind.INTEGRATION_DELIVERY:
        from app.integration.delivery import run_delivery_job
        run_delivery_job(job, now)
    else:
        escalation.run_deadline_job(job.id, now)


def run_job(job_id: int, now: datetime, worker: str) -> str:
    """Run one claimed job in its own transaction; returns done | retried | failed | skipped."""
    job = db.session.get(TimerJob, job_id, populate_existing=True)
    if job is None or job.locked_by != worker or job.status != JobStatus.PENDING:
        db.session.rollback()
        return "skipped"
    kind, due_at = job.kind, job.due_at
    outcome = _run_claimed(job, job_id, now, worker)
    count_dispatched(kind, outcome, (utcnow() - due_at).total_seconds() if outcome == "done" else None)
    return outcome


def _run_claimed(job: TimerJob, job_id: int, now: datetime, worker: str) -> str:
    try:
        _run(job, now)
    except Exception as exc:  # noqa: BLE001 - any failure is retried, then becomes an incident
        db.session.rollback()
        return _record_failure(job_id, now, worker, exc)
    if job.status == JobStatus.DONE and job.locked_by is None:
        return "done"        # closed in its own transaction (a deadline rung): nothing left to write
    # the job's own work may already have closed it (fire_instance_timers syncs its timer jobs)
    db.session.execute(
        sa.update(TimerJob).where(TimerJob.id == job_id, TimerJob.locked_by == worker)
        .values(status=sa.case((TimerJob.status == JobStatus.PENDING, JobStatus.DONE), else_=TimerJob.status),
                locked_by=None, locked_until=None)
        .execution_options(synchronize_session=False))
    db.session.commit()
    return "done"


def _record_failure(job_id: int, now: datetime, worker: str, exc: Exception) -> str:
    job = db.session.get(TimerJob, job_id, populate_existing=True)
    if job is None or job.locked_by != worker:
        db.session.rollback()
        return "skipped"
    job.attempts += 1
    # an AppError's message is written for people (Chinese); anything else keeps its type for the log
    job.last_error = (exc.message if isinstance(exc, AppError) else f"{type(exc).__name__}: {exc}")[:2000]
    job.locked_by = job.locked_until = None
    if job.attempts >= current_app.config["JOB_MAX_ATTEMPTS"]:
        job.status = JobStatus.FAILED
        db.session.add(Incident(kind=job.kind, job_id=job.id, instance_id=job.instance_id,
                                human_task_id=job.human_task_id, created_at=now,
                                message=f"第 {job.attempts} 次执行仍失败：{job.last_error}"))
        outcome = "failed"
        log.error("job %s (%s) failed for good: %s", job.id, job.kind, job.last_error)
    else:
        backoff = current_app.config.get("JOB_BACKOFF_SECONDS") or BACKOFF_SECONDS
        job.due_at = now + timedelta(seconds=backoff[min(job.attempts, len(backoff)) - 1])
        outcome = "retried"
        log.warning("job %s (%s) failed, retry at %s: %s", job.id, job.kind, job.due_at, job.last_error)
    db.session.commit()
    return outcome


def dispatch_due_jobs(now: datetime | None = None, worker: str | None = None,
                      limit: int | None = None) -> DispatchReport:
    """Claim and run every job due at `now` (default: the real clock). Commits per job.

    On the real clock each claim round and each job reads the clock afresh: a job that falls due
    while a batch runs is claimed by the next round, not left for the next tick, and a job runs
    (and is audited) at the time it actually runs."""
    real_clock = now is None
    worker = worker or worker_id()
    config = current_app.config
    threads = config["DISPATCH_THREADS"]
    if real_clock and not limit and threads > 1 and db.engine.dialect.name != "sqlite":
        return _dispatch_in_threads(worker, threads)
    report = DispatchReport()
    while True:
        if real_clock:
            now = utcnow()
        claimed = claim_due_jobs(now, worker, limit or config["JOB_BATCH_SIZE"], config["JOB_LOCK_SECONDS"])
        if not claimed:
            return report
        count_claimed(len(claimed))
        report.claimed += len(claimed)
        for job_id in claimed:
            outcome = run_job(job_id, utcnow() if real_clock else now, worker)
            report.job_ids.append(job_id)
            if outcome in ("done", "retried", "failed"):
                setattr(report, outcome, getattr(report, outcome) + 1)
        if limit:   # a bounded call (tests, benches) runs one batch
            return report


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor(threads: int) -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers != threads:
            _pool = ThreadPoolExecutor(threads, thread_name_prefix="dispatch")
        return _pool


def _dispatch_in_threads(worker: str, threads: int) -> DispatchReport:
    """The real-clock dispatch with `threads` jobs at a time (PostgreSQL): each batch is split by
    what its jobs act on (a task's deadline rungs, else an instance's timers), whose jobs run one
    after another in due order (as in the serial loop); the groups run in parallel, each thread
    in its own app context and session. A job spends most of its time waiting for the database,
    so a few threads multiply the throughput of one process."""
    app = current_app._get_current_object()
    config = app.config
    report = DispatchReport()
    lock = threading.Lock()

    def run_group(rows):
        with app.app_context():
            try:
                for row in rows:
                    outcome = run_job(row.id, utcnow(), worker)
                    with lock:
                        report.job_ids.append(row.id)
                        if outcome in ("done", "retried", "failed"):
                            setattr(report, outcome, getattr(report, outcome) + 1)
            finally:
                db.session.remove()

    while True:
        rows = claim_due_rows(utcnow(), worker, config["JOB_BATCH_SIZE"], config["JOB_LOCK_SECONDS"])
        if not rows:
            return report
        count_claimed(len(rows))
        report.claimed += len(rows)
        groups: dict = {}
        for row in sorted(rows, key=lambda r: (r.due_at, r.id)):
            key = (("task", row.human_task_id) if row.human_task_id is not None else
                   ("instance", row.instance_id) if row.instance_id is not None else ("job", row.id))
            groups.setdefault(key, []).append(row)
        for future in [_executor(threads).submit(run_group, group) for group in groups.values()]:
            future.result()


def next_due_at() -> datetime | None:
    """The earliest pending job's due time (for the scheduler's one-shot wake-up)."""
    return db.session.execute(
        sa.select(sa.func.min(TimerJob.due_at)).where(TimerJob.status == JobStatus.PENDING)).scalar_one_or_none()


def dispatch_due_jobs_job() -> DispatchReport:
    """APScheduler entry point; the caller provides the app context."""
    try:
        return dispatch_due_jobs()
    finally:
        db.session.remove()
