"""Adding limits by DOMAIN §1.2: WD skips holidays and counts 调休 days, CD rolls forward, WH counts office hours."""
from datetime import date, datetime, time, timedelta, timezone

import pytest

from app.calendar import BusinessCalendar, CalendarInputError, Due, DurationError, parse_instant
from app.calendar.calendar import SHANGHAI, parse_office_hours

CAL = BusinessCalendar()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def due_iso(start: str, duration: str, cal: BusinessCalendar = CAL) -> str:
    return cal.add(at(start), duration).isoformat()


@pytest.mark.parametrize("start, duration, expected", [
    # DOMAIN §1.2, verified examples
    ("2025-09-29T10:00:00+08:00", "15WD", "2025-10-27T23:59:59+08:00"),  # National Day skipped, Sat 10-11 counts
    ("2025-09-26T15:40:00+08:00", "2WD", "2025-09-29T23:59:59+08:00"),   # Sun 09-28 is a 调休 working day
    ("2025-10-04T09:00:00+08:00", "1WD", "2025-10-09T23:59:59+08:00"),   # received on a holiday
    ("2026-02-13T09:00:00+08:00", "5WD", "2026-02-27T23:59:59+08:00"),   # Sat 02-14 counts; 02-15…02-23 off
    ("2025-08-03T09:00:00+08:00", "60CD", "2025-10-09T23:59:59+08:00"),  # 10-02 in the holiday, rolled
])
def test_domain_examples(start, duration, expected):
    due = CAL.add(at(start), duration)
    assert due.isoformat() == expected
    assert due.provisional is False


def test_start_day_not_counted_even_late_at_night_or_on_a_saturday():
    # 23:30 local on Friday is still Friday in Shanghai although it is 15:30 UTC
    assert due_iso("2025-09-19T23:30:00+08:00", "1WD") == "2025-09-22T23:59:59+08:00"
    # given in UTC: 2025-09-19T16:30Z is already Saturday 00:30 in Shanghai -> Monday
    assert due_iso("2025-09-19T16:30:00+00:00", "1WD") == "2025-09-22T23:59:59+08:00"
    # a Saturday receipt + 1 WD is Monday (chinese_calendar.find_workday would say Tuesday)
    assert due_iso("2025-09-20T10:00:00+08:00", "1WD") == "2025-09-22T23:59:59+08:00"


def test_due_is_aware_utc_at_the_end_of_the_local_day():
    due = CAL.add(at("2025-09-29T10:00:00+08:00"), "15WD")
    assert due.due == datetime(2025, 10, 27, 15, 59, 59, tzinfo=timezone.utc)
    assert due.due.tzinfo == timezone.utc
    assert due.local().time() == time(23, 59, 59)
    assert due.as_dict() == {"due": "2025-10-27T23:59:59+08:00", "provisional": False}


def test_calendar_days_that_end_on_a_working_day_do_not_move():
    assert due_iso("2025-01-20T09:00:00+08:00", "15CD") == "2025-02-05T23:59:59+08:00"  # 02-04 is the last 春节 day
    assert due_iso("2025-09-01T09:00:00+08:00", "7CD") == "2025-09-08T23:59:59+08:00"   # a Monday: no roll
    assert due_iso("2025-09-01T09:00:00+08:00", "5CD") == "2025-09-08T23:59:59+08:00"   # Saturday -> Monday


def test_hours_and_minutes_are_exact_clock_time():
    assert due_iso("2025-09-29T10:12:00+08:00", "168H") == "2025-10-06T10:12:00+08:00"  # SME 7 days, mid-holiday
    assert due_iso("2025-10-01T23:30:00+08:00", "60MIN") == "2025-10-02T00:30:00+08:00"
    assert due_iso("2025-09-27T16:59:00+08:00", "24H") == "2025-09-28T16:59:00+08:00"
    assert CAL.add(at("2026-12-31T12:00:00+08:00"), "48H").provisional is False  # no day consulted


@pytest.mark.parametrize("start, duration, expected", [
    ("2025-09-22T09:00:00+08:00", "2WH", "2025-09-22T11:00:00+08:00"),
    ("2025-09-22T11:00:00+08:00", "2WH", "2025-09-22T14:00:00+08:00"),  # across the lunch break
    ("2025-09-22T12:30:00+08:00", "2WH", "2025-09-22T15:00:00+08:00"),  # starts in the lunch break
    ("2025-09-22T07:00:00+08:00", "3WH", "2025-09-22T12:00:00+08:00"),  # before opening; ends at the close
    ("2025-09-22T18:00:00+08:00", "1WH", "2025-09-23T10:00:00+08:00"),  # after closing
    ("2025-09-19T16:00:00+08:00", "2WH", "2025-09-22T10:00:00+08:00"),  # Friday -> over the weekend
    ("2025-09-20T10:00:00+08:00", "1WH", "2025-09-22T10:00:00+08:00"),  # Saturday start
    ("2025-09-26T16:00:00+08:00", "2WH", "2025-09-28T10:00:00+08:00"),  # Sunday 09-28 is a 调休 working day
    ("2025-09-30T16:30:00+08:00", "1WH", "2025-10-09T09:30:00+08:00"),  # over National Day
    ("2025-09-22T09:00:00+08:00", "14WH", "2025-09-23T17:00:00+08:00"),  # two full days
])
def test_working_hours(start, duration, expected):
    assert due_iso(start, duration) == expected


def test_office_hours_are_configurable():
    cal = BusinessCalendar(office_hours="08:30-12:00, 14:30-17:30")
    assert cal.office_hours == ((time(8, 30), time(12)), (time(14, 30), time(17, 30)))
    assert due_iso("2025-09-22T11:00:00+08:00", "2WH", cal) == "2025-09-22T15:30:00+08:00"
    for bad in ("", "9-12", "12:00-09:00", "09:00-12:00,11:00-17:00"):
        with pytest.raises(CalendarInputError):
            parse_office_hours(bad)


def test_unannounced_year_is_provisional_not_an_error():
    due = CAL.add(at("2026-12-20T09:00:00+08:00"), "15WD")
    # 2026-12-21…31: 9 WD; 2027-01-01 (Fri) is 元旦 by rule; 01-04…08: 5 WD; 01-11 is the 15th
    assert due.isoformat() == "2027-01-11T23:59:59+08:00"
    assert due.provisional is True
    assert due.as_dict() == {"due": "2027-01-11T23:59:59+08:00", "provisional": True}


def test_provisional_only_when_a_rule_based_day_was_consulted():
    assert CAL.add(at("2026-12-01T09:00:00+08:00"), "15WD").provisional is False  # ends 2026-12-22
    assert CAL.add(at("2026-12-01T09:00:00+08:00"), "25WD").provisional is True   # reaches into 2027
    assert CAL.add(at("2026-12-25T09:00:00+08:00"), "7CD").provisional is True    # ends 2027-01-01
    assert CAL.add(at("2026-12-31T16:00:00+08:00"), "2WH").provisional is True
    assert CAL.is_working_day(date(2027, 2, 8)) == (False, True)                  # 春节 by rule
    assert CAL.is_working_day(date(2026, 2, 14)) == (True, False)                 # official 调休 Saturday


def test_spring_festival_2027_by_rule():
    # 除夕 02-05 (Fri) … 初三 02-08 (Mon); Sat and Sun owed back as 补假 on 02-09 and 02-10
    due = CAL.add(at("2027-02-04T10:00:00+08:00"), "1WD")
    assert due.isoformat() == "2027-02-11T23:59:59+08:00" and due.provisional


def test_overrides_beat_the_library():
    start = at("2025-10-04T09:00:00+08:00")
    closed = BusinessCalendar({date(2025, 10, 9): False})            # say a correction made 10-09 a holiday
    assert closed.add(start, "1WD").isoformat() == "2025-10-10T23:59:59+08:00"
    assert closed.is_working_day(date(2025, 10, 9)) == (False, False)
    opened = BusinessCalendar({date(2025, 10, 8): True})             # ... or 10-08 a working day
    assert opened.add(start, "1WD").isoformat() == "2025-10-08T23:59:59+08:00"
    no_makeup = BusinessCalendar({date(2025, 10, 11): False})        # the 调休 Saturday withdrawn
    assert no_makeup.add(at("2025-09-29T10:00:00+08:00"), "15WD").isoformat() == "2025-10-28T23:59:59+08:00"


def test_override_beats_the_rules_and_is_not_provisional():
    cal = BusinessCalendar({date(2027, 1, 4): False})
    assert cal.is_working_day(date(2027, 1, 4)) == (False, False)
    assert cal.is_working_day(date(2027, 1, 5)) == (True, True)


def test_next_working_day_and_counting():
    assert CAL.next_working_day(date(2025, 9, 30)) == (date(2025, 10, 9), False)
    assert CAL.next_working_day(date(2026, 12, 31)) == (date(2027, 1, 4), True)
    assert CAL.count_working_days(date(2025, 9, 29), date(2025, 10, 27)) == 15
    assert CAL.count_working_days(date(2025, 10, 27), date(2025, 9, 29)) == 0
    assert not CAL.has_official_data(2027) and CAL.has_official_data(2026)


def test_inputs_are_checked():
    with pytest.raises(CalendarInputError, match="缺少时区"):
        CAL.add(datetime(2025, 9, 29, 10), "15WD")
    with pytest.raises(DurationError):
        CAL.add(at("2025-09-29T10:00:00+08:00"), "15XD")


def test_parse_instant_reads_local_time_without_an_offset():
    assert parse_instant("2025-09-29T10:00:00+08:00") == at("2025-09-29T10:00:00+08:00")
    assert parse_instant(" 2025-09-29T10:00 ").utcoffset() == timedelta(hours=8)
    assert parse_instant("2025-09-29") == datetime(2025, 9, 29, tzinfo=SHANGHAI)
    assert parse_instant("2025-09-29T02:00:00Z") == at("2025-09-29T10:00:00+08:00")
    with pytest.raises(CalendarInputError, match="无法识别的时间“tomorrow”"):
        parse_instant("tomorrow")


def test_due_value_object():
    due = Due(datetime(2025, 10, 27, 15, 59, 59, tzinfo=timezone.utc), False)
    assert due.isoformat() == "2025-10-27T23:59:59+08:00"
