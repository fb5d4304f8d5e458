"""A year's official holiday schedule (国务院办公厅关于××年部分节假日安排的通知) as a JSON file, for `flask calendar load-year`.

File format (UTF-8 JSON, one file per year; see examples/2026.json)::

    {
      "year": 2027,
      "notice": "国务院办公厅关于2027年部分节假日安排的通知（国办发明电〔2026〕×号）",
      "comment": "optional free text, ignored",
      "holidays": [
        {"name": "元旦", "from": "2027-01-01", "to": "2027-01-03"},
        ["2027-02-05", "2027-02-12"],
        "2027-04-05"
      ],
      "workdays": [
        {"name": "春节", "date": "2027-02-14"},
        "2027-02-20"
      ]
    }

* `year` (required): the year the notice is for; every date in the file must lie in it.
* `notice` (required): the notice's title and/or document number; stored on every row.
* `holidays` (required, non-empty): the days off *as the notice lists them* ("放假调休，共N天"),
  weekends inside a block included. An item is a date, a `[from, to]` pair (inclusive), or an
  object with `from`/`to` (or `date`) and an optional `name`. Blocks must not overlap and a block
  may span at most 15 days.
* `workdays` (optional): the 调休 working days ("…上班"), each a Saturday or Sunday, as a date or
  an object with `date` and an optional `name`.
* Dates are `YYYY-MM-DD`. Any other day of the year is a working day Monday–Friday and a rest
  day on Saturday and Sunday.

Loading writes one `holiday_override` row for **every** day of the year (about 365 rows), so the
override table alone answers for that year and nothing in it is provisional any more. Loading the
same year again replaces its rows.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import chinese_calendar

MAX_BLOCK_DAYS = 15
MAX_NOTICE_LENGTH = 200
ALLOWED_KEYS = {"year", "notice", "comment", "holidays", "workdays"}
WEEKDAYS_ZH = "一二三四五六日"


class ScheduleError(ValueError):
    """The schedule file cannot be used; `problems` lists every one found, each naming line and field."""

    def __init__(self, problems: list[str], source: str = ""):
        self.problems = problems
        self.source = source
        head = f"节假日安排文件 {source} 有误 / invalid holiday schedule file {source}".replace("  ", " ")
        super().__init__(head + "：\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class HolidayBlock:
    name: str | None
    first: date
    last: date

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]


@dataclass(frozen=True)
class MakeUpWorkday:
    name: str | None
    day: date


class OverrideRow(NamedTuple):
    """One `holiday_override` row to write."""

    day: date
    is_working: bool
    note: str


@dataclass(frozen=True)
class YearSchedule:
    year: int
    notice: str
    holidays: tuple[HolidayBlock, ...]
    workdays: tuple[MakeUpWorkday, ...]

    def day_map(self) -> dict[date, bool]:
        """Every day of the year -> is it a working day under this schedule."""
        off = {d for block in self.holidays for d in block.days()}
        on = {w.day for w in self.workdays}
        result, day = {}, date(self.year, 1, 1)
        while day.year == self.year:
            result[day] = day in on or (day.weekday() < 5 and day not in off)
            day += timedelta(days=1)
        return result

    def rows(self) -> list[OverrideRow]:
        """The override rows for every day of the year; the note names the notice (and the holiday)."""
        labels: dict[date, str] = {}
        for block in self.holidays:
            for d in block.days():
                labels[d] = f"{block.name}放假" if block.name else "放假"
        for w in self.workdays:
            labels[w.day] = f"{w.name}调休上班" if w.name else "调休上班"
        return [OverrideRow(d, working, f"{self.notice} · {labels[d]}" if d in labels else self.notice)
                for d, working in self.day_map().items()]

    def to_json(self) -> str:
        """The canonical file text (object items with names), e.g. to write examples/2026.json."""
        def block(b: HolidayBlock) -> dict:
            item = {"name": b.name} if b.name else {}
            return item | {"from": b.first.isoformat(), "to": b.last.isoformat()}
        body = {
            "year": self.year,
            "notice": self.notice,
            "holidays": [block(b) for b in self.holidays],
            "workdays": [({"name": w.name} if w.name else {}) | {"date": w.day.isoformat()} for w in self.workdays],
        }
        def array(items: list) -> str:
            if not items:
                return "[]"
            return "[\n" + ",\n".join(f"    {json.dumps(x, ensure_ascii=False)}" for x in items) + "\n  ]"
        fields = [f'"year": {body["year"]}', f'"notice": {json.dumps(body["notice"], ensure_ascii=False)}',
                  f'"holidays": {array(body["holidays"])}', f'"workdays": {array(body["workdays"])}']
        return "{\n" + ",\n".join(f"  {f}" for f in fields) + "\n}\n"


# --- parsing --------------------------------------------------------------------------------------

class _Problems:
    def __init__(self, text: str):
        self.text = text
        self.items: list[str] = []

    def add(self, path: str, message: str, value: Any = None) -> None:
        line = self._line_of(value)
        where = f"第 {line} 行，{path}" if line else path
        self.items.append(f"{where}：{message}")

    def _line_of(self, value: Any) -> int | None:
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            needle = json.dumps(value, ensure_ascii=False)
            at = self.text.find(needle)
            if at >= 0:
                return self.text.count("\n", 0, at) + 1
        return None


def _weekday(d: date) -> str:
    return f"星期{WEEKDAYS_ZH[d.weekday()]}"


def _date(value: Any, path: str, year: int | None, problems: _Problems) -> date | None:
    if not isinstance(value, str):
        problems.add(path, f"应为日期字符串 YYYY-MM-DD，而不是 {json.dumps(value, ensure_ascii=False)}", value)
        return None
    try:
        if len(value) != 10:
            raise ValueError
        d = date.fromisoformat(value)
    except ValueError:
        problems.add(path, f"日期“{value}”无效，应为 YYYY-MM-DD（如 2027-01-01）", value)
        return None
    if year is not None and d.year != year:
        problems.add(path, f"日期 {value} 不在 {year} 年内；跨年的日期请写入该日期所在年份的文件", value)
        return None
    return d


def _name(item: dict, path: str, problems: _Problems) -> str | None:
    name = item.get("name")
    if name is None:
        return None
    if not isinstance(name, str) or not name.strip() or len(name) > 20:
        problems.add(f"{path}.name", "名称应为 1–20 个字的文字，如“春节”", name)
        return None
    return name.strip()


def _holiday(item: Any, path: str, year: int | None, problems: _Problems) -> HolidayBlock | None:
    name = None
    if isinstance(item, str):
        first = last = _date(item, path, year, problems)
    elif isinstance(item, list):
        if len(item) != 2:
            problems.add(path, "日期区间应写成 [\"起始日期\", \"结束日期\"]（两个日期）")
            return None
        first = _date(item[0], f"{path}[0]", year, problems)
        last = _date(item[1], f"{path}[1]", year, problems)
    elif isinstance(item, dict):
        unknown = set(item) - {"name", "from", "to", "date"}
        if unknown:
            problems.add(path, f"不认识的字段 {', '.join(sorted(unknown))}；可用 name、from、to（或 date）")
        name = _name(item, path, problems)
        if "date" in item and not ({"from", "to"} & set(item)):
            first = last = _date(item["date"], f"{path}.date", year, problems)
        elif "from" in item and "to" in item and "date" not in item:
            first = _date(item["from"], f"{path}.from", year, problems)
            last = _date(item["to"], f"{path}.to", year, problems)
        else:
            problems.add(path, "应有 from 和 to 两个日期（单日可写 date）")
            return None
    else:
        problems.add(path, "应为日期、[起始, 结束] 或 {\"name\", \"from\", \"to\"} 对象", item)
        return None
    if first is None or last is None:
        return None
    if last < first:
        problems.add(path, f"结束日期 {last} 早于起始日期 {first}", last.isoformat())
        return None
    if (last - first).days + 1 > MAX_BLOCK_DAYS:
        problems.add(path, f"{first} 至 {last} 共 {(last - first).days + 1} 天，超过 {MAX_BLOCK_DAYS} 天，请检查日期",
                     last.isoformat())
        return None
    return HolidayBlock(name, first, last)


def _workday(item: Any, path: str, year: int | None, problems: _Problems) -> MakeUpWorkday | None:
    name = None
    if isinstance(item, dict):
        unknown = set(item) - {"name", "date"}
        if unknown:
            problems.add(path, f"不认识的字段 {', '.join(sorted(unknown))}；可用 name、date")
        if "date" not in item:
            problems.add(path, "缺少 date（调休上班的日期）")
            return None
        name = _name(item, path, problems)
        day = _date(item["date"], f"{path}.date", year, problems)
    else:
        day = _date(item, path, year, problems)
    if day is None:
        return None
    if day.weekday() < 5:
        problems.add(path, f"{day} 是{_weekday(day)}，本来就是工作日；workdays 只列调休上班的周六、周日",
                     day.isoformat())
        return None
    return MakeUpWorkday(name, day)


def parse_schedule(text: str, source: str = "") -> YearSchedule:
    """Read a schedule file's text. Raises ScheduleError listing every problem (line and field, in Chinese)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ScheduleError([f"第 {exc.lineno} 行第 {exc.colno} 列：JSON 格式错误（{exc.msg}）；"
                             "常见原因：多余或缺少逗号、使用了中文引号"], source) from None
    problems = _Problems(text)
    if not isinstance(data, dict):
        raise ScheduleError(["文件内容应为一个 JSON 对象 {…}，包含 year、notice、holidays、workdays"], source)
    unknown = set(data) - ALLOWED_KEYS
    if unknown:
        problems.add("（顶层）", f"不认识的字段 {', '.join(sorted(unknown))}；可用 {', '.join(sorted(ALLOWED_KEYS))}")

    year = data.get("year")
    if "year" not in data:
        problems.add("year", "缺少年份 year，如 \"year\": 2027")
        year = None
    elif isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        problems.add("year", f"年份应为 2000–2100 之间的整数，而不是 {json.dumps(year, ensure_ascii=False)}", year)
        year = None

    notice = data.get("notice")
    if not isinstance(notice, str) or not notice.strip():
        problems.add("notice", "缺少通知名称或文号 notice，如 \"国务院办公厅关于2027年部分节假日安排的通知\"")
        notice = ""
    elif len(notice) > MAX_NOTICE_LENGTH:
        problems.add("notice", f"通知名称过长（最多 {MAX_NOTICE_LENGTH} 字）", notice)
    notice = notice.strip()

    holidays: list[HolidayBlock] = []
    raw_holidays = data.get("holidays")
    if not isinstance(raw_holidays, list) or not raw_holidays:
        problems.add("holidays", "缺少放假安排 holidays（非空列表）")
    else:
        for i, item in enumerate(raw_holidays):
            block = _holiday(item, f"holidays[{i}]", year, problems)
            if block:
                holidays.append(block)
    taken: dict[date, int] = {}
    for i, block in enumerate(holidays):
        for d in block.days():
            if d in taken:
                problems.add(f"holidays[{i}]", f"{d} 与第 {taken[d] + 1} 项放假安排重叠", d.isoformat())
                break
            taken[d] = i

    workdays: list[MakeUpWorkday] = []
    raw_workdays = data.get("workdays", [])
    if not isinstance(raw_workdays, list):
        problems.add("workdays", "调休上班日 workdays 应为列表，如 [\"2027-02-14\"]")
    else:
        seen: set[date] = set()
        for i, item in enumerate(raw_workdays):
            workday = _workday(item, f"workdays[{i}]", year, problems)
            if workday is None:
                continue
            if workday.day in taken:
                problems.add(f"workdays[{i}]", f"{workday.day} 同时列为放假日和上班日", workday.day.isoformat())
            elif workday.day in seen:
                problems.add(f"workdays[{i}]", f"{workday.day} 重复列出", workday.day.isoformat())
            else:
                seen.add(workday.day)
                workdays.append(workday)

    if problems.items:
        raise ScheduleError(problems.items, source)
    return YearSchedule(year, notice, tuple(sorted(holidays, key=lambda b: b.first)),
                        tuple(sorted(workdays, key=lambda w: w.day)))


def load_schedule_file(path: str | Path) -> YearSchedule:
    """Read and check a schedule file (UTF-8, a BOM is tolerated). Raises ScheduleError (also for I/O)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScheduleError([f"无法读取文件：{exc}"], str(path)) from None
    return parse_schedule(text, source=str(path))


def schedule_from_library(year: int, notice: str) -> YearSchedule:
    """The schedule chinese_calendar holds for `year` (to export a known year, or to check a file against it).

    Raises NotImplementedError when the package has no data for the year.
    """
    chinese_calendar.is_workday(date(year, 1, 1))  # raises NotImplementedError for an unknown year
    names = {h.value: h.chinese for h in chinese_calendar.Holiday}
    blocks: list[HolidayBlock] = []
    for d in sorted(d for d in chinese_calendar.holidays if d.year == year):
        name = names.get(chinese_calendar.holidays[d])
        last = blocks[-1] if blocks else None
        if last and last.name == name and last.last + timedelta(days=1) == d:
            blocks[-1] = HolidayBlock(name, last.first, d)
        else:
            blocks.append(HolidayBlock(name, d, d))
    workdays = tuple(MakeUpWorkday(names.get(chinese_calendar.workdays[d]), d)
                     for d in sorted(d for d in chinese_calendar.workdays if d.year == year))
    return YearSchedule(year, notice, tuple(blocks), workdays)
