"""The SLA colour of a task at a moment (DOMAIN §1.4), derived from its due and warn times."""
from __future__ import annotations

from datetime import datetime

from app.calendar import sla_state
from app.db import utcnow


def current_sla_state(task, now: datetime | None = None) -> str | None:
    """green / yellow / red now; None without a deadline; "paused" while the clock is stopped."""
    if task.due_at is None:
        return None
    if task.paused_at is not None:
        return "paused"
    return str(sla_state(now or utcnow(), task.due_at, task.warn_at))
