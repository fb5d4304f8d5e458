"""The holiday_override table round trip: write a year's schedule, load the mapping the calendar takes.

Importing the model adds its table to the shared metadata, and tests/test_app.py compares that
metadata with the migrated schema. Until the migration for holiday_override exists, this test
therefore runs in its own interpreter on an in-memory SQLite database.
"""
import json
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]

SCRIPT = r'''
import json
from datetime import date
import sqlalchemy as sa
from sqlalchemy.orm import Session
from app.calendar.models import HolidayOverride, load_overrides, write_year_overrides
from app.calendar.schedule import load_schedule_file, parse_schedule
from app.calendar import BusinessCalendar

engine = sa.create_engine("sqlite://")
HolidayOverride.__table__.create(engine)
with Session(engine) as session:
    session.add(HolidayOverride(day=date(2026, 12, 31), is_working=False, notice="manual"))
    session.add(HolidayOverride(day=date(2027, 6, 1), is_working=False, notice="old 2027 row"))
    session.flush()
    written = write_year_overrides(session, load_schedule_file("app/calendar/examples/2026.json"))
    again = write_year_overrides(session, load_schedule_file("app/calendar/examples/2026.json"))
    session.commit()
    overrides = load_overrides(session)
    since = load_overrides(session, since=date(2026, 12, 1))
    row = session.scalars(sa.select(HolidayOverride).where(HolidayOverride.day == date(2026, 2, 14))).one()
    cal = BusinessCalendar(overrides)
    due = cal.add(__import__("datetime").datetime.fromisoformat("2026-02-13T09:00:00+08:00"), "5WD")
print(json.dumps({
    "written": written, "again": again, "count": len(overrides), "since": len(since),
    "dec31": overrides[date(2026, 12, 31)], "feb14": overrides[date(2026, 2, 14)],
    "jun1_2027": overrides[date(2027, 6, 1)], "note": row.notice, "created_utc": row.created_at.tzinfo is not None,
    "due": due.isoformat(), "provisional": due.provisional,
}, ensure_ascii=False))
'''


def test_write_and_load_overrides_in_a_separate_interpreter():
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["written"] == out["again"] == 365
    assert out["count"] == 366                 # 2026 replaced (the manual 12-31 row too); the 2027 row kept
    assert out["since"] == 32
    assert out["dec31"] is True                # the schedule's answer replaced the manual row
    assert out["feb14"] is True and out["jun1_2027"] is False
    assert out["note"] == "国务院办公厅关于2026年部分节假日安排的通知（2025年11月4日） · 春节调休上班"
    assert out["created_utc"] is True
    assert out["due"] == "2026-02-27T23:59:59+08:00" and out["provisional"] is False
