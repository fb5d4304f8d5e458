"""Task due dates: a deadline is a replayable recipe (start, steps, pauses), so a calendar change,
an extension or a pause recomputes it the same way every time."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app

from app.calendar import BusinessCalendar, Duration, DurationError, Unit, parse_duration, parse_instant
from app.engine.placeholders import has_placeholder
from app.extensions import db

_CALENDAR_TTL_SECONDS = 60
_cached: tuple[float, BusinessCalendar] | None = None
_cache_lock = threading.Lock()


def get_calendar() -> BusinessCalendar:
    """The business calendar with the administrator's overrides (re-read at most once a minute per
    process; `forget_calendar()` after loading a year makes this process see it at once)."""
    global _cached
    cached = _cached
    if cached is not None and time.monotonic() - cached[0] < _CALENDAR_TTL_SECONDS:
        return cached[1]
    from app.calendar.models import load_overrides
    calendar = BusinessCalendar(load_overrides(db.session),
                                office_hours=current_app.config["CALENDAR_OFFICE_HOURS"])
    with _cache_lock:
        _cached = (time.monotonic(), calendar)
    return calendar


def add_business_duration(start: datetime | str, duration: str) -> datetime:
    """start (an aware datetime, or an ISO date/date-time read as Beijing time) + a business duration
    on the administrator's calendar: what the scripts' due_in() and add_duration() compute."""
    return get_calendar().add(parse_instant(start) if isinstance(start, str) else start, duration)


def forget_calendar() -> None:
    global _cached
    _cached = None


@dataclass
class Computed:
    due_at: datetime | None
    warn_at: datetime | None
    provisional: bool


def deadline_for(meta: dict, limit: str | None, start: datetime,
                 limit_start: str | None = None) -> dict | None:
    """The recipe of a new task's deadline: its `dueIn` property, else the case limit from its data,
    counted from `limit_start` (the case's receipt) when the data gives one."""
    due_in = meta.get("due_in")
    if has_placeholder(due_in):   # an unresolved placeholder: the data did not give it
        due_in = None
    basis = due_in or limit
    if not basis:
        return None
    try:
        parse_duration(basis)
    except DurationError:
        return None   # deploy validation reports bad dueIn; a bad limit in data gives no deadline
    warn = meta.get("warn_before")
    if not due_in and limit_start:
        try:
            counted_from = datetime.fromisoformat(limit_start)
            if counted_from.tzinfo is not None and counted_from <= start:
                start = counted_from
        except ValueError:
            pass
    return {"start": start.isoformat(), "steps": [basis], "warn": warn or None, "pauses": []}


def _remaining(calendar: BusinessCalendar, unit: Unit, since: datetime, due: datetime) -> Duration | timedelta:
    if unit is Unit.WD:
        return Duration(max(calendar.count_working_days(calendar.local_date(since), calendar.local_date(due)), 0),
                        Unit.WD)
    if unit is Unit.CD:
        return Duration(max((calendar.local_date(due) - calendar.local_date(since)).days, 0), Unit.CD)
    return max(due - since, timedelta(0))


def compute(recipe: dict | None, calendar: BusinessCalendar) -> Computed:
    """Replay a recipe: the first step from the start, each extension from the previous due date,
    and each finished pause moves the rest of the time (in the step's own unit) past the pause."""
    if not recipe:
        return Computed(None, None, False)
    start = datetime.fromisoformat(recipe["start"])
    steps = [parse_duration(s) for s in recipe["steps"]]
    provisional = False
    due = start
    for step in steps:
        result = calendar.add(due, step)
        due, provisional = result.due, provisional or result.provisional
    unit, day_unit = steps[-1].unit, steps[-1].is_day_unit
    for begin, end in recipe.get("pauses", []):
        if end is None:
            continue
        paused_from, paused_to = datetime.fromisoformat(begin), datetime.fromisoformat(end)
        if paused_from >= due:
            continue
        rest = _remaining(calendar, unit, paused_from, due)
        if isinstance(rest, timedelta):
            due = paused_to + rest
        elif rest.amount == 0:
            due = calendar.end_of_day(calendar.local_date(paused_to)) if day_unit else paused_to
        else:
            result = calendar.add(paused_to, rest)
            due, provisional = result.due, provisional or result.provisional
    warn = calendar.warn_at(start, due, recipe.get("warn"), window=recipe["steps"][0])
    return Computed(due, warn, provisional)
