"""Gauges computed at scrape time by a query: the state of the database, the same on every node.

A small registry of named callables: each returns {labels tuple: value} (or a bare number for a
gauge without labels). Add one with `register_gauge(...)`; the scrape calls each once, and a
failing one is skipped (logged), never failing the scrape. Every query here reads an index."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

import sqlalchemy as sa

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScrapeGauge:
    name: str
    help: str
    labels: tuple[str, ...]
    read: Callable[[datetime], "dict[tuple, float] | float"]


GAUGES: dict[str, ScrapeGauge] = {}


def register_gauge(name: str, help: str, read, labels: tuple[str, ...] = ()) -> None:
    """Register (or replace) a scrape-time gauge; `read(now)` returns its value(s)."""
    GAUGES[name] = ScrapeGauge(name, help, tuple(labels), read)


def _by_process(now: datetime, *, overdue: bool) -> dict[tuple, float]:
    from app.extensions import db
    from app.tasks.models import HumanTask, TaskStatus
    query = (sa.select(HumanTask.process_key, sa.func.count())
             .where(HumanTask.status == TaskStatus.READY).group_by(HumanTask.process_key))
    if overdue:
        query = query.where(HumanTask.due_at < now, HumanTask.paused_at.is_(None))
    return {(key,): float(count) for key, count in db.session.execute(query)}


def open_tasks(now):
    return _by_process(now, overdue=False)


def overdue_tasks(now):
    return _by_process(now, overdue=True)


def _jobs(*where) -> float:
    from app.deadlines.models import TimerJob
    from app.extensions import db
    return float(db.session.execute(sa.select(sa.func.count()).select_from(TimerJob).where(*where)).scalar_one())


def jobs_due(now):
    from app.deadlines.models import JobStatus, TimerJob
    return _jobs(TimerJob.status == JobStatus.PENDING, TimerJob.due_at <= now)


def jobs_claimed(now):
    from app.deadlines.models import JobStatus, TimerJob
    return _jobs(TimerJob.status == JobStatus.PENDING, TimerJob.due_at <= now, TimerJob.locked_until > now)


def jobs_failed(now):
    from app.deadlines.models import JobStatus, TimerJob
    return _jobs(TimerJob.status == JobStatus.FAILED)


def dispatcher_lag(now):
    """How late the oldest due, still pending job is (0 when nothing is due): the dispatchers'
    lag as the database sees it, whichever node they run on."""
    from app.deadlines.models import JobStatus, TimerJob
    from app.extensions import db
    oldest = db.session.execute(sa.select(sa.func.min(TimerJob.due_at)).where(
        TimerJob.status == JobStatus.PENDING, TimerJob.due_at <= now)).scalar_one_or_none()
    return max(0.0, (now - oldest).total_seconds()) if oldest is not None else 0.0


def open_incidents(now):
    from app.deadlines.models import Incident
    from app.extensions import db
    return float(db.session.execute(sa.select(sa.func.count()).select_from(Incident)
                                    .where(Incident.resolved_at.is_(None))).scalar_one())


def email_outbox_backlog(now):
    from app.extensions import db
    from app.notifications.models import EmailMessage, EmailStatus
    return float(db.session.execute(sa.select(sa.func.count()).select_from(EmailMessage)
                                    .where(EmailMessage.status == EmailStatus.PENDING)).scalar_one())


register_gauge("wuyi_open_tasks", "Open (ready) human tasks by process", open_tasks, ("process",))
register_gauge("wuyi_overdue_tasks", "Open human tasks past their due time (not paused), by process",
               overdue_tasks, ("process",))
register_gauge("wuyi_jobs_due", "Timer jobs due and still pending", jobs_due)
register_gauge("wuyi_jobs_claimed", "Due timer jobs held by a live dispatcher claim", jobs_claimed)
register_gauge("wuyi_jobs_failed", "Timer jobs out of attempts (each has an incident)", jobs_failed)
register_gauge("wuyi_dispatcher_oldest_due_seconds", "Seconds the oldest due pending job is late",
               dispatcher_lag)
register_gauge("wuyi_incidents_open", "Unresolved incidents", open_incidents)
register_gauge("wuyi_email_outbox_backlog", "E-mails waiting in the outbox", email_outbox_backlog)


def integration_outbox_backlog(now):
    from app.integration.outbox import outbox_backlog
    return float(outbox_backlog())


register_gauge("wuyi_outbox_backlog", "Platform events (12345, SME, 纪委) written but not yet delivered",
               integration_outbox_backlog)
