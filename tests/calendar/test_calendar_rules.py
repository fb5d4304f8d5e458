"""The rule-based fallback (全国年节及纪念日放假办法, 2024 revision) for years without an official schedule."""
from datetime import date, timedelta

import chinese_calendar
import pytest

from app.calendar.statutory import LUNAR_FESTIVALS, is_working_day_by_rule, statutory_holidays


def days_of(year):
    d = date(year, 1, 1)
    while d.year == year:
        yield d
        d += timedelta(days=1)


@pytest.mark.parametrize("year", [2025, 2026])
def test_rules_never_give_a_day_off_the_official_schedule_kept_as_working(year):
    # the 2024 revision applies from 2025; the official schedule only adds days off (调休) to the rules
    for day in statutory_holidays(year):
        assert not chinese_calendar.is_workday(day), day


@pytest.mark.parametrize("year", [2025, 2026])
def test_lunar_table_agrees_with_the_official_schedules(year):
    new_year, dragon_boat, mid_autumn = LUNAR_FESTIVALS[year]
    names = chinese_calendar.holidays
    assert names[new_year] == chinese_calendar.Holiday.spring_festival.value
    assert names[dragon_boat] == chinese_calendar.Holiday.dragon_boat_festival.value
    assert names[mid_autumn] in (chinese_calendar.Holiday.mid_autumn_festival.value,
                                 chinese_calendar.Holiday.national_day.value)


def test_lunar_table_is_complete_and_plausible():
    assert set(range(2027, 2041)) <= set(LUNAR_FESTIVALS)
    for year, (new_year, dragon_boat, mid_autumn) in LUNAR_FESTIVALS.items():
        assert date(year, 1, 21) <= new_year <= date(year, 2, 20)
        assert date(year, 5, 26) <= dragon_boat <= date(year, 6, 25)
        assert date(year, 9, 7) <= mid_autumn <= date(year, 10, 8)


def test_2027_by_rule():
    off = statutory_holidays(2027)
    assert off[date(2027, 1, 1)] == "元旦"
    assert [d.day for d in off if d.month == 2] == [5, 6, 7, 8, 9, 10]      # 除夕…初三 + two 补假
    assert off[date(2027, 2, 9)] == "春节补假"
    assert date(2027, 4, 5) in off                                         # 清明 (solar term)
    assert off[date(2027, 6, 9)] == "端午节" and off[date(2027, 9, 15)] == "中秋节"
    # 13 statutory days + 补假 for 02-06, 02-07 (Sat/Sun), 05-01, 05-02, 10-02, 10-03
    assert len(off) == 13 + 6
    assert is_working_day_by_rule(date(2027, 2, 11))
    assert not is_working_day_by_rule(date(2027, 2, 13))                   # a plain Saturday
    assert is_working_day_by_rule(date(2027, 1, 4))


def test_mid_autumn_inside_national_day_is_made_up():
    off = statutory_holidays(2028)     # 中秋 2028-10-03 is also the third 国庆 day; 10-01 is a Sunday
    assert off[date(2028, 10, 4)] == "国庆节补假"
    assert off[date(2028, 10, 5)] == "中秋节补假"
    assert date(2028, 10, 6) not in off


def test_year_beyond_the_lunar_table_still_answers():
    off = statutory_holidays(2051)
    assert date(2051, 10, 2) in off and date(2051, 5, 1) in off
    assert not any(d.month == 2 for d in off)   # no 春节 without lunar data; still provisional in the calendar
