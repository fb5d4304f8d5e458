"""The overdue and due-soon lists: what each user sees (services, API and exports, both ways), the row
fields (SLA colour, hours and working days over, rung, provisional mark), filters, sorting, pages."""
from __future__ import annotations

import csv
import io

import pytest

from tests.supervision.conftest import cst

NOW = cst(2025, 3, 20, 10, 0)   # Thursday


@pytest.fixture
def board(people, rows, db):
    """Open tasks of units A and B around NOW; returns {label: task id}."""
    r = rows
    a_case = r.case("complaint", cst(2025, 3, 10, 9), channel="hotline_12345", district="江海区")
    plain_a = r.case("complaint", cst(2025, 3, 11, 9), unit="unit_a", channel="sme_platform", district="蓬江区",
                     company="举报企业甲", confidential=True)
    b_case = r.case("complaint", cst(2025, 3, 10, 9), unit="unit_b", district="台山市")
    onething = r.case("one_thing_transport", cst(2025, 3, 12, 9), unit="unit_a", channel="window",
                      district="鹤山市")
    ids = {}
    ids["a_group"] = r.task(a_case, "handle", status="ready", groups=["unit_a"], due=cst(2025, 3, 18, 23, 59, 59),
                            name="办理").id
    ids["a_head"] = r.task(a_case, "extension_unit", status="ready", groups=["unit_a_head"],
                           due=cst(2025, 3, 19, 17), name="单位审批延期").id
    ids["a_case_unit"] = r.task(plain_a, "reply", status="ready", groups=["handler"], due=cst(2025, 3, 20, 9),
                                name="答复").id
    ids["b_overdue"] = r.task(b_case, "handle", status="ready", groups=["unit_b"], due=cst(2025, 3, 17, 12),
                              name="办理").id
    ids["b_soon"] = r.task(b_case, "reply", status="ready", groups=["unit_b"], due=cst(2025, 3, 20, 23, 59, 59),
                           warn=cst(2025, 3, 19, 23, 59, 59), name="答复").id
    ids["a_soon"] = r.task(onething, "precheck", status="ready", groups=["onething_window"],
                           due=cst(2025, 3, 21, 12), name="收件预审").id
    r.task(plain_a, "callback", status="ready", groups=["unit_a"], due=cst(2025, 3, 28, 23, 59, 59),
           warn=cst(2025, 3, 27, 23, 59, 59))                                   # green: in neither list
    r.task(plain_a, "sign_in", status="completed", groups=["unit_a"], due=cst(2025, 3, 12, 12),
           done=cst(2025, 3, 14, 9))                                             # done late: not open
    r.task(b_case, "first_contact", status="ready", groups=["unit_b"], due=cst(2025, 3, 19, 12),
           paused=cst(2025, 3, 18, 9))                                           # clock stopped before due
    from app.tasks.models import HumanTask
    first = db.session.get(HumanTask, ids["a_group"])
    first.escalation_step, first.due_provisional = "notice", True
    db.session.commit()
    return ids


def _user(name):
    from app.auth.services import get_user_by_username
    return get_user_by_username(name)


def _ids(page):
    return [row["task_id"] for row in page.items]


def _list(username, kind="overdue", **kw):
    from app.supervision.queries import Filters, list_tasks
    filters = Filters.from_mapping(kw.pop("filters", {}))
    return list_tasks(_user(username), kind, filters, now=NOW, **kw)


A_OVERDUE = {"a_group", "a_head", "a_case_unit"}


def test_an_administrator_sees_every_overdue_task_most_overdue_first(board):
    assert _ids(_list("boss")) == [board[k] for k in ("b_overdue", "a_group", "a_head", "a_case_unit")]
    assert set(_ids(_list("boss", "due_soon"))) == {board["b_soon"], board["a_soon"]}


def test_a_supervisor_sees_only_their_units_both_ways(board):
    a, b = _list("sup_a"), _list("sup_b")
    assert set(_ids(a)) == {board[k] for k in A_OVERDUE} and a.total == 3
    assert _ids(b) == [board["b_overdue"]] and b.total == 1
    assert _ids(_list("sup_a", "due_soon")) == [board["a_soon"]]
    assert _ids(_list("sup_b", "due_soon")) == [board["b_soon"]]
    assert _list("sup_none").total == 0                       # a supervisor without a unit sees nothing


def test_a_caseworker_is_refused(board):
    from app.errors import Forbidden
    for name in ("clerk", "worker_a", "head_a"):
        with pytest.raises(Forbidden):
            _list(name)


def test_a_row_says_how_late_how_far_up_the_ladder_and_whether_the_date_is_provisional(board):
    row = next(r for r in _list("boss").items if r["task_id"] == board["a_group"])
    assert row["sla"] == "red" and row["sla_label"] == "超期"
    assert row["hours_over"] == 34.0                         # 03-18 23:59:59 → 03-20 10:00
    assert row["working_days_over"] == 2                     # 03-19, 03-20
    assert row["escalation_step"] == "notice" and row["escalation_label"] == "催办通知书"
    assert row["provisional"] is True and row["paused"] is False
    assert row["candidate_groups"] == ["unit_a"] and row["process_title"] == "企业诉求/投诉举报"
    soon = _list("boss", "due_soon").items
    assert {r["task_id"]: r["sla"] for r in soon} == {board["b_soon"]: "yellow", board["a_soon"]: "green"}
    assert all(r["hours_over"] < 0 and r["working_days_over"] == 0 for r in soon)


def test_the_due_soon_horizon_can_be_narrowed(board):
    # within 8 hours only the yellow one (warn_at passed) is due soon; the one due tomorrow noon is not
    assert _ids(_list("boss", "due_soon", within="8H")) == [board["b_soon"]]
    from app.errors import FormInvalid
    with pytest.raises(FormInvalid):
        _list("boss", "due_soon", within="soon")


def test_a_step_timer_ran_out_reads_orange_as_in_the_inbox(board, db):
    """One SLA rule (deadlines.sla.current_sla_state) for the inbox, the API and the dashboard: a task a
    step timer marked orange, before its case deadline, is 环节超时 in the due-soon list too."""
    from app.tasks.models import HumanTask
    db.session.get(HumanTask, board["b_soon"]).sla_state = "orange"
    db.session.commit()
    [row] = [r for r in _list("boss", "due_soon").items if r["task_id"] == board["b_soon"]]
    assert (row["sla"], row["sla_label"]) == ("orange", "环节超时")


def test_filters_sorting_and_pages(board):
    assert set(_ids(_list("boss", filters={"unit": "unit_a"}))) == {board[k] for k in A_OVERDUE}
    assert _ids(_list("boss", filters={"district": "台山市"})) == [board["b_overdue"]]
    assert _ids(_list("boss", filters={"channel": "sme_platform"})) == [board["a_case_unit"]]
    assert _ids(_list("boss", filters={"step": "extension_unit"})) == [board["a_head"]]
    assert _ids(_list("boss", filters={"escalation": "notice"})) == [board["a_group"]]
    assert _ids(_list("boss", "due_soon", filters={"process": "one_thing_transport"})) == [board["a_soon"]]
    assert _ids(_list("boss", filters={"provisional": True})) == [board["a_group"]]
    assert _ids(_list("boss", sort="-due_at"))[0] == board["a_case_unit"]
    page = _list("boss", page=2, per_page=3)
    assert _ids(page) == [board["a_case_unit"]] and page.total == 4


def test_a_supervisor_cannot_filter_on_another_unit(board):
    from app.errors import Forbidden
    with pytest.raises(Forbidden):
        _list("sup_a", filters={"unit": "unit_b"})


def test_counts_by_unit_process_and_step(board):
    from app.supervision.queries import summarize
    by_unit = {g["key"]: g["count"] for g in summarize(_user("boss"), "overdue", "unit", now=NOW)}
    assert by_unit == {None: 2, "unit_a": 1, "unit_b": 1}
    assert {g["key"]: g["count"] for g in summarize(_user("sup_b"), "overdue", "unit", now=NOW)} == {"unit_b": 1}
    by_step = summarize(_user("sup_a"), "overdue", "step", now=NOW)
    assert {g["key"] for g in by_step} == {"handle", "extension_unit", "reply"}


def test_a_confidential_reporter_enterprise_is_masked_for_a_supervisor(board):
    sup = next(r for r in _list("sup_a").items if r["task_id"] == board["a_case_unit"])
    admin = next(r for r in _list("boss").items if r["task_id"] == board["a_case_unit"])
    assert sup["company_name"] == "（已保密）" and admin["company_name"] == "举报企业甲"


# --- the API and the exports ----------------------------------------------------------------------

def _api_ids(resp):
    assert resp.status_code == 200, resp.get_json()
    return {row["task_id"] for row in resp.get_json()["items"]}


def test_the_api_shows_each_supervisor_only_their_units(board, api, clock):
    clock.set(NOW)
    a = api.get("/api/v1/supervision/overdue", user="sup_a")
    assert _api_ids(a) == {board[k] for k in A_OVERDUE}
    assert a.get_json()["pagination"]["total"] == 3
    assert _api_ids(api.get("/api/v1/supervision/overdue", user="sup_b")) == {board["b_overdue"]}
    assert _api_ids(api.get("/api/v1/supervision/due-soon", user="sup_a")) == {board["a_soon"]}
    assert _api_ids(api.get("/api/v1/supervision/due-soon", user="sup_b")) == {board["b_soon"]}
    assert len(_api_ids(api.get("/api/v1/supervision/overdue", user="boss"))) == 4
    row = next(r for r in api.get("/api/v1/supervision/overdue", user="boss").get_json()["items"]
               if r["task_id"] == board["a_group"])
    assert row["escalation_label"] == "催办通知书" and row["provisional"] is True and row["hours_over"] == 34.0
    refused = api.get("/api/v1/supervision/overdue", user="clerk")
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    other = api.get("/api/v1/supervision/overdue?unit=unit_b", user="sup_a")
    assert other.status_code == 403 and "unit_b" in other.get_json()["error"]["message"]
    assert api.get("/api/v1/supervision/overdue").status_code == 401
    bad = api.get("/api/v1/supervision/overdue?sort=colour&per_page=500", user="boss")
    assert bad.status_code == 422 and set(bad.get_json()["error"]["fields"]) == {"sort", "per_page"}
    summary = api.get("/api/v1/supervision/summary?kind=overdue&by=unit", user="sup_a").get_json()
    assert summary["groups"] == [{"key": None, "label": "（未分派）", "count": 2},
                                 {"key": "unit_a", "label": "unit_a", "count": 1}]


def _csv_ids(resp) -> set[int]:
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/csv")
    assert resp.data.startswith(b"\xef\xbb\xbf")                    # the BOM Excel needs for Chinese
    table = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert table[0][0] == "任务编号" and "超期工作日" in table[0]
    return {int(line[0]) for line in table[1:]}


def _xlsx_ids(resp) -> set[int]:
    from openpyxl import load_workbook
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(resp.data), read_only=True).active
    table = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert table[0][0] == "任务编号"
    return {int(line[0]) for line in table[1:]}


def test_exports_respect_visibility_both_ways(board, api, clock):
    clock.set(NOW)
    a_ids, b_ids = {board[k] for k in A_OVERDUE}, {board["b_overdue"]}
    for fmt, read in (("csv", _csv_ids), ("xlsx", _xlsx_ids)):
        assert read(api.get(f"/api/v1/supervision/overdue?format={fmt}", user="sup_a")) == a_ids
        assert read(api.get(f"/api/v1/supervision/overdue?format={fmt}", user="sup_b")) == b_ids
        assert read(api.get(f"/api/v1/supervision/overdue?format={fmt}", user="boss")) == a_ids | b_ids
        assert read(api.get(f"/api/v1/supervision/due-soon?format={fmt}", user="sup_a")) == {board["a_soon"]}
        assert read(api.get(f"/api/v1/supervision/due-soon?format={fmt}", user="sup_b")) == {board["b_soon"]}
        assert api.get(f"/api/v1/supervision/overdue?format={fmt}", user="worker_a").status_code == 403


def test_the_export_masks_and_defuses_formulas(board, db):
    from app.cases.models import Case
    from app.supervision.export import export_tasks
    from app.tasks.models import HumanTask
    case = db.session.get(Case, db.session.get(HumanTask, board["b_overdue"]).case_id)
    case.title = "=HYPERLINK(\"http://evil\")"
    db.session.commit()
    text = export_tasks(_user("sup_a"), "overdue", "csv", now=NOW).content.decode("utf-8-sig")
    assert "举报企业甲" not in text and "（已保密）" in text
    assert "=HYPERLINK" not in export_tasks(_user("sup_a"), "overdue", "csv", now=NOW).content.decode("utf-8-sig")
    admin = export_tasks(_user("boss"), "overdue", "csv", now=NOW).content.decode("utf-8-sig")
    assert "举报企业甲" in admin and "'=HYPERLINK" in admin


def test_the_api_is_described_in_openapi(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    paths = set(spec["paths"])
    for path in ("/api/v1/supervision/overdue", "/api/v1/supervision/due-soon", "/api/v1/supervision/summary",
                 "/api/v1/supervision/kpis", "/api/v1/supervision/incidents",
                 "/api/v1/supervision/incidents/{incident_id}/retry",
                 "/api/v1/supervision/instances/{instance_id}/retry",
                 "/api/v1/supervision/tasks/{task_id}/remind", "/api/v1/supervision/tasks/{task_id}/supervise",
                 "/api/v1/supervision/tasks/{task_id}/reassign", "/api/v1/supervision/tasks/{task_id}/extension"):
        assert path in paths, path


def test_every_shipped_process_has_a_dashboard_title():
    # a process missing here showed its key (problem_list) in the lists, the by-process counts and exports
    import re
    from pathlib import Path
    from app.supervision.queries import PROCESS_TITLES
    keys = {m for path in Path(__file__).resolve().parents[2].joinpath("bpmn").glob("*.bpmn")
            for m in re.findall(r'<bpmn:process id="([^"]+)"', path.read_text(encoding="utf-8"))}
    assert keys and keys <= set(PROCESS_TITLES)
