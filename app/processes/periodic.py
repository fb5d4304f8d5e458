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
from app.calendar import SHANGHAI
from app.cases.models import Case, CaseStatus
from app.db import utcnow
from app.deadlines.models import JobKind, JobStatus, TimerJob
from app.extensions import db
from app.labels import group_titles
from app.processes.running import start_process

RECURRING_MIN = 2   # cases of the same district and unit in one period that make a problem
CASES_LISTED = 20   # case numbers listed per problem


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
                   payload={"cycle": cycle, "period_end": (now + period).isoformat()}, created_at=now)
    db.session.add(job)
    return job


def recurring_problems(since: datetime, until: datetime) -> list[dict]:
    """Closed complaint cases of the period grouped by district and handling unit, repeated ones first,
    each with up to CASES_LISTED case numbers: one pass over the period's closed cases."""
    rows = db.session.execute(
        sa.select(Case.district, Case.unit, Case.number)
        .where(Case.process_key == "complaint", Case.status == CaseStatus.CLOSED, Case.unit.is_not(None),
               Case.closed_at >= since, Case.closed_at < until).order_by(Case.id)).all()
    groups: dict[tuple, list[str]] = {}
    for district, unit, number in rows:
        groups.setdefault((district, unit), []).append(number)
    repeated = sorted(((key, numbers) for key, numbers in groups.items() if len(numbers) >= RECURRING_MIN),
                      key=lambda item: -len(item[1]))
    units = {unit for (_, unit), _ in repeated}
    titles = group_titles(units)
    return [{"district": district or "未填写", "unit": unit, "unit_name": titles.get(unit, unit),
             "count": len(numbers), "case_numbers": numbers[:CASES_LISTED]}
            for (district, unit), numbers in repeated]


def run_start_job(job_id: int, now: datetime) -> None:
    """Start the process for the period that ended at the job's due time, and schedule the next.

    Exactly once per period: the next job is added before the start, so start_process commits both
    together; a retry of this job (a crash before the dispatcher marked it done) finds the next
    period's job already there and starts nothing. The period comes from the payload, not from
    job.due_at, which a failed attempt's backoff moves."""
    job = db.session.get(TimerJob, job_id)
    key, payload = job.bpmn_id, job.payload or {}
    cycle = payload.get("cycle", "R/P7D")
    period = engine.cycle_period(cycle) or timedelta(days=7)
    until = datetime.fromisoformat(payload["period_end"]) if payload.get("period_end") else job.due_at
    since = until - period
    following = until + period
    while following <= now:
        following += period
    already = db.session.execute(sa.select(TimerJob.id).where(
        TimerJob.kind == JobKind.START_PROCESS, TimerJob.bpmn_id == key, TimerJob.status == JobStatus.PENDING,
        TimerJob.id != job.id).limit(1)).first()
    if already is not None:
        return
    db.session.add(TimerJob(kind=JobKind.START_PROCESS, bpmn_id=key, due_at=following,
                            payload={"cycle": cycle, "period_end": following.isoformat()}, created_at=now))
    first, last = since.astimezone(SHANGHAI).date(), (until - timedelta(seconds=1)).astimezone(SHANGHAI).date()
    data = {"period_start": since.isoformat(), "period_end": until.isoformat(),
            "clusters": recurring_problems(since, until),
            "title": f"问题清单 {first.isoformat()} 至 {last.isoformat()}"}
    start_process(key, data, None)   # commits the start and the next job together
