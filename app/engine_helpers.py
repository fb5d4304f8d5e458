"""The functions BPMN scripts and expressions may call, given to the engine's sandbox."""
from __future__ import annotations

from datetime import timedelta, timezone

from app.db import utcnow

SHANGHAI = timezone(timedelta(hours=8), "Asia/Shanghai")


def now_iso() -> str:
    """The current time as an aware ISO string in Asia/Shanghai."""
    return utcnow().astimezone(SHANGHAI).isoformat(timespec="seconds")


def today_iso() -> str:
    return utcnow().astimezone(SHANGHAI).date().isoformat()


def due_in(duration: str) -> str:
    """now + a business duration (15WD, 7CD, 24H, 2WH, 60MIN) as an aware ISO string, for timeDate."""
    from app.deadlines.due import get_calendar
    return get_calendar().add(utcnow(), duration).isoformat()


def add_duration(start: str, duration: str) -> str:
    """An ISO time (or date) + a business duration, as an aware ISO string."""
    from app.calendar import parse_instant
    from app.deadlines.due import get_calendar
    return get_calendar().add(parse_instant(start) if isinstance(start, str) else start, duration).isoformat()


def script_helpers() -> dict:
    return {"now": now_iso, "today": today_iso, "due_in": due_in, "add_duration": add_duration}
