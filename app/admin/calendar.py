"""The business calendar for administrators: a year's days, marking a year official or provisional,
loading the State Council's schedule, a one-day override — and, before any change is saved, the open
deadlines it would move (preview() is what apply() then does)."""
from __future__ import annotations

import calendar as monthcal
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask import current_app

from app.admin.audit_log import AdminAction, record
from app.admin.users import _reason
from app.audit.models import AuditAction, AuditEvent
from app.auth.models import User
from app.calendar import BusinessCalendar, YearSchedule
from app.calendar.models import CalendarYear, HolidayOverride, load_overrides, write_year_overrides
from app.cases.models import Case
from app.db import utcnow
from app.deadlines import due as due_dates
from app.deadlines.services import _reschedule
from app.errors import Conflict, FormInvalid
from app.extensions import db
from app.tasks.models import HumanTask, TaskStatus

MIN_YEAR, MAX_YEAR = 2004, 2100
NOTICE_MAX = 255


@dataclass
class Day:
    day: date
    is_working: bool
    provisional: bool
    note: str | None   # the override's notice or reason, when the administrator's table decides the day


@dataclass
class YearView:
    year: int
    months: list[tuple[int, list[list[Day | None]]]]   # month -> weeks (Monday first) of days
    has_data: bool         # chinese_calendar knows the year, or the override table covers every day
    mark: CalendarYear | None
    working_days: int
    overrides: int


def check_year(year: int) -> int:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise FormInvalid(f"年份应在 {MIN_YEAR}–{MAX_YEAR} 之间", fields={"year": ["年份超出范围"]})
    return year


def _calendar(overrides: dict[date, bool]) -> BusinessCalendar:
    return BusinessCalendar(overrides, office_hours=current_app.config["CALENDAR_OFFICE_HOURS"])


def year_view(year: int) -> YearView:
    check_year(year)
    cal = _calendar(load_overrides(db.session))
    notes = dict(db.session.execute(sa.select(HolidayOverride.day, HolidayOverride.notice).where(
        HolidayOverride.day.between(date(year, 1, 1), date(year, 12, 31)))).all())
    months, working = [], 0
    for month in range(1, 13):
        weeks = []
        for week in monthcal.Calendar().monthdatescalendar(year, month):
            row = []
            for d in week:
                if d.month != month:
                    row.append(None)
                    continue
                status = cal.is_working_day(d)
                working += status.is_working
                row.append(Day(d, status.is_working, status.provisional, notes.get(d)))
            weeks.append(row)
        months.append((month, weeks))
    return YearView(year, months, cal.has_official_data(year), db.session.get(CalendarYear, year), working, len(notes))


# --- marking a year ---------------------------------------------------------------------------------

def mark_year(actor: User, year: int, official: bool, notice: str, reason_text: str) -> CalendarYear:
    """正式 (the State Council's schedule is in) or 暂定. Official only when every day of the year
    has official data (chinese_calendar or the loaded schedule). Commits."""
    check_year(year)
    errors: dict = {}
    notice = (notice or "").strip()
    if len(notice) > NOTICE_MAX:
        errors["notice"] = [f"文号不超过 {NOTICE_MAX} 字"]
    reason = _reason(reason_text, errors)
    if official and not _calendar(load_overrides(db.session)).has_official_data(year):
        errors["official"] = [f"{year} 年尚无国务院节假日安排，请先导入安排文件，再标为正式"]
    if errors:
        raise FormInvalid("请按提示修改后再提交", fields=errors)
    row = db.session.get(CalendarYear, year)
    if row is None:
        row = CalendarYear(year=year)
        db.session.add(row)
    elif row.official == official and (row.notice or "") == notice:
        raise Conflict("该年度已是此状态")
    row.official, row.notice, row.updated_by_id, row.updated_at = official, notice or None, actor.id, utcnow()
    record(actor, AdminAction.CALENDAR_MARK, reason, label=f"{year} 年", year=year,
           status="正式" if official else "暂定", notice=notice or None)
    db.session.commit()
    return row


# --- changes with a preview -------------------------------------------------------------------------

@dataclass
class Moved:
    task_id: int
    case_id: int | None
    case_number: str | None
    task_name: str
    due_before: object
    due_after: object
    provisional_before: bool
    provisional_after: bool


def _open_tasks() -> list[HumanTask]:
    return list(db.session.execute(
        sa.select(HumanTask).where(HumanTask.status == TaskStatus.READY, HumanTask.deadline.is_not(None),
                                   HumanTask.paused_at.is_(None)).order_by(HumanTask.id)).scalars())


def moved_tasks(new_overrides: dict[date, bool]) -> list[Moved]:
    """The open, running deadlines whose due date or provisional mark differs under these overrides."""
    cal = _calendar(new_overrides)
    tasks = _open_tasks()
    numbers = dict(db.session.execute(sa.select(Case.id, Case.number).where(
        Case.id.in_({t.case_id for t in tasks if t.case_id}))).all()) if tasks else {}
    out = []
    for task in tasks:
        computed = due_dates.compute(task.deadline, cal)
        if computed.due_at != task.due_at or bool(computed.provisional) != bool(task.due_provisional):
            out.append(Moved(task.id, task.case_id, numbers.get(task.case_id), task.name, task.due_at,
                             computed.due_at, bool(task.due_provisional), bool(computed.provisional)))
    return out


def _with_schedule(schedule: YearSchedule) -> dict[date, bool]:
    current = load_overrides(db.session)
    current = {d: w for d, w in current.items() if d.year != schedule.year}
    current.update(schedule.day_map())
    return current


def _override_fields(day_text: str, working_text: str, reason_text: str) -> tuple[date, bool, str]:
    errors: dict = {}
    day = None
    try:
        day = date.fromisoformat((day_text or "").strip())
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            errors["day"] = [f"日期应在 {MIN_YEAR}–{MAX_YEAR} 年之间"]
    except ValueError:
        errors["day"] = ["请填写日期，格式 YYYY-MM-DD"]
    if working_text not in ("working", "rest"):
        errors["is_working"] = ["请选择工作日或休息日"]
    reason = _reason(reason_text, errors)
    if len(reason) > NOTICE_MAX:
        errors["reason"] = [f"理由不超过 {NOTICE_MAX} 字"]
    if errors:
        raise FormInvalid("请按提示修改后再提交", fields=errors)
    return day, working_text == "working", reason


def preview_override(day_text: str, working_text: str, reason_text: str) -> tuple[date, bool, str, list[Moved]]:
    day, working, reason = _override_fields(day_text, working_text, reason_text)
    overrides = load_overrides(db.session)
    overrides[day] = working
    return day, working, reason, moved_tasks(overrides)


def preview_schedule(schedule: YearSchedule) -> list[Moved]:
    return moved_tasks(_with_schedule(schedule))


def _recompute(actor: User, now, context: dict) -> int:
    """After the override rows changed (flushed): reschedule every open deadline that moves, each with
    its own `recalculate` event (the case timeline shows it)."""
    due_dates.forget_calendar()
    moved = {m.task_id for m in moved_tasks(load_overrides(db.session))}
    for task in _open_tasks():
        if task.id not in moved:
            continue
        before = task.due_at
        _reschedule(task, now)
        db.session.add(AuditEvent(at=now, actor_id=actor.id, action=AuditAction.RECALCULATE, case_id=task.case_id,
                                  instance_id=task.instance_id, human_task_id=task.id, bpmn_id=task.bpmn_id,
                                  label=task.name, data={**context,
                                                         "due_before": before.isoformat() if before else None,
                                                         "due_after": task.due_at.isoformat() if task.due_at else None,
                                                         "provisional": task.due_provisional}))
    return len(moved)


def apply_override(actor: User, day_text: str, working_text: str, reason_text: str) -> tuple[HolidayOverride, int]:
    """Write one day (replacing its row), then move the deadlines preview_override() listed. Commits."""
    day, working, reason = _override_fields(day_text, working_text, reason_text)
    now = utcnow()
    row = db.session.execute(sa.select(HolidayOverride).where(HolidayOverride.day == day)).scalar_one_or_none()
    before = None if row is None else row.is_working
    if row is None:
        row = HolidayOverride(day=day, is_working=working, notice=reason[:NOTICE_MAX])
        db.session.add(row)
    else:
        row.is_working, row.notice = working, reason[:NOTICE_MAX]
    db.session.flush()
    count = _recompute(actor, now, {"day": day.isoformat()})
    record(actor, AdminAction.CALENDAR_OVERRIDE, reason, label=day.isoformat(), day=day.isoformat(),
           before=None if before is None else ("工作日" if before else "休息日"),
           after="工作日" if working else "休息日", moved=count)
    db.session.commit()
    due_dates.forget_calendar()
    return row, count


def apply_schedule(actor: User, schedule: YearSchedule, reason_text: str) -> tuple[int, int]:
    """Load a year's schedule (its override rows replace the year's), move what the preview listed.
    Returns (days written, deadlines moved). Commits."""
    errors: dict = {}
    reason = _reason(reason_text, errors)
    if errors:
        raise FormInvalid("请填写操作理由", fields=errors)
    now = utcnow()
    days = write_year_overrides(db.session, schedule)
    count = _recompute(actor, now, {"year": schedule.year})
    record(actor, AdminAction.CALENDAR_LOAD, reason, label=f"{schedule.year} 年", year=schedule.year,
           notice=schedule.notice, days_written=days, moved=count)
    db.session.commit()
    due_dates.forget_calendar()
    return days, count
