"""The business calendar: which days are working days, and when a time limit falls due (DOMAIN §1.2–§1.4).

A day is decided by, in order: the `holiday_override` rows (passed in as a mapping), then
`chinese_calendar` (official State Council schedules, 2004–2026 in 1.11.0), then the statutory
rules of `statutory.py` — and an answer from the rules is **provisional**. Nothing here raises for
a year without data: case work must go on (DESIGN §5).

Conventions:
* Day limits (WD, CD) fall due at the **end** of the due day in Asia/Shanghai, written 23:59:59
  local (microsecond 0): everything done on that day is on time; from the next local midnight
  the item is overdue. `flask calendar add 2025-09-29T10:00:00+08:00 15WD` → `2025-10-27T23:59:59+08:00`.
* WD: the n-th working day strictly after the start's local date (民法典 §201: the start day is
  not counted); 调休 weekend working days count.
* CD: start date + n days; a rest day (weekend or holiday) rolls forward to the next working day
  (民法典 §203).
* H, MIN: exact clock time. WH: office hours on working days; a start outside office hours begins
  at the next office period; a limit that uses up a period exactly ends at that period's close.
* Every instant returned is aware UTC; every instant accepted must be aware.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from enum import StrEnum
from typing import Iterable, Mapping, NamedTuple, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar

from app.calendar.durations import Duration, Unit, parse_duration
from app.calendar.statutory import is_working_day_by_rule


def _shanghai() -> tzinfo:
    # China has had no daylight saving since 1991, so a fixed UTC+8 is an exact stand-in when the
    # system has no tz database.
    try:
        return ZoneInfo("Asia/Shanghai")
    except ZoneInfoNotFoundError:  # pragma: no cover - depends on the host
        return timezone(timedelta(hours=8), "Asia/Shanghai")


SHANGHAI = _shanghai()
END_OF_DAY = time(23, 59, 59)
DEFAULT_OFFICE_HOURS: tuple[tuple[time, time], ...] = ((time(9), time(12)), (time(13), time(17)))
WARN_FRACTION = 0.2          # DOMAIN §1.4: yellow at ≤ 20 % of the window for short windows
SHORT_WINDOW_UNITS = 3       # ... "for windows of ≤ 3 units"


class CalendarInputError(ValueError):
    """A start time or office-hours setting that cannot be read (message in Chinese, then English)."""


class DayStatus(NamedTuple):
    is_working: bool
    provisional: bool


@dataclass(frozen=True)
class Due:
    """When a limit falls due (aware UTC) and whether any day consulted came from the rules."""

    due: datetime
    provisional: bool

    def local(self, tz: tzinfo = SHANGHAI) -> datetime:
        return self.due.astimezone(tz)

    def isoformat(self, tz: tzinfo = SHANGHAI) -> str:
        """ISO 8601 in Asia/Shanghai to the second, e.g. 2025-10-27T23:59:59+08:00."""
        return self.local(tz).isoformat(timespec="seconds")

    def as_dict(self) -> dict:
        """The `flask calendar add --json` answer."""
        return {"due": self.isoformat(), "provisional": self.provisional}


class SlaState(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"   # 预警/临期
    ORANGE = "orange"   # 环节超时: a step timer expired, the case deadline has not
    RED = "red"         # 超期


def _require_aware(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise CalendarInputError(f"{what}应为带时区的时间 / {what} must be an aware datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise CalendarInputError(f"{what}缺少时区：{value.isoformat()} / {what} is naive: {value.isoformat()}")
    return value


def parse_instant(text: str, tz: tzinfo = SHANGHAI) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is read as Asia/Shanghai local time.

    Raises CalendarInputError with an example of the expected form.
    """
    raw = (text or "").strip()
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise CalendarInputError(
            f"无法识别的时间“{raw}”：应为 ISO 8601，例如 2025-09-29T10:00:00+08:00 / "
            f"unrecognised time '{raw}': expected ISO 8601, e.g. 2025-09-29T10:00:00+08:00") from None
    return value.replace(tzinfo=tz) if value.tzinfo is None else value


def parse_office_hours(text: str) -> tuple[tuple[time, time], ...]:
    """`"09:00-12:00,13:00-17:00"` -> periods; sorted, non-overlapping, each ending after it starts.

    Raises CalendarInputError naming the bad period.
    """
    periods = []
    for part in [p.strip() for p in (text or "").replace("，", ",").split(",") if p.strip()]:
        try:
            begin, end = (time.fromisoformat(x.strip()) for x in part.replace("–", "-").split("-"))
        except ValueError:
            raise CalendarInputError(
                f"办公时间“{part}”格式有误，应为 09:00-12:00 / office period '{part}' should look like 09:00-12:00") from None
        periods.append((begin, end))
    return _check_office_hours(periods)


def _check_office_hours(periods: Iterable[tuple[time, time]]) -> tuple[tuple[time, time], ...]:
    periods = tuple((begin, end) for begin, end in periods)
    if not periods:
        raise CalendarInputError("办公时间为空 / no office hours given")
    previous_end = None
    for begin, end in periods:
        if end <= begin:
            raise CalendarInputError(f"办公时段 {begin:%H:%M}-{end:%H:%M} 结束早于开始 / office period ends before it starts")
        if previous_end is not None and begin < previous_end:
            raise CalendarInputError(f"办公时段 {begin:%H:%M} 与上一时段重叠或顺序颠倒 / office periods overlap or are out of order")
        previous_end = end
    return periods


class BusinessCalendar:
    """Working days and due dates for Jiangmen government work. Pure: no database, no clock."""

    def __init__(self, overrides: Mapping[date, bool] | None = None,
                 office_hours: Sequence[tuple[time, time]] | str = DEFAULT_OFFICE_HOURS,
                 tz: tzinfo = SHANGHAI):
        self._overrides: dict[date, bool] = dict(overrides or {})
        self.office_hours = parse_office_hours(office_hours) if isinstance(office_hours, str) \
            else _check_office_hours(office_hours)
        self.tz = tz
        self._days: dict[date, DayStatus] = {}

    # --- days ---------------------------------------------------------------------------------

    def local_date(self, instant: datetime) -> date:
        return _require_aware(instant, "时间 time").astimezone(self.tz).date()

    def is_working_day(self, day: date | datetime) -> DayStatus:
        """(is_working, provisional): overrides first, then chinese_calendar, then the statutory rules."""
        if isinstance(day, datetime):
            day = self.local_date(day)
        status = self._days.get(day)
        if status is None:
            status = self._days[day] = self._decide(day)
        return status

    def _decide(self, day: date) -> DayStatus:
        if day in self._overrides:
            return DayStatus(bool(self._overrides[day]), False)
        try:
            return DayStatus(chinese_calendar.is_workday(day), False)
        except NotImplementedError:   # "no available data for year …": outside the package's years
            return DayStatus(is_working_day_by_rule(day), True)

    def has_official_data(self, year: int) -> bool:
        """True when chinese_calendar knows the year or the override table covers all of its days."""
        try:
            chinese_calendar.is_workday(date(year, 7, 1))
            return True
        except NotImplementedError:
            pass
        day = date(year, 1, 1)
        while day.year == year:
            if day not in self._overrides:
                return False
            day += timedelta(days=1)
        return True

    def next_working_day(self, day: date) -> tuple[date, bool]:
        """(the first working day strictly after `day`, provisional) — e.g. for 催办通知书 after a deadline."""
        provisional = False
        while True:
            day += timedelta(days=1)
            status = self.is_working_day(day)
            provisional |= status.provisional
            if status.is_working:
                return day, provisional

    def count_working_days(self, after: date, through: date) -> int:
        """Working days d with after < d ≤ through (0 when through ≤ after)."""
        count, day = 0, after
        while day < through:
            day += timedelta(days=1)
            count += self.is_working_day(day).is_working
        return count

    def end_of_day(self, day: date) -> datetime:
        """23:59:59 local on `day`, as aware UTC (the instant a day limit falls due)."""
        return datetime.combine(day, END_OF_DAY, tzinfo=self.tz).astimezone(timezone.utc)

    # --- adding a limit -----------------------------------------------------------------------

    def add(self, start: datetime, duration: Duration | str) -> Due:
        """When `duration` counted from `start` falls due (DOMAIN §1.2).

        Raises DurationError for an unreadable duration and CalendarInputError for a naive start;
        never for a year without holiday data (the answer is then provisional).
        """
        duration = parse_duration(duration)
        start = _require_aware(start, "起算时间 start")
        n = duration.amount
        if duration.unit is Unit.H:
            return Due(start.astimezone(timezone.utc) + timedelta(hours=n), False)
        if duration.unit is Unit.MIN:
            return Due(start.astimezone(timezone.utc) + timedelta(minutes=n), False)
        if duration.unit is Unit.WH:
            due, provisional = self._add_office_time(start, timedelta(hours=n))
            return Due(due.astimezone(timezone.utc), provisional)
        day, provisional = self.local_date(start), False
        if duration.unit is Unit.WD:
            counted = 0
            while counted < n:
                day += timedelta(days=1)
                status = self.is_working_day(day)
                provisional |= status.provisional
                counted += status.is_working
        else:  # Unit.CD
            day += timedelta(days=n)
            status = self.is_working_day(day)
            provisional |= status.provisional
            while not status.is_working:
                day += timedelta(days=1)
                status = self.is_working_day(day)
                provisional |= status.provisional
        return Due(self.end_of_day(day), provisional)

    def _periods(self, day: date) -> list[tuple[datetime, datetime]]:
        return [(datetime.combine(day, begin, tzinfo=self.tz), datetime.combine(day, end, tzinfo=self.tz))
                for begin, end in self.office_hours]

    def _add_office_time(self, start: datetime, amount: timedelta) -> tuple[datetime, bool]:
        cursor = start.astimezone(self.tz)
        day, remaining, provisional = cursor.date(), amount, False
        while True:
            status = self.is_working_day(day)
            provisional |= status.provisional
            if status.is_working:
                for begin, end in self._periods(day):
                    begin = max(begin, cursor)
                    if begin >= end:
                        continue
                    if remaining <= end - begin:
                        return begin + remaining, provisional
                    remaining -= end - begin
            day += timedelta(days=1)

    def _subtract_office_time(self, end: datetime, amount: timedelta) -> tuple[datetime, bool]:
        cursor = end.astimezone(self.tz)
        day, remaining, provisional = cursor.date(), amount, False
        while True:
            status = self.is_working_day(day)
            provisional |= status.provisional
            if status.is_working:
                for begin, finish in reversed(self._periods(day)):
                    finish = min(finish, cursor)
                    if finish <= begin:
                        continue
                    if remaining <= finish - begin:
                        return finish - remaining, provisional
                    remaining -= finish - begin
            day -= timedelta(days=1)

    def _working_days_before(self, day: date, n: int) -> date:
        counted = 0
        while counted < n:
            day -= timedelta(days=1)
            counted += self.is_working_day(day).is_working
        return day

    # --- warning ------------------------------------------------------------------------------

    def warn_at(self, start: datetime, due: datetime, warn_before: Duration | str | None = None, *,
                window: Duration | str | None = None) -> datetime:
        """When the item turns yellow (aware UTC), never before `start` nor after `due`.

        `warn_before` (a task's `warnBefore`) is counted back from `due` in its own unit: n WD →
        the end of the n-th working day before the due day; CD/H/MIN → exact; WH → office hours.
        Without it, DOMAIN §1.4: for time windows (H, MIN, WH) and for day windows of ≤ 3 units,
        yellow when ≤ 20 % of the window remains (WH: 20 % of the office time); for longer day
        windows, yellow once only the due day's working day remains (the end of the previous
        working day). `window` is the limit the due date came from; without it the window is
        measured in working days between start and due.
        Raises DurationError for an unreadable duration.
        """
        start = _require_aware(start, "起算时间 start").astimezone(timezone.utc)
        due = _require_aware(due, "到期时间 due").astimezone(timezone.utc)
        due_day = self.local_date(due)
        if warn_before is not None:
            before = parse_duration(warn_before)
            if before.unit is Unit.WD:
                warn = self.end_of_day(self._working_days_before(due_day, before.amount))
            elif before.unit is Unit.WH:
                warn = self._subtract_office_time(due, timedelta(hours=before.amount))[0]
            else:
                warn = due - {Unit.CD: timedelta(days=before.amount), Unit.H: timedelta(hours=before.amount),
                              Unit.MIN: timedelta(minutes=before.amount)}[before.unit]
        else:
            window = parse_duration(window) if window is not None else None
            if window is not None and window.unit is Unit.WH:
                warn = self._subtract_office_time(due, timedelta(hours=window.amount) * WARN_FRACTION)[0]
            elif window is not None and window.unit in (Unit.H, Unit.MIN):
                warn = due - (due - start) * WARN_FRACTION
            else:
                units = window.amount if window is not None else self.count_working_days(self.local_date(start), due_day)
                if units <= SHORT_WINDOW_UNITS:
                    warn = due - (due - start) * WARN_FRACTION
                else:
                    warn = self.end_of_day(self._working_days_before(due_day, 1))
        warn = warn.astimezone(timezone.utc).replace(microsecond=0)
        return min(max(warn, start), due)


def sla_state(now: datetime, due_at: datetime | None, warn_at: datetime | None = None,
              window_start: datetime | None = None, *, step_overdue: bool = False) -> SlaState:
    """DOMAIN §1.4 colour at `now`: red once `now` is past `due_at` (due_at itself is still on time);
    orange when a step timer expired (`step_overdue`) but the deadline has not; yellow from `warn_at`
    (or, without it, when ≤ 20 % of the window from `window_start` remains); green otherwise or
    without a deadline.
    """
    if due_at is None:
        return SlaState.ORANGE if step_overdue else SlaState.GREEN
    if now > due_at:
        return SlaState.RED
    if step_overdue:
        return SlaState.ORANGE
    if warn_at is None and window_start is not None:
        warn_at = due_at - (due_at - window_start) * WARN_FRACTION
    if warn_at is not None and now >= warn_at:
        return SlaState.YELLOW
    return SlaState.GREEN
