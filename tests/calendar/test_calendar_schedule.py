"""Year schedule files for `flask calendar load-year`: the format, its errors, and the shipped 2026 example."""
import json
from datetime import date, datetime
from pathlib import Path

import chinese_calendar
import pytest

import app.calendar as calendar_pkg
from app.calendar import BusinessCalendar, ScheduleError, load_schedule_file, parse_schedule
from app.calendar.schedule import schedule_from_library

EXAMPLE_2026 = Path(calendar_pkg.__file__).parent / "examples" / "2026.json"

# A made-up 2027 schedule for tests only (not the official one).
TEST_2027 = {
    "year": 2027, "notice": "测试用 2027 年安排（非正式）",
    "holidays": [{"name": "元旦", "from": "2027-01-01", "to": "2027-01-03"},
                 ["2027-02-05", "2027-02-12"], "2027-04-05"],
    "workdays": [{"name": "春节", "date": "2027-02-20"}, "2027-02-21"],
}


def datetime_at(text):
    return datetime.fromisoformat(text)


def problems_of(text) -> list[str]:
    with pytest.raises(ScheduleError) as err:
        parse_schedule(text if isinstance(text, str) else json.dumps(text, ensure_ascii=False, indent=2))
    return err.value.problems


def test_example_2026_reproduces_the_official_schedule_day_by_day():
    schedule = load_schedule_file(EXAMPLE_2026)
    assert schedule.year == 2026 and "2026年部分节假日安排" in schedule.notice
    days = schedule.day_map()
    assert len(days) == 365
    wrong = [d for d, working in days.items() if working != chinese_calendar.is_workday(d)]
    assert wrong == []
    # and as a calendar built from it alone (library answers shadowed by the overrides)
    cal = BusinessCalendar(days)
    assert cal.add(datetime_at("2026-02-13T09:00:00+08:00"), "5WD").isoformat() == "2026-02-27T23:59:59+08:00"


def test_example_is_what_the_library_export_writes():
    schedule = load_schedule_file(EXAMPLE_2026)
    assert schedule == schedule_from_library(2026, schedule.notice)
    assert EXAMPLE_2026.read_text(encoding="utf-8") == schedule.to_json()


def test_rows_cover_every_day_and_name_the_notice():
    rows = parse_schedule(json.dumps(TEST_2027, ensure_ascii=False)).rows()
    assert len(rows) == 365 and rows[0].day == date(2027, 1, 1) and rows[-1].day == date(2027, 12, 31)
    by_day = {r.day: r for r in rows}
    assert by_day[date(2027, 1, 1)] == (date(2027, 1, 1), False, "测试用 2027 年安排（非正式） · 元旦放假")
    assert by_day[date(2027, 2, 8)].note.endswith("· 放假")
    assert by_day[date(2027, 2, 20)] == (date(2027, 2, 20), True, "测试用 2027 年安排（非正式） · 春节调休上班")
    assert by_day[date(2027, 3, 1)] == (date(2027, 3, 1), True, "测试用 2027 年安排（非正式）")
    assert by_day[date(2027, 3, 6)].is_working is False   # a plain Saturday


def test_a_loaded_year_is_not_provisional():
    schedule = parse_schedule(json.dumps(TEST_2027, ensure_ascii=False))
    start = datetime_at("2026-12-20T09:00:00+08:00")
    assert BusinessCalendar().add(start, "15WD").provisional is True
    loaded = BusinessCalendar(schedule.day_map())
    due = loaded.add(start, "15WD")
    assert due.provisional is False and due.isoformat() == "2027-01-11T23:59:59+08:00"
    assert loaded.has_official_data(2027)
    # the loaded schedule, not the rules, decides: 02-12 is off only in the file, 02-21 (Sun) is worked
    assert loaded.add(datetime_at("2027-02-04T10:00:00+08:00"), "1WD").isoformat() == "2027-02-15T23:59:59+08:00"
    assert loaded.is_working_day(date(2027, 2, 21)) == (True, False)


def test_accepted_item_forms():
    schedule = parse_schedule(json.dumps({
        "year": 2027, "notice": "n", "comment": "free text",
        "holidays": ["2027-01-01", ["2027-02-05", "2027-02-07"], {"date": "2027-04-05"},
                     {"name": "劳动节", "from": "2027-05-01", "to": "2027-05-05"}],
    }))
    assert [(b.name, b.first, b.last) for b in schedule.holidays] == [
        (None, date(2027, 1, 1), date(2027, 1, 1)), (None, date(2027, 2, 5), date(2027, 2, 7)),
        (None, date(2027, 4, 5), date(2027, 4, 5)), ("劳动节", date(2027, 5, 1), date(2027, 5, 5))]
    assert schedule.workdays == ()


def test_json_syntax_error_gives_line_and_column():
    text = '{\n  "year": 2027,\n  "notice": "x",\n  "holidays": ["2027-01-01",]\n}'
    [problem] = problems_of(text)
    assert problem.startswith("第 4 行第") and "JSON 格式错误" in problem


def test_bad_date_names_line_and_field():
    text = ('{\n"year": 2027,\n"notice": "n",\n"holidays": [\n'
            '  {"name": "元旦", "from": "2027-01-01", "to": "2027-01-01"},\n'
            '  {"name": "春节", "from": "2027-02-05", "to": "2027-02-30"}\n]\n}')
    [problem] = problems_of(text)
    assert problem.startswith("第 6 行，holidays[1].to：") and "日期“2027-02-30”无效，应为 YYYY-MM-DD" in problem


@pytest.mark.parametrize("change, expected", [
    ({"year": "2027"}, "year：年份应为 2000–2100 之间的整数"),
    ({"notice": ""}, "notice：缺少通知名称或文号"),
    ({"holidays": []}, "holidays：缺少放假安排"),
    ({"holidays": [["2027-01-03", "2027-01-01"]]}, "结束日期 2027-01-01 早于起始日期 2027-01-03"),
    ({"holidays": [["2027-01-01", "2027-03-01"]]}, "超过 15 天"),
    ({"holidays": ["2026-12-31"]}, "不在 2027 年内"),
    ({"holidays": [["2027-02-05", "2027-02-12"], "2027-02-08"]}, "holidays[1]：2027-02-08 与第 1 项放假安排重叠"),
    ({"workdays": ["2027-02-22"]}, "2027-02-22 是星期一，本来就是工作日"),
    ({"workdays": ["2027-01-02"]}, "2027-01-02 同时列为放假日和上班日"),
    ({"workdays": "2027-02-20"}, "workdays 应为列表"),
    ({"holidays": [{"from": "2027-01-01"}]}, "应有 from 和 to 两个日期"),
    ({"holidays": [20270101]}, "应为日期、[起始, 结束]"),
    ({"holiday": []}, "不认识的字段 holiday"),
])
def test_field_errors(change, expected):
    problems = problems_of(dict(TEST_2027, **change))
    assert any(expected in p for p in problems), problems


def test_every_problem_is_reported_at_once():
    problems = problems_of({"year": 1999, "holidays": ["2027-13-01"], "workdays": ["2027-02-22"]})
    assert len(problems) >= 3
    assert str(ScheduleError(problems, "2027.json")).startswith("节假日安排文件 2027.json 有误")


def test_missing_file_is_a_schedule_error(tmp_path):
    with pytest.raises(ScheduleError, match="无法读取文件"):
        load_schedule_file(tmp_path / "2027.json")
    path = tmp_path / "2027.json"
    path.write_text(json.dumps(TEST_2027, ensure_ascii=False), encoding="utf-8-sig")   # with a BOM
    assert load_schedule_file(path).year == 2027


def test_library_export_refuses_an_unknown_year():
    with pytest.raises(NotImplementedError):
        schedule_from_library(2027, "x")
