"""派单 preselects the unit the rule table (complaint_handler_unit.dmn) recommends, without overriding
a draft or what was just submitted (issue #12, defect 8)."""
from __future__ import annotations

import re

import pytest

from app.demo import ASSESS, CONSULT


def _selected(html: str, name: str) -> list[str]:
    select = re.search(rf'<select[^>]*name="{re.escape(name)}"[^>]*>(.*?)</select>', html, re.S)
    assert select, name
    return re.findall(r'<option value="([^"]*)" selected', select.group(1))


@pytest.fixture
def dispatch_task(seeded, api):
    """A 12345 complaint about 市场秩序, registered and assessed: the rule table recommends 市场监管局."""
    started = api.post("/api/v1/process-definitions/complaint/start", user="intake1", json={"data": CONSULT})
    assert started.status_code == 201, started.get_json()
    for user, data in (("intake1", {**CONSULT, "in_scope": True}),
                       ("dispatch1", {**ASSESS, "primary_category": "市场秩序"})):
        task_id = api.get(f"/api/v1/process-instances/{started.get_json()['instance']['id']}",
                          user="admin").get_json()["open_tasks"][0]["id"]
        done = api.post(f"/api/v1/tasks/{task_id}/complete", user=user, json={"data": data})
        assert done.status_code == 200, done.get_json()
    task = api.get(f"/api/v1/process-instances/{started.get_json()['instance']['id']}",
                   user="admin").get_json()["open_tasks"][0]
    assert task["bpmn_id"] == "dispatch"
    return task["id"]


def test_the_recommended_unit_is_preselected(dispatch_task, browser):
    browser.login("dispatch1")
    html = browser.text(browser.get(f"/tasks/{dispatch_task}"))
    assert _selected(html, "handler_org") == ["jm_scjgj"]


def test_a_draft_wins_over_the_recommendation(dispatch_task, browser):
    browser.login("dispatch1")
    browser.get(f"/tasks/{dispatch_task}")
    saved = browser.post(f"/tasks/{dispatch_task}", {"handler_org": "pj_gov", "action": "save"})
    assert saved.status_code == 303
    assert _selected(browser.text(browser.get(f"/tasks/{dispatch_task}")), "handler_org") == ["pj_gov"]


def test_what_was_submitted_wins_over_the_recommendation(dispatch_task, browser):
    browser.login("dispatch1")
    browser.get(f"/tasks/{dispatch_task}")
    resp = browser.post(f"/tasks/{dispatch_task}", [("handler_org", "pj_gov"), ("co_orgs", "pj_gov")])
    assert resp.status_code == 422
    html = browser.text(resp)
    assert _selected(html, "handler_org") == ["pj_gov"]
    assert "不能包含主办单位（蓬江区人民政府）" in html


def test_the_api_gets_the_rule_as_a_field_error(dispatch_task, api):
    resp = api.post(f"/api/v1/tasks/{dispatch_task}/complete", user="dispatch1",
                    json={"data": {"handler_org": "jm_scjgj", "co_orgs": ["jm_scjgj"]}})
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "validation_failed"
    assert error["fields"] == {"co_orgs": ["协办单位：不能包含主办单位（江门市市场监督管理局）"]}
