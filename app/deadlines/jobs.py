"""The deadline jobs of a human task: made with its due date, cancelled when it leaves READY."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.deadlines.models import JobKind, JobStatus, TimerJob
from app.extensions import db

_job = TimerJob.__table__
_CANCEL_TASK_JOBS = sa.update(_job).where(_job.c.human_task_id.in_(sa.bindparam("b_tasks", expanding=True)),
                                          _job.c.status == JobStatus.PENDING).values(status=JobStatus.CANCELLED)


def sla_jobs(task_id: int, instance_id: int, bpmn_id: str, warn_at, due_at, now: datetime) -> list[dict]:
    """The rows of a task's yellow (warn) and red (overdue) jobs, for one executemany INSERT."""
    base = {"instance_id": instance_id, "human_task_id": task_id, "spiff_task_id": None, "bpmn_id": bpmn_id,
            "status": JobStatus.PENDING, "attempts": 0, "last_error": None, "locked_by": None,
            "locked_until": None, "payload": None, "created_at": now}
    jobs = [{**base, "kind": JobKind.OVERDUE, "due_at": due_at}]
    if warn_at is not None and warn_at < due_at:
        jobs.append({**base, "kind": JobKind.SLA_WARN, "due_at": warn_at})
    return jobs


def cancel_task_jobs(task_ids) -> None:
    """Cancel the pending deadline jobs of these tasks (executes in the session, does not commit)."""
    if task_ids:
        db.session.execute(_CANCEL_TASK_JOBS, {"b_tasks": list(task_ids)})
