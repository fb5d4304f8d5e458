"""The SLA colour of a task at a moment (DOMAIN §1.4), derived from its due and warn times."""
from __future__ import annotations

from datetime import datetime

from app.calendar import sla_state
from app.db import utcnow


def current_sla_state(task, now: datetime | None = None) -> str | None:
    """green / yellow / red now; None without a deadline; "paused" while the clock is stopped;
    orange (环节超时) when a step timer's deadline job marked the task (task.sla_state) and the case
    deadline is not yet past. The inbox, the task and case pages, the API and the dashboard all
    read this one rule."""
    if task.due_at is None:
        return None
    if task.paused_at is not None:
        return "paused"
    state = str(sla_state(now or utcnow(), task.due_at, task.warn_at))
    if state in ("green", "yellow") and getattr(task, "sla_state", None) == "orange":
        return "orange"
    return state
