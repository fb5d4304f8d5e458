"""Rule-based holidays for a year with no official schedule: 全国年节及纪念日放假办法 (2024 revision), no 调休.

Only used when neither the override table nor `chinese_calendar` knows the year; every answer that
comes from here is **provisional** (DOMAIN §8). What the rules give (§2 of the 办法, in force from 2025):

* 元旦 Jan 1; 春节 4 days = 除夕 + 正月初一…初三; 清明 (the solar term); 劳动节 May 1–2;
  端午 (lunar 5/5); 中秋 (lunar 8/15); 国庆 Oct 1–3.
* §6 补假: a holiday day falling on a Saturday or Sunday is made up on a working day. We also
  count a day claimed by two holidays (中秋 inside 国庆, e.g. 2028-10-03) twice, as the 2020
  schedule did. Each made-up day is the next Monday–Friday after the holiday that is not already off.

What they cannot give: the 调休 swaps (weekend working days and bridged weekdays) the State Council
publishes each autumn. A provisional calendar therefore has fewer days off than the real one will.
"""
from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar

# (春节 = 正月初一, 端午 = 五月初五, 中秋 = 八月十五) in the Gregorian calendar, from the Chinese lunar
# calendar (农历, GB/T 33661-2017 rules). 2025–2040 checked against two independent sources: the
# widely used 1900–2100 lunar month table (`lunarInfo`, Hong Kong Observatory data) decoded by hand,
# and published festival dates; 2025–2026 also agree with chinese_calendar's official schedules.
# 2041–2050 come from the decoded table alone. 除夕 is always the day before 正月初一.
LUNAR_FESTIVALS: dict[int, tuple[date, date, date]] = {
    2025: (date(2025, 1, 29), date(2025, 5, 31), date(2025, 10, 6)),
    2026: (date(2026, 2, 17), date(2026, 6, 19), date(2026, 9, 25)),
    2027: (date(2027, 2, 6), date(2027, 6, 9), date(2027, 9, 15)),
    2028: (date(2028, 1, 26), date(2028, 5, 28), date(2028, 10, 3)),
    2029: (date(2029, 2, 13), date(2029, 6, 16), date(2029, 9, 22)),
    2030: (date(2030, 2, 3), date(2030, 6, 5), date(2030, 9, 12)),
    2031: (date(2031, 1, 23), date(2031, 6, 24), date(2031, 10, 1)),
    2032: (date(2032, 2, 11), date(2032, 6, 12), date(2032, 9, 19)),
    2033: (date(2033, 1, 31), date(2033, 6, 1), date(2033, 9, 8)),
    2034: (date(2034, 2, 19), date(2034, 6, 20), date(2034, 9, 27)),
    2035: (date(2035, 2, 8), date(2035, 6, 10), date(2035, 9, 16)),
    2036: (date(2036, 1, 28), date(2036, 5, 30), date(2036, 10, 4)),
    2037: (date(2037, 2, 15), date(2037, 6, 18), date(2037, 9, 24)),
    2038: (date(2038, 2, 4), date(2038, 6, 7), date(2038, 9, 13)),
    2039: (date(2039, 1, 24), date(2039, 5, 27), date(2039, 10, 2)),
    2040: (date(2040, 2, 12), date(2040, 6, 14), date(2040, 9, 20)),
    2041: (date(2041, 2, 1), date(2041, 6, 3), date(2041, 9, 10)),
    2042: (date(2042, 1, 22), date(2042, 6, 22), date(2042, 9, 28)),
    2043: (date(2043, 2, 10), date(2043, 6, 11), date(2043, 9, 17)),
    2044: (date(2044, 1, 30), date(2044, 5, 31), date(2044, 10, 5)),
    2045: (date(2045, 2, 17), date(2045, 6, 19), date(2045, 9, 25)),
    2046: (date(2046, 2, 6), date(2046, 6, 8), date(2046, 9, 15)),
    2047: (date(2047, 1, 26), date(2047, 5, 29), date(2047, 10, 4)),
    2048: (date(2048, 2, 14), date(2048, 6, 15), date(2048, 9, 22)),
    2049: (date(2049, 2, 2), date(2049, 6, 4), date(2049, 9, 11)),
    2050: (date(2050, 1, 23), date(2050, 6, 23), date(2050, 9, 30)),
}

MAKE_UP = "补假"


def _qingming(year: int) -> date | None:
    """清明 is a solar term; chinese_calendar computes solar terms for 1900–2100 (寿星公式)."""
    try:
        terms = chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 30))
    except NotImplementedError:
        return None
    return next((d for d, name in terms if name == "清明"), None)


def _base_holidays(year: int) -> list[tuple[str, list[date]]]:
    """The statutory holiday blocks of the year, in date order (a lunar festival missing if out of the table)."""
    blocks: list[tuple[str, list[date]]] = [("元旦", [date(year, 1, 1)])]
    lunar = LUNAR_FESTIVALS.get(year)
    if lunar:
        new_year = lunar[0]
        blocks.append(("春节", [new_year + timedelta(days=i) for i in range(-1, 3)]))
    qingming = _qingming(year)
    if qingming:
        blocks.append(("清明节", [qingming]))
    blocks.append(("劳动节", [date(year, 5, 1), date(year, 5, 2)]))
    if lunar:
        blocks.append(("端午节", [lunar[1]]))
        blocks.append(("中秋节", [lunar[2]]))
    blocks.append(("国庆节", [date(year, 10, 1), date(year, 10, 2), date(year, 10, 3)]))
    blocks.sort(key=lambda block: block[1][0])
    return blocks


@lru_cache(maxsize=64)
def statutory_holidays(year: int) -> dict[date, str]:
    """Days off by rule for `year` (holiday name, or 补假 for a made-up day); weekends not listed.

    A 补假 falling in the next January is left out: it belongs to a year this function is not asked about.
    """
    blocks = _base_holidays(year)
    off: dict[date, str] = {}
    claims = Counter(d for _, days in blocks for d in days)
    for name, days in blocks:
        for d in days:
            off.setdefault(d, name)
    seen: Counter = Counter()
    for name, days in blocks:
        owed = 0
        for d in days:
            seen[d] += 1
            if d.weekday() >= 5 or (claims[d] > 1 and seen[d] > 1):
                owed += 1
        cursor = days[-1]
        while owed:
            cursor += timedelta(days=1)
            if cursor.weekday() < 5 and cursor not in off:
                off[cursor] = f"{name}{MAKE_UP}"
                owed -= 1
    return {d: name for d, name in off.items() if d.year == year}


def is_working_day_by_rule(day: date) -> bool:
    """Monday–Friday and not a statutory holiday or 补假 of the rules above."""
    return day.weekday() < 5 and day not in statutory_holidays(day.year)


def has_lunar_data(year: int) -> bool:
    return year in LUNAR_FESTIVALS
