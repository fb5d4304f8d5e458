"""The functions BPMN scripts and expressions may call (now(), today(), due_in(), add_duration()),
given to the engine's sandbox. Business-calendar arithmetic is passed in by the application: the
engine imports no feature package."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable

from app.db import utcnow

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")

# (start: an aware datetime or an ISO date/date-time string, duration such as "15WD") -> aware datetime
AddBusinessDuration = Callable[[datetime | str, str], datetime]


def now_iso() -> str:
    """The current time as an aware ISO string in Asia/Shanghai."""
    return utcnow().astimezone(SHANGHAI).isoformat(timespec="seconds")


def today_iso() -> str:
    return utcnow().astimezone(SHANGHAI).date().isoformat()


def script_helpers(add_business_duration: AddBusinessDuration) -> dict:
    """The helpers scripts see; `add_business_duration` is the business calendar's addition."""

    def due_in(duration: str) -> str:
        """now + a business duration (15WD, 7CD, 24H, 2WH, 60MIN) as an aware ISO string, for timeDate."""
        return add_business_duration(utcnow(), duration).isoformat()

    def add_duration(start: str, duration: str) -> str:
        """An ISO time (or date) + a business duration, as an aware ISO string."""
        return add_business_duration(start, duration).isoformat()

    return {"now": now_iso, "today": today_iso, "due_in": due_in, "add_duration": add_duration}
