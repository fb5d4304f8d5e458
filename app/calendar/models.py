"""Holiday overrides: the administrator's word on a day beats the chinese_calendar package."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.calendar.schedule import YearSchedule
from app.db import UTCDateTime, utcnow
from app.extensions import db


class HolidayOverride(db.Model):
    """One day of the official calendar: off or working, and the State Council notice that says so."""

    __tablename__ = "holiday_override"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(sa.Date, unique=True)
    is_working: Mapped[bool] = mapped_column(sa.Boolean)
    notice: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalendarYear(db.Model):
    """An administrator's word on a year: its schedule is official (the State Council's notice is
    loaded) or still provisional. Shown on the calendar page; changed only with an audit event."""

    __tablename__ = "calendar_year"

    year: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    official: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    notice: Mapped[str | None] = mapped_column(sa.String(255))
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def load_overrides(session: Session, since: date | None = None) -> dict[date, bool]:
    """All override rows (from `since` on, if given) as the mapping BusinessCalendar takes. Reads only."""
    stmt = sa.select(HolidayOverride.day, HolidayOverride.is_working)
    if since is not None:
        stmt = stmt.where(HolidayOverride.day >= since)
    return {day: bool(is_working) for day, is_working in session.execute(stmt)}


def overrides_version(session: Session) -> str:
    """A short fingerprint of the override rows: loading a year replaces rows (new ids), so it changes
    whenever the official calendar does. Derived figures (the KPI facts' working hours) keep it to
    know when they are stale. Reads only."""
    count, last = session.execute(sa.select(sa.func.count(HolidayOverride.id), sa.func.max(HolidayOverride.id))).one()
    return f"{count}:{last or 0}"


def write_year_overrides(session: Session, schedule: YearSchedule) -> int:
    """Replace the override rows of `schedule.year` with one row per day of that year; returns the count.

    Flushes, never commits: the caller (`flask calendar load-year`) commits together with the
    recomputation of provisional due dates and its audit event.
    """
    first, last = date(schedule.year, 1, 1), date(schedule.year, 12, 31)
    session.execute(sa.delete(HolidayOverride).where(HolidayOverride.day.between(first, last)))
    rows = schedule.rows()
    session.add_all(HolidayOverride(day=row.day, is_working=row.is_working, notice=row.note[:255]) for row in rows)
    session.flush()
    return len(rows)
