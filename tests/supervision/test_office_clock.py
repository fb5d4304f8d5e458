"""kpis.OfficeClock (the working hours of 平均办理时长 and the bundle KPIs) agrees with the calendar's
own office periods, summed day by day, across weekends, a holiday, a 调休 Saturday, midnight in
Beijing (16:00 UTC), lunch breaks and the microsecond."""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone

from app.calendar import BusinessCalendar


def _brute_force_hours(calendar: BusinessCalendar, start: datetime, end: datetime) -> float:
    total = 0.0
    day = start.astimezone(calendar.tz).date() - timedelta(days=1)
    while day <= end.astimezone(calendar.tz).date() + timedelta(days=1):
        if calendar.is_working_day(day).is_working:
            for begin, finish in calendar._periods(day):
                overlap = min(finish, end) - max(begin, start)
                if overlap > timedelta(0):
                    total += overlap.total_seconds()
        day += timedelta(days=1)
    return max(total, 0.0) / 3600


def test_office_clock_matches_the_calendar_day_by_day():
    from app.supervision.kpis import OfficeClock
    calendar = BusinessCalendar()
    clock = OfficeClock(calendar)
    rng = random.Random(16)
    origin = datetime(2025, 9, 20, tzinfo=timezone.utc)   # 国庆 and its 调休 Saturday 2025-09-28, 10-11
    pairs = [(datetime(2025, 9, 30, 16, 0, tzinfo=timezone.utc), datetime(2025, 10, 9, 1, 0, tzinfo=timezone.utc)),
             (datetime(2025, 9, 27, 23, 59, 59, 999999, tzinfo=timezone.utc),
              datetime(2025, 9, 28, 4, 30, 0, 1, tzinfo=timezone.utc))]
    for _ in range(400):
        start = origin + timedelta(seconds=rng.randrange(0, 40 * 86400), microseconds=rng.randrange(10**6))
        pairs.append((start, start + timedelta(seconds=rng.randrange(0, 12 * 86400))))
    pairs.append((pairs[5][1], pairs[5][0]))   # reversed: none
    for start, end in pairs:
        assert abs(clock.hours_between(start, end) - _brute_force_hours(calendar, start, end)) < 1e-6, (start, end)
    assert calendar.is_working_day(date(2025, 9, 28)).is_working      # the 调休 Saturday is in the sample
    assert not calendar.is_working_day(date(2025, 10, 2)).is_working
