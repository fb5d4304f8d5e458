"""GET /api/v1/tasks/completed, GET /api/v1/cases and POST /api/v1/tasks/{id}/follow-up: the pages'
queries and rules as JSON, bad input as a 422 with Chinese field messages, in the OpenAPI."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from app.demo import MARKET, SME

CST = timezone(timedelta(hours=8))


@pytest.fixture
def driven(seeded, db):
    from app.db import set_clock
    from app.demo import _complaint_to_unit
    start = datetime(2026, 11, 2, 10, 0, tzinfo=CST)
    made = [_complaint_to_unit({**MARKET}, start, unit="jm_scjgj"),
            _complaint_to_unit({**SME, "hide_identity": True}, start + timedelta(days=1), unit="jm_scjgj"),
            _complaint_to_unit({**SME}, start + timedelta(days=2), unit="jm_rsj")]
    set_clock(None)
    return [d.case_number for d in made]


def test_completed_tasks_newest_first_with_the_case_and_its_current_step(driven, api):
    body = api.get("/api/v1/tasks/completed?per_page=2", "intake1").get_json()
    assert body["pagination"] == {"page": 1, "per_page": 2, "total": 3, "pages": 2}
    first = body["items"][0]
    assert first["case"]["number"] == driven[2] and first["name"] == "登记建档" and first["status"] == "completed"
    assert first["instance_status"] == "running" and first["current_steps"] == ["签收"]
    found = api.get(f"/api/v1/tasks/completed?q={driven[0]}", "intake1").get_json()
    assert [i["case"]["number"] for i in found["items"]] == [driven[0]]
    assert api.get("/api/v1/tasks/completed", "handler1").get_json()["items"] == []
    bad = api.get("/api/v1/tasks/completed?page=0&per_page=500", "intake1")
    assert bad.status_code == 422 and set(bad.get_json()["error"]["fields"]) == {"page", "per_page"}
    assert api.get("/api/v1/tasks/completed").status_code == 401


def test_case_search_applies_the_case_pages_visibility_and_the_phone_rule(driven, api):
    def numbers(query, user):
        resp = api.get("/api/v1/cases" + query, user)
        assert resp.status_code == 200, resp.get_json()
        return [i["number"] for i in resp.get_json()["items"]]
    assert numbers("", "handler1") == [driven[1], driven[0]]
    assert numbers(f"?q={driven[0]}", "handler2") == []
    assert numbers("", "handler2") == [driven[2]]
    assert numbers(f"?phone={SME['phone']}", "handler1") == []                 # confidential
    assert numbers(f"?phone={SME['phone']}", "dispatch1") == [driven[2], driven[1]]
    assert numbers(f"?phone={MARKET['phone']}", "handler1") == [driven[0]]
    item = api.get(f"/api/v1/cases?q={driven[0]}", "handler1").get_json()["items"][0]
    assert item["unit_title"] == "江门市市场监督管理局" and item["current_steps"] == ["签收"]
    assert item["instance_status"] == "running" and item["is_confidential"] is False


def test_bad_search_input_is_a_422_with_chinese_field_messages(driven, api):
    resp = api.get("/api/v1/cases?date_from=2026-02-30&status=done&phone=x", "admin")
    error = resp.get_json()["error"]
    assert resp.status_code == 422 and error["code"] == "validation_failed"
    assert error["fields"]["date_from"] == ["请按“年-月-日”填写有效日期，例如 2026-12-01"]
    assert "状态只能是" in error["fields"]["status"][0] and "电话号码" in error["fields"]["phone"][0]
    resp = api.get("/api/v1/cases?date_from=2026-12-05&date_to=2026-12-01", "admin")
    assert resp.status_code == 422 and resp.get_json()["error"]["fields"] == {"date_to": ["开始日期不能晚于结束日期"]}


def test_follow_up_through_the_api(driven, api):
    from app.tasks.queries import local_today
    task = api.get("/api/v1/tasks", "handler1").get_json()["items"][0]
    today = local_today().isoformat()
    resp = api.post(f"/api/v1/tasks/{task['id']}/follow-up", "handler1", json={"follow_up_on": today})
    assert resp.status_code == 200 and resp.get_json()["follow_up_on"] == today
    inbox = {i["id"]: i for i in api.get("/api/v1/tasks", "handler1").get_json()["items"]}
    assert inbox[task["id"]]["follow_up_on"] == today
    bad = api.post(f"/api/v1/tasks/{task['id']}/follow-up", "handler1", json={"follow_up_on": "明天"})
    assert bad.status_code == 422 and bad.get_json()["error"]["fields"] == {
        "follow_up_on": ["请按“年-月-日”填写有效日期，例如 2026-12-05"]}
    past = api.post(f"/api/v1/tasks/{task['id']}/follow-up", "handler1", json={"follow_up_on": "2020-01-01"})
    assert past.status_code == 422 and past.get_json()["error"]["fields"] == {"follow_up_on": ["跟进日期不能早于今天"]}
    assert api.post(f"/api/v1/tasks/{task['id']}/follow-up", "handler2",
                    json={"follow_up_on": today}).status_code == 403
    cleared = api.post(f"/api/v1/tasks/{task['id']}/follow-up", "handler1", json={"follow_up_on": None})
    assert cleared.status_code == 200 and cleared.get_json()["follow_up_on"] is None


def test_the_lists_are_in_the_openapi(app, client):
    with app.app_context():
        spec = client.get("/api/v1/openapi.json").get_json()
    assert {"/api/v1/tasks/completed", "/api/v1/cases", "/api/v1/tasks/{task_id}/follow-up"} <= set(spec["paths"])
    params = {p["name"] for p in spec["paths"]["/api/v1/cases"]["get"]["parameters"]}
    assert {"q", "phone", "channel", "district", "status", "date_from", "date_to", "page", "per_page"} <= params


def test_a_bad_per_page_of_the_case_search_is_refused_in_chinese(seeded, api):
    resp = api.get("/api/v1/cases?per_page=x", user="intake1")
    assert resp.status_code == 422
    assert resp.get_json()["error"]["fields"]["per_page"] == ["每页条数应为整数"]
