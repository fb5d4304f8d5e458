"""Timer-started processes: a process whose start event has a timer cycle (e.g. 问题清单, weekly
"R/P7D") is started by the scheduler once per period, exactly once across nodes, because the start
is a `start_process` row in timer_job claimed like any other job.

Scripts cannot query the database, so the start data carries what the period produced: for the
problem list, the clusters of closed complaint cases with the same district and handling unit.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from app import engine
from app.auth.models import Group
from app.cases.models import Case, CaseStatus
from app.db import utcnow
from app.deadlines.models import JobKind, JobStatus, TimerJob
from app.extensions import db

RECURRING_MIN = 2   # cases of the same district and unit in one period that make a problem


def ensure_schedule(key: str, cycle: str, now: datetime | None = None) -> TimerJob | None:
    """The pending start job of a timer-started process (one per key). Does not commit."""
    period = engine.cycle_period(cycle)
    if period is None:
        return None
    existing = db.session.execute(sa.select(TimerJob).where(
        TimerJob.kind == JobKind.START_PROCESS, TimerJob.bpmn_id == key,
        TimerJob.status == JobStatus.PENDING)).scalar_one_or_none()
    if existing is not None:
        return existing
    now = now or utcnow()
    job = TimerJob(kind=JobKind.START_PROCESS, bpmn_id=key, due_at=now + period,
                   payload={"cycle": cycle}, created_at=now)
    db.session.add(job)
    return job


def recurring_problems(since: datetime, until: datetime) -> list[dict]:
    """Closed complaint cases of the period grouped by district and handling unit, repeated ones first."""
    rows = db.session.execute(
        sa.select(Case.district, Case.unit, sa.func.count(), sa.func.min(Case.number), sa.func.max(Case.number))
        .where(Case.process_key == "complaint", Case.status == CaseStatus.CLOSED, Case.unit.is_not(None),
               Case.closed_at >= since, Case.closed_at < until)
        .group_by(Case.district, Case.unit).having(sa.func.count() >= RECURRING_MIN)
        .order_by(sa.func.count().desc())).all()
    titles = dict(db.session.execute(sa.select(Group.name, Group.title).where(
        Group.name.in_([r[1] for r in rows]))).all()) if rows else {}
    clusters = []
    for district, unit, count, _, _ in rows:
        numbers = db.session.execute(sa.select(Case.number).where(
            Case.process_key == "complaint", Case.status == CaseStatus.CLOSED, Case.district == district,
            Case.unit == unit, Case.closed_at >= since, Case.closed_at < until).order_by(Case.id).limit(20)).scalars()
        clusters.append({"district": district or "未填写", "unit": unit, "unit_name": titles.get(unit, unit),
                         "count": count, "case_numbers": list(numbers)})
    return clusters


def run_start_job(job_id: int, now: datetime) -> None:
    """Start the process for the period that ended at the job's due time, then schedule the next."""
    from app.processes.services import start_process
    job = db.session.get(TimerJob, job_id)
    key, cycle = job.bpmn_id, (job.payload or {}).get("cycle", "R/P7D")
    period = engine.cycle_period(cycle) or timedelta(days=7)
    until = job.due_at
    since = until - period
    data = {"period_start": since.isoformat(), "period_end": until.isoformat(),
            "clusters": recurring_problems(since, until),
            "title": f"问题清单 {since.date().isoformat()} 至 {until.date().isoformat()}"}
    start_process(key, data, None)   # commits
    following = until + period
    while following <= now:
        following += period
    db.session.add(TimerJob(kind=JobKind.START_PROCESS, bpmn_id=key, due_at=following,
                            payload={"cycle": cycle}, created_at=now))
    db.session.commit()
