"""The business calendar page: a year's days, official/provisional, loading the State Council's
schedule and a one-day override — each previewing the open deadlines it moves before saving."""
from __future__ import annotations

import io
import json
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from app.calendar.models import CalendarYear, HolidayOverride
from app.extensions import db
from app.tasks.models import HumanTask
from tests.admin.conftest import audit_rows
from tests.conftest import deploy_fixture

CST = timezone(timedelta(hours=8))
SCHEDULE_2027 = {"year": 2027, "notice": "国务院办公厅关于2027年部分节假日安排的通知（测试）",
                 "holidays": [{"name": "元旦", "from": "2027-01-01", "to": "2027-01-04"}], "workdays": []}


def _task(task_id):
    db.session.expire_all()
    return db.session.get(HumanTask, task_id)


def _open_task_across_new_year(api, clock):
    deploy_fixture("sla_task.bpmn")
    clock.set(datetime(2026, 12, 29, 9, 0, tzinfo=CST))
    resp = api.post("/api/v1/process-definitions/sla_task/start", user="intake1", json={"data": {}})
    assert resp.status_code == 201, resp.get_json()
    task = _task(resp.get_json()["tasks"][0]["id"])
    assert task.due_provisional and task.due_at == datetime(2027, 1, 4, 23, 59, 59, tzinfo=CST)
    return task


def test_a_year_without_official_data_is_shown_provisional(admin):
    text = admin.get("/admin/calendar?year=2027").get_data(as_text=True)
    assert "2027 年工作日历" in text and "尚无国务院节假日安排" in text and "暂定" in text
    assert text.count('class="cal-month"') == 12
    known = admin.get("/admin/calendar?year=2026").get_data(as_text=True)
    assert "本年度有国务院节假日安排数据" in known
    assert admin.get("/admin/calendar?year=1900").status_code == 422
    assert admin.get("/admin/calendar?year=abc").status_code == 422


def test_marking_official_needs_the_data_and_a_reason(admin):
    resp = admin.post("/admin/calendar/2027/mark", {"official": "1", "notice": "", "reason": "已发布"})
    assert resp.status_code == 422 and "请先导入安排文件" in resp.get_data(as_text=True)
    assert db.session.get(CalendarYear, 2027) is None
    assert admin.post("/admin/calendar/2026/mark", {"official": "1", "reason": ""}).status_code == 422
    ok = admin.post("/admin/calendar/2026/mark", {"official": "1", "notice": "国办发明电〔2025〕7号", "reason": "核对无误"})
    assert ok.status_code == 302
    db.session.expire_all()
    row = db.session.get(CalendarYear, 2026)
    assert row.official and row.notice == "国办发明电〔2025〕7号"
    event, = audit_rows("calendar_mark")
    assert event.data == {"year": 2026, "status": "正式", "notice": "国办发明电〔2025〕7号", "reason": "核对无误"}
    assert "国办发明电〔2025〕7号" in admin.get("/admin/calendar?year=2026").get_data(as_text=True)


def test_loading_a_schedule_previews_the_moved_deadlines_then_saves(admin, api, clock):
    task = _open_task_across_new_year(api, clock)
    upload = {"file": (io.BytesIO(json.dumps(SCHEDULE_2027, ensure_ascii=False).encode()), "2027.json"),
              "step": "preview"}
    preview = admin.post("/admin/calendar/load?year=2027", upload, content_type="multipart/form-data")
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "保存后将调整的办理时限（1 个）" in text
    assert "2027-01-04 23:59" in text and "2027-01-05 23:59" in text and "确认导入" in text
    # nothing saved by the preview
    assert db.session.execute(sa.select(sa.func.count(HolidayOverride.id))).scalar_one() == 0
    assert _task(task.id).due_at == datetime(2027, 1, 4, 23, 59, 59, tzinfo=CST)
    # the confirmation carries the file's text; a reason is required
    no_reason = admin.post("/admin/calendar/load?year=2027", {"schedule_text": json.dumps(SCHEDULE_2027),
                                                               "step": "save", "reason": ""})
    assert no_reason.status_code == 422 and "请填写操作理由" in no_reason.get_data(as_text=True)
    saved = admin.post("/admin/calendar/load?year=2027", {"schedule_text": json.dumps(SCHEDULE_2027),
                                                           "step": "save", "reason": "国务院通知已发布"})
    assert saved.status_code == 302
    after = _task(task.id)
    assert after.due_at == datetime(2027, 1, 5, 23, 59, 59, tzinfo=CST) and after.due_provisional is False
    load, = audit_rows("calendar_load")
    assert load.data["days_written"] == 365 and load.data["moved"] == 1 and load.data["reason"] == "国务院通知已发布"
    recalc, = audit_rows("recalculate")
    assert recalc.human_task_id == task.id and recalc.case_id == task.case_id
    # now the year may be marked official
    assert admin.post("/admin/calendar/2027/mark", {"official": "1", "reason": "已导入"}).status_code == 302


def test_a_broken_schedule_file_lists_its_problems(admin):
    bad = {"file": (io.BytesIO(b'{"year": 2027, "holidays": [["2027-01-01", "2028-01-03"]]}'), "2027.json")}
    resp = admin.post("/admin/calendar/load?year=2027", bad, content_type="multipart/form-data")
    text = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="l_file-error"' in text and "notice" in text
    empty = admin.post("/admin/calendar/load?year=2027", {"step": "preview"})
    assert empty.status_code == 422 and "请选择节假日安排文件" in empty.get_data(as_text=True)
    big = {"file": (io.BytesIO(b" " * (70 * 1024)), "2027.json")}
    resp = admin.post("/admin/calendar/load?year=2027", big, content_type="multipart/form-data")
    assert resp.status_code == 422 and "文件过大" in resp.get_data(as_text=True)


def test_an_override_previews_then_moves_the_deadline(admin, api, clock):
    task = _open_task_across_new_year(api, clock)
    form = {"day": "2027-01-04", "is_working": "rest", "reason": "台风停工（市政府通知）"}
    preview = admin.post("/admin/calendar/override", {**form, "step": "preview"})
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "保存后将调整的办理时限（1 个）" in text and "确认保存" in text
    assert 'value="台风停工（市政府通知）"' in text and 'type="hidden" name="day" value="2027-01-04"' in text
    back = admin.post("/admin/calendar/override", {**form, "step": "edit"}).get_data(as_text=True)
    assert 'id="o_day"' in back and 'value="2027-01-04"' in back and "确认保存" not in back
    assert _task(task.id).due_at == datetime(2027, 1, 4, 23, 59, 59, tzinfo=CST)
    saved = admin.post("/admin/calendar/override", {**form, "step": "save"})
    assert saved.status_code == 302
    assert _task(task.id).due_at == datetime(2027, 1, 5, 23, 59, 59, tzinfo=CST)
    row = db.session.execute(sa.select(HolidayOverride)).scalar_one()
    assert row.is_working is False and row.notice == "台风停工（市政府通知）"
    event, = audit_rows("calendar_override")
    assert event.data["after"] == "休息日" and event.data["moved"] == 1 and event.data["reason"] == form["reason"]
    assert "台风停工" in admin.get("/admin/calendar?year=2027").get_data(as_text=True)


def test_each_bad_override_input_is_named(admin):
    for change, field, message in [({"day": "2027-13-01"}, "day", "格式 YYYY-MM-DD"),
                                   ({"is_working": ""}, "is_working", "请选择工作日或休息日"),
                                   ({"reason": ""}, "reason", "请填写操作理由"),
                                   ({"reason": "理" * 256}, "reason", "理由不超过 255 字")]:
        form = {"day": "2027-01-04", "is_working": "rest", "reason": "台风", "step": "preview", **change}
        resp = admin.post("/admin/calendar/override", form)
        text = resp.get_data(as_text=True)
        assert resp.status_code == 422 and f'id="o_{field}-error"' in text and message in text, change
    assert db.session.execute(sa.select(sa.func.count(HolidayOverride.id))).scalar_one() == 0
