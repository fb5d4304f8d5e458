"""The supervisor dashboard page (/supervision): who may open it, what each supervisor sees (lists,
counts, charts, heat map, export links: never another unit's rows), the action forms (a Chinese
success message, an audit event, a notification) and their errors (at the field, nothing typed lost)."""
from __future__ import annotations

import csv
import html as htmllib
import io
import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from tests.supervision.conftest import cst, people, rows  # noqa: F401  (fixtures)

NOW = cst(2025, 3, 20, 10, 0)   # Thursday; the default period is March 2025


@pytest.fixture
def board(people, rows, db, clock):  # noqa: F811
    """Open tasks of units A and B (overdue and due soon), a closed case of B, a failed job of B."""
    clock.set(NOW)
    recipe = {"start": cst(2025, 3, 17, 9).isoformat(), "steps": ["2WD"], "warn": None, "pauses": []}
    a = rows.case("complaint", cst(2025, 3, 10, 9), unit="unit_a", district="江海区", channel="hotline_12345")
    b = rows.case("complaint", cst(2025, 3, 11, 9), unit="unit_b", district="台山市", channel="sme_platform")
    rows.case("complaint", cst(2025, 3, 3, 9), cst(2025, 3, 12, 9), unit="unit_b", district="台山市")
    ids = {
        "a_overdue": rows.task(a, "handle", status="ready", groups=["unit_a"], due=cst(2025, 3, 19, 23, 59, 59),
                               name="甲办理", deadline=recipe).id,
        "a_claimed": rows.task(a, "reply", status="ready", groups=["unit_a"], due=cst(2025, 3, 19, 12),
                               name="甲答复", assignee=people["worker_a"]).id,
        "a_soon": rows.task(a, "callback", status="ready", groups=["unit_a"], due=cst(2025, 3, 20, 17),
                            warn=cst(2025, 3, 20, 9), name="甲回访").id,
        "b_overdue": rows.task(b, "handle", status="ready", groups=["unit_b"], due=cst(2025, 3, 18, 12),
                               name="乙办理").id,
    }
    from app.deadlines.models import Incident, TimerJob
    job = TimerJob(kind="overdue", instance_id=b.instance.id, human_task_id=ids["b_overdue"], bpmn_id="handle",
                   due_at=cst(2025, 3, 18, 12), status="failed", attempts=5, last_error="boom",
                   created_at=cst(2025, 3, 18, 12))
    db.session.add(job)
    db.session.flush()
    incident = Incident(kind="overdue", job_id=job.id, instance_id=b.instance.id, human_task_id=ids["b_overdue"],
                        message="第 5 次执行仍失败：乙单位作业错误", created_at=NOW - timedelta(hours=1))
    db.session.add(incident)
    db.session.commit()
    ids.update(a_case=a.number, b_case=b.number, incident=incident.id, job=job.id)
    return ids


def _login(browser, name):
    browser.login(name, "demo12345")
    return browser


def _page(browser, path="/supervision", status=200):
    resp = browser.get(path)
    assert resp.status_code == status, browser.text(resp)[:3000]
    return browser.text(resp)


def _data(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="dashboard-data">(.*?)</script>', page, re.S)
    return json.loads(found.group(1))


def _export_links(page: str) -> list[str]:
    return [htmllib.unescape(h) for h in re.findall(r'<a href="([^"]+)" data-export="[^"]+"', page)]


def _export_table(resp) -> list[list[str]]:
    """The cells of a CSV or XLSX export, as text (an XLSX is a zip: read it, do not search its bytes)."""
    if resp.headers["Content-Type"].startswith("text/csv"):
        return list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    from openpyxl import load_workbook
    sheet = load_workbook(io.BytesIO(resp.data), read_only=True).active
    return [["" if cell is None else str(cell) for cell in row] for row in sheet.iter_rows(values_only=True)]


def _row(page: str, task_id: int) -> str:
    found = re.search(rf'<tbody id="task-{task_id}".*?</tbody>', page, re.S)
    assert found, f"row of task {task_id} not on the page"
    return found.group(0)


def _list(page: str) -> str:
    """The task table of the page (the heat map table names steps too)."""
    found = re.search(r'<table class="list tasks-table" id="task-table">.*?</table>', page, re.S)
    return found.group(0) if found else ""


def _tab_count(page: str, tab: str) -> int:
    return int(re.search(rf'data-tab="{tab}">[^<]*<span class="count count-{tab}">(\d+)</span>', page).group(1))


# --- who may open it ----------------------------------------------------------------------------------

def test_a_caseworker_gets_a_chinese_403(board, browser):
    _login(browser, "worker_a")
    for path in ("/supervision", "/supervision?tab=incidents", "/supervision/export/overdue.csv",
                 "/supervision/heatmap.json?heat=complaint"):
        resp = browser.get(path, headers={"Accept": "text/html"})
        assert resp.status_code == 403, path
        assert "只有督办员或系统管理员可以使用督办功能" in browser.text(resp)
        assert "Traceback" not in browser.text(resp)
    resp = browser.post(f"/supervision/tasks/{board['a_overdue']}/remind", {"note": "快办"})
    assert resp.status_code == 403 and "督办" in browser.text(resp)
    assert "督办</a>" not in _page(browser, "/tasks")        # no 督办 link in the top bar either


def test_anonymous_people_are_sent_to_log_in(board, browser):
    resp = browser.get("/supervision")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


# --- what each one sees -------------------------------------------------------------------------------

def test_a_supervisor_never_sees_another_units_rows(board, make_browser):
    browser = _login(make_browser(), "sup_a")
    page = _page(browser)
    assert board["a_case"] in page and "甲办理" in page and "甲答复" in page
    assert board["b_case"] not in page and "乙办理" not in page and "乙局" not in page
    assert "督办单位：甲局" in page
    assert (_tab_count(page, "overdue"), _tab_count(page, "due_soon"), _tab_count(page, "incidents")) == (2, 1, 0)
    data = _data(page)
    assert data["units"] == {"labels": ["甲局"], "counts": [2]}
    assert sum(data["trend"]["received"]) == 1 and sum(data["trend"]["overdue"]) == 2
    assert sum(data["trend"]["closed"]) == 0                   # B's closed case is not counted
    assert {s["bpmn_id"]: s["open"] for s in data["heat"]["steps"]} == {"handle": 1, "reply": 1, "callback": 1}
    heat = browser.get(data["heat"]["url"]).get_json()
    assert heat["totals"] == {"open": 3, "overdue": 2, "due_soon": 1} and "xml" in heat
    # the unit choices are theirs only; the incidents tab does not list B's failed job
    assert re.findall(r'<option value="(unit_[ab])"', page) == ["unit_a"]
    incidents = _page(browser, "/supervision?tab=incidents")
    assert "乙单位作业错误" not in incidents and "没有待处理的异常" in incidents
    # every export link of every tab: A's rows, never B's
    links = set(_export_links(page)) | set(_export_links(incidents)) \
        | set(_export_links(_page(browser, "/supervision?tab=due_soon")))
    assert {re.sub(r"\?.*", "", link) for link in links} >= {
        "/supervision/export/overdue.csv", "/supervision/export/overdue.xlsx", "/supervision/export/due_soon.csv",
        "/supervision/export/incidents.csv", "/supervision/export/kpis.csv"}
    for link in links:
        resp = browser.get(link)
        assert resp.status_code == 200, link
        table = _export_table(resp)
        cells = [cell for line in table[1:] for cell in line]
        assert board["b_case"] not in cells and "乙办理" not in cells, link
        assert not any("乙单位作业错误" in cell for cell in cells), link
        if "/overdue." in link:   # both formats: A's two overdue rows, by case and step
            head = table[0]
            rows = {(line[head.index("案件编号")], line[head.index("环节")]) for line in table[1:]}
            assert rows == {(board["a_case"], "甲办理"), (board["a_case"], "甲答复")}, link


def test_another_units_filter_is_refused_at_the_field(board, make_browser):
    browser = _login(make_browser(), "sup_a")
    page = _page(browser, "/supervision?unit=unit_b&tab=overdue")
    assert "不在您督办的单位范围内" in page and 'aria-describedby="unit-error"' in page
    assert board["b_case"] not in page and "乙办理" not in page
    refused = browser.get("/supervision/export/overdue.csv?unit=unit_b")
    assert refused.status_code == 422 and "不在您督办的单位范围内" in browser.text(refused)
    assert board["b_case"] not in browser.text(refused)


def test_an_administrator_sees_every_unit(board, make_browser):
    browser = _login(make_browser(), "boss")
    page = _page(browser)
    assert board["a_case"] in page and board["b_case"] in page and "系统管理员：全部承办单位" in page
    assert _tab_count(page, "overdue") == 3 and _tab_count(page, "incidents") == 1
    data = _data(page)
    assert sorted(zip(data["units"]["labels"], data["units"]["counts"])) == [("乙局", 1), ("甲局", 2)]
    assert sum(data["trend"]["closed"]) == 1
    assert "乙单位作业错误" in _page(browser, "/supervision?tab=incidents")
    filtered = _page(browser, "/supervision?unit=unit_b")
    assert board["b_case"] in _list(filtered) and "甲办理" not in filtered


def test_filters_sorting_and_pages(board, make_browser, app):
    browser = _login(make_browser(), "boss")
    page = _page(browser, "/supervision?district=台山市")
    assert "乙办理" in _list(page) and "甲办理" not in _list(page) and _tab_count(page, "overdue") == 1
    page = _page(browser, "/supervision?step=reply")
    assert "甲答复" in _list(page) and "甲办理" not in _list(page)
    page = _page(browser, "/supervision?district=江海区&step=reply&escalation=none&sort=-due_at")
    clear = htmllib.unescape(re.search(r'<a href="([^"]+)">清除条件</a>', page).group(1))
    assert clear == "/supervision?sort=-due_at"                 # every filter cleared, the sort kept
    latest = _list(_page(browser, "/supervision?sort=-due_at"))
    assert latest.index("甲办理") < latest.index("乙办理")
    earliest = _list(_page(browser, "/supervision"))
    assert earliest.index("乙办理") < earliest.index("甲答复") < earliest.index("甲办理")
    from app.web import supervision
    supervision.PER_PAGE, saved = 2, supervision.PER_PAGE
    try:
        first, second = _page(browser, "/supervision"), _page(browser, "/supervision?page=2")
    finally:
        supervision.PER_PAGE = saved
    assert "第 1 / 2 页" in first and "乙办理" in _list(first) and "甲办理" not in _list(first)
    assert "甲办理" in _list(second) and "乙办理" not in _list(second)
    # a bad date is reported at its field and the month is shown
    bad = _page(browser, "/supervision?start=2025-02-30&end=2025-01-01")
    assert "日期格式应为 YYYY-MM-DD" in bad and 'aria-describedby="start-error"' in bad
    assert 'name="start" value="2025-03-01"' in bad


def test_kpi_tiles_explain_themselves(board, make_browser):
    from app.supervision.kpis import KPIS
    page = _page(_login(make_browser(), "sup_a"))
    for kpi in KPIS:
        tile = re.search(rf'<li class="kpi[^"]*"[^>]*data-kpi="{kpi.id}".*?</li>', page, re.S).group(0)
        assert kpi.name in tile and htmllib.escape(kpi.explanation, quote=False) in tile
        assert "计算口径：" + htmllib.escape(kpi.formula, quote=False) in tile
        assert 'role="tooltip"' in tile


def test_the_page_and_the_api_show_the_same_numbers(board, make_browser, api):
    page = _page(_login(make_browser(), "sup_a"))
    overdue = api.get("/api/v1/supervision/overdue", user="sup_a").get_json()
    soon = api.get("/api/v1/supervision/due-soon", user="sup_a").get_json()
    assert _tab_count(page, "overdue") == overdue["pagination"]["total"]
    assert _tab_count(page, "due_soon") == soon["pagination"]["total"]
    data = _data(page)
    summary = api.get("/api/v1/supervision/summary?kind=overdue&by=unit", user="sup_a").get_json()["groups"]
    assert data["units"]["counts"] == [g["count"] for g in summary]
    trend = api.get("/api/v1/supervision/trend?start=2025-03-01&end=2025-04-01", user="sup_a").get_json()
    assert data["trend"]["received"] == [w["received"] for w in trend["weeks"]]
    assert data["trend"]["overdue"] == [w["overdue"] for w in trend["weeks"]]
    heat = api.get("/api/v1/supervision/heatmap?process=complaint", user="sup_a").get_json()
    assert data["heat"]["steps"] == heat["steps"]
    kpis = api.get("/api/v1/supervision/kpis?start=2025-03-01&end=2025-04-01", user="sup_a").get_json()["kpis"]
    for kpi in kpis:
        tile = re.search(rf'data-kpi="{kpi["id"]}".*?</li>', page, re.S).group(0)
        if kpi["unit"] != "时限":
            assert f'<span class="kpi-value">{htmllib.escape(kpi["display"])}</span>' in tile


# --- actions ---------------------------------------------------------------------------------------

def _events(db, action):
    from app.audit.models import AuditEvent
    db.session.expire_all()
    return db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == action)).scalars().all()


def _notes(db, user):
    from app.notifications.models import Notification
    db.session.expire_all()
    return db.session.execute(sa.select(Notification).where(Notification.user_id == user.id)
                              .order_by(Notification.id)).scalars().all()


def _post(browser, path, data):
    return browser.post(path, data)


def _success(browser, resp, expected):
    assert resp.status_code == 303, browser.text(resp)[:2000]
    page = _page(browser, resp.headers["Location"])
    assert resp.headers["Location"].endswith("#lists")
    shown = re.findall(r'<div class="alert success action-done" role="status">([^<]*)</div>', page)
    assert len(shown) == 1 and shown[0].startswith(expected), shown
    return page


def test_remind_from_the_page(board, make_browser, db, people):
    browser = _login(make_browser(), "sup_a")
    resp = _post(browser, f"/supervision/tasks/{board['a_overdue']}/remind?tab=overdue&sort=-due_at",
                 {"note": "请今天办结"})
    assert "sort=-due_at" in resp.headers["Location"]
    _success(browser, resp, "催办成功：已催办，已通知 2 人")     # worker_a and worker_a2, not sup_a who acted
    [event] = _events(db, "remind")
    assert event.actor_id == people["sup_a"].id and event.data == {"note": "请今天办结"}
    assert _notes(db, people["worker_a"])[-1].title == "催办：甲办理"


def test_supervise_with_a_deadline_from_the_page(board, make_browser, db, people):
    browser = _login(make_browser(), "sup_a")
    resp = _post(browser, f"/supervision/tasks/{board['a_claimed']}/supervise",
                 {"note": "逾期未答复，限期办结", "deadline": "2025-03-24T17:30"})
    page = _success(browser, resp, "督办成功：已督办，要求于 2025-03-24 17:30 前办结，已通知 1 人")
    assert "已督办，期限 2025-03-24 17:30" in _row(page, board["a_claimed"])
    [event] = _events(db, "supervise")
    assert event.data == {"note": "逾期未答复，限期办结", "deadline": "2025-03-24T17:30:00+08:00"}
    [note] = _notes(db, people["worker_a"])
    assert note.kind == "supervise" and "2025-03-24 17:30" in note.body


def test_reassign_from_the_page(board, make_browser, db, people):
    browser = _login(make_browser(), "sup_a")
    row = _row(_page(browser), board["a_claimed"])
    choices = re.findall(r'<option value="([a-z_0-9]+)"', row.split('data-action="reassign"')[1].split("</form>")[0])
    assert choices == ["sup_a", "worker_a2"]                     # the groups' members but the current assignee
    resp = _post(browser, f"/supervision/tasks/{board['a_claimed']}/reassign",
                 {"username": "worker_a2", "note": "甲一休假"})
    page = _success(browser, resp, "改派成功：已改派给 worker_a2")
    assert "经办人 甲二" in _row(page, board["a_claimed"])
    assert _events(db, "reassign")[0].data["to"] == "worker_a2"
    assert _notes(db, people["worker_a2"])[-1].kind == "assigned"


def test_extension_approve_and_refuse_from_the_page(board, make_browser, db, people):
    browser = _login(make_browser(), "sup_a")
    resp = _post(browser, f"/supervision/tasks/{board['a_overdue']}/extension",
                 {"decision": "approve", "days": "3", "note": "需现场勘查"})
    _success(browser, resp, "延期审批成功：已批准延期 3 个工作日，办理时限延至 ")
    assert _events(db, "extend")
    resp = _post(browser, f"/supervision/tasks/{board['a_claimed']}/extension",
                 {"decision": "refuse", "note": "理由不充分"})
    _success(browser, resp, "延期审批成功：已不批准延期申请")
    assert _events(db, "refuse_extension")[0].data["note"] == "理由不充分"


def test_retry_a_failed_job_from_the_page(board, make_browser, db, people):
    from app.deadlines.models import Incident
    browser = _login(make_browser(), "sup_b")
    page = _page(browser, "/supervision?tab=incidents")
    assert "乙单位作业错误" in page and f'id="incident-incident-{board["incident"]}"' in page
    resp = _post(browser, f"/supervision/incidents/{board['incident']}/retry?tab=incidents", {"note": "已修复"})
    page = _success(browser, resp, "重试成功：失败作业已重新排队")
    assert "没有待处理的异常" in page
    db.session.expire_all()
    assert db.session.get(Incident, board["incident"]).resolved_by_id == people["sup_b"].id
    assert _events(db, "retry")[0].data["note"] == "已修复"
    assert _post(browser, f"/supervision/incidents/{board['incident']}/retry", {"note": "x"}).status_code == 409


# --- bad input: the message at the field, nothing lost -------------------------------------------------

def test_a_missing_note_is_reported_at_the_field_and_the_deadline_is_kept(board, make_browser, db):
    browser = _login(make_browser(), "sup_a")
    resp = _post(browser, f"/supervision/tasks/{board['a_overdue']}/supervise?tab=overdue",
                 {"note": "  ", "deadline": "2025-03-25T09:00"})
    assert resp.status_code == 422
    row = _row(browser.text(resp), board["a_overdue"])
    assert '<details class="row-actions" open>' in row
    error = re.search(rf'id="supervise-{board["a_overdue"]}-note-error">([^<]+)<', row).group(1)
    assert error == "必填"
    assert 'value="2025-03-25T09:00"' in row
    assert "督办未完成：请填写督办说明（备注），说明为必填项" in browser.text(resp)
    assert not _events(db, "supervise")


def test_a_deadline_in_the_past_is_reported_at_the_field_and_the_note_is_kept(board, make_browser, db):
    browser = _login(make_browser(), "sup_a")
    resp = _post(browser, f"/supervision/tasks/{board['a_overdue']}/supervise",
                 {"note": "限期办结，不得拖延", "deadline": "2025-03-19T09:00"})
    assert resp.status_code == 422
    row = _row(browser.text(resp), board["a_overdue"])
    assert re.search(rf'id="supervise-{board["a_overdue"]}-deadline-error">必须晚于当前时间<', row)
    assert 'aria-invalid="true" aria-describedby="supervise-' in row
    assert ">限期办结，不得拖延</textarea>" in row
    bad = _post(browser, f"/supervision/tasks/{board['a_overdue']}/supervise", {"note": "x", "deadline": "明天"})
    assert bad.status_code == 422 and "应为 ISO 日期时间" in _row(browser.text(bad), board["a_overdue"])
    assert not _events(db, "supervise")


def test_an_unknown_task_is_reported_and_the_note_is_shown_back(board, make_browser):
    browser = _login(make_browser(), "sup_a")
    resp = _post(browser, "/supervision/tasks/999999/remind", {"note": "请尽快办理此件"})
    assert resp.status_code == 404
    page = browser.text(resp)
    assert "催办未完成：找不到该任务" in page and "您填写的说明（未提交）" in page and "请尽快办理此件" in page
    assert "甲办理" in page                                   # the dashboard itself, not a bare error page


def test_other_bad_inputs_are_reported_at_their_fields(board, make_browser, db):
    browser = _login(make_browser(), "sup_a")
    task = board["a_claimed"]
    resp = _post(browser, f"/supervision/tasks/{task}/reassign", {"username": "nobody", "note": "换人"})
    assert resp.status_code == 422
    row = _row(browser.text(resp), task)
    assert re.search(rf'id="reassign-{task}-username-error">用户不存在或已停用<', row)
    assert ">换人</textarea>" in row
    resp = _post(browser, f"/supervision/tasks/{task}/extension", {"decision": "approve", "days": "", "note": ""})
    assert resp.status_code == 422
    row = _row(browser.text(resp), task)
    assert re.search(rf'id="extension-{task}-days-error">请填写 1 至 60 的整数', row)
    assert re.search(rf'id="extension-{task}-note-error">必填<', row)
    assert 'value="approve" checked' in row
    resp = _post(browser, f"/supervision/tasks/{task}/extension", {"note": "看看"})
    assert resp.status_code == 422 and "请选择批准或不批准延期" in _row(browser.text(resp), task)
    resp = _post(browser, f"/supervision/tasks/{task}/extension", {"decision": "approve", "days": "99", "note": "久"})
    assert resp.status_code == 422 and "1 至 60 个工作日" in _row(browser.text(resp), task)
    assert not _events(db, "extend") and not _events(db, "reassign")


def test_extreme_values_are_reported_at_their_fields_not_as_a_server_error(board, make_browser, db):
    browser = _login(make_browser(), "sup_a")
    for query in ("start=9999-12-01&end=9999-12-31", "start=0001-01-01&end=0001-01-31"):   # a short period
        page = _page(browser, f"/supervision?{query}")
        assert page.count("日期须在 2000 至 2100 年之间") == 2
        assert 'aria-describedby="start-error"' in page and 'aria-describedby="end-error"' in page
        assert 'name="start" value="2025-03-01"' in page and 'name="end" value="2025-03-31"' in page
        assert "甲办理" in _list(page)                              # the month is shown instead
        assert browser.get(f"/supervision/heatmap.json?heat=complaint&{query}").status_code == 200
        refused = browser.get(f"/supervision/export/overdue.csv?{query}")
        assert refused.status_code == 422 and "日期须在 2000 至 2100 年之间" in browser.text(refused)
    assert "甲办理" in _list(_page(browser, "/supervision?page=²"))   # "²".isdigit(), but not a number
    task = board["a_claimed"]
    for days in ("²", "٣", "1" * 5000):                              # digits int() refuses or reads otherwise
        resp = _post(browser, f"/supervision/tasks/{task}/extension", {"decision": "approve", "days": days,
                                                                         "note": "需现场勘查"})
        assert resp.status_code == 422
        assert re.search(rf'id="extension-{task}-days-error">请填写 1 至 60 的整数', _row(browser.text(resp), task))
    resp = _post(browser, f"/supervision/tasks/{task}/supervise", {"note": "限期", "deadline": "9999-12-31T23:59-12:00"})
    assert resp.status_code == 422
    assert re.search(rf'id="supervise-{task}-deadline-error">日期须在 2000 至 2100 年之间<',
                     _row(browser.text(resp), task))
    assert not _events(db, "extend") and not _events(db, "supervise")


def test_another_units_task_and_a_missing_token_are_refused(board, make_browser, db):
    browser = _login(make_browser(), "sup_a")
    resp = _post(browser, f"/supervision/tasks/{board['b_overdue']}/remind", {"note": "越权"})
    assert resp.status_code == 403 and "该任务不属于您督办的单位" in browser.text(resp)
    resp = browser.post(f"/supervision/tasks/{board['a_overdue']}/remind", {"note": "x"}, csrf=False)
    assert resp.status_code == 400 and "页面已过期" in browser.text(resp)
    assert browser.post(f"/supervision/tasks/{board['a_overdue']}/escalate", {"note": "x"}).status_code == 404
    assert not _events(db, "remind")
