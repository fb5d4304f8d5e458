"""Warning times and SLA colours (DOMAIN §1.4) at their boundaries."""
from datetime import datetime, timedelta, timezone

import pytest

from app.calendar import BusinessCalendar, SlaState, sla_state

CAL = BusinessCalendar()
SECOND = timedelta(seconds=1)


def at(text):
    return datetime.fromisoformat(text)


def local(dt):
    return dt.astimezone(timezone(timedelta(hours=8))).isoformat(timespec="seconds")


def test_long_day_window_warns_when_one_working_day_remains():
    start = at("2025-09-29T10:00:00+08:00")
    due = CAL.add(start, "15WD").due                                   # 2025-10-27 (Mon) 23:59:59
    warn = CAL.warn_at(start, due, window="15WD")
    assert local(warn) == "2025-10-24T23:59:59+08:00"                   # end of Friday, the previous working day
    assert warn.tzinfo == timezone.utc
    assert CAL.warn_at(start, due) == warn                              # window inferred: 15 working days


def test_previous_working_day_may_be_a_makeup_saturday():
    start = at("2025-09-22T09:00:00+08:00")
    due = CAL.add(start, "11WD").due                                   # 2025-10-13 (Mon)
    assert local(due) == "2025-10-13T23:59:59+08:00"
    assert local(CAL.warn_at(start, due, window="11WD")) == "2025-10-11T23:59:59+08:00"  # Sat 10-11 is worked


def test_short_window_warns_at_twenty_percent():
    start = at("2025-09-26T15:40:00+08:00")
    due = CAL.add(start, "2WD").due                                    # 2025-09-29 23:59:59
    # window 3 d 8 h 19 min 59 s; 20 % = 16 h 03 min 59.8 s before the due time
    assert local(CAL.warn_at(start, due, window="2WD")) == "2025-09-29T07:55:59+08:00"
    assert local(CAL.warn_at(start, due)) == "2025-09-29T07:55:59+08:00"


def test_time_windows_warn_at_twenty_percent():
    start = at("2025-09-22T10:00:00+08:00")
    assert local(CAL.warn_at(start, CAL.add(start, "60MIN").due, window="60MIN")) == "2025-09-22T10:48:00+08:00"
    assert local(CAL.warn_at(start, CAL.add(start, "24H").due, window="24H")) == "2025-09-23T05:12:00+08:00"
    monday = at("2025-09-22T09:00:00+08:00")
    due = CAL.add(monday, "8WH").due                                   # 2025-09-23 10:00
    assert local(due) == "2025-09-23T10:00:00+08:00"
    # 20 % of 8 office hours = 96 min of office time before 10:00 Tuesday: 60 min Tue + 36 min Mon
    assert local(CAL.warn_at(monday, due, window="8WH")) == "2025-09-22T16:24:00+08:00"


@pytest.mark.parametrize("warn_before, expected", [
    ("1WD", "2025-10-24T23:59:59+08:00"),
    ("3WD", "2025-10-22T23:59:59+08:00"),
    ("3CD", "2025-10-24T23:59:59+08:00"),
    ("6H", "2025-10-27T17:59:59+08:00"),
    ("30MIN", "2025-10-27T23:29:59+08:00"),
    ("2WH", "2025-10-27T15:00:00+08:00"),       # counted back from the 17:00 close
    ("10WH", "2025-10-24T14:00:00+08:00"),      # 7 office hours on Monday, 3 back into Friday
])
def test_explicit_warn_before(warn_before, expected):
    start = at("2025-09-29T10:00:00+08:00")
    due = CAL.add(start, "15WD").due
    assert local(CAL.warn_at(start, due, warn_before)) == expected


def test_warning_stays_inside_the_window():
    start = at("2025-09-29T10:00:00+08:00")
    due = CAL.add(start, "1WD").due
    assert CAL.warn_at(start, due, "5WD") == start.astimezone(timezone.utc)


def test_sla_colours_at_the_boundaries():
    due = at("2025-10-27T23:59:59+08:00")
    warn = at("2025-10-24T23:59:59+08:00")
    assert sla_state(warn - SECOND, due, warn) is SlaState.GREEN
    assert sla_state(warn, due, warn) is SlaState.YELLOW
    assert sla_state(due, due, warn) is SlaState.YELLOW               # the due instant itself is on time
    assert sla_state(due + timedelta(microseconds=1), due, warn) is SlaState.RED
    assert sla_state(due + SECOND, due, warn) == "red"                # a str enum, stored as text


def test_orange_is_a_step_timer_flag_and_red_wins():
    due = at("2025-10-27T23:59:59+08:00")
    warn = at("2025-10-24T23:59:59+08:00")
    early = at("2025-10-01T09:00:00+08:00")
    assert sla_state(early, due, warn, step_overdue=True) is SlaState.ORANGE
    assert sla_state(warn + SECOND, due, warn, step_overdue=True) is SlaState.ORANGE
    assert sla_state(due + SECOND, due, warn, step_overdue=True) is SlaState.RED
    assert sla_state(early, None) is SlaState.GREEN
    assert sla_state(early, None, step_overdue=True) is SlaState.ORANGE


def test_default_warning_from_the_window_start():
    start = at("2025-10-01T00:00:00+08:00")
    due = at("2025-10-11T00:00:00+08:00")                              # 10 days; yellow from 10-09 00:00
    assert sla_state(at("2025-10-08T23:59:59+08:00"), due, window_start=start) is SlaState.GREEN
    assert sla_state(at("2025-10-09T00:00:00+08:00"), due, window_start=start) is SlaState.YELLOW
    assert sla_state(at("2025-10-09T00:00:00+08:00"), due) is SlaState.GREEN   # no warn time, no window
