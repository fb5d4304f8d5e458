"""新建 offers a process only to the groups of its start lane (and administrators); a process that
only a timer starts (问题清单) is offered to nobody. The pages and the API refuse the others."""
from __future__ import annotations

import pytest

from tests.samples import START

COMPLAINT, ONE_THING, DISPUTE, PROBLEMS = "complaint", "one_thing_transport", "dispute_escalation", "problem_list"
OFFERED = {
    "intake1": {COMPLAINT},
    "jw_letters1": set(),           # the 纪委监委 lane is no group: its two message starts reach no one
    "applicant1": {ONE_THING},
    "dispute1": {DISPUTE},
    "dispatch1": set(),             # 问题清单 is in the 分拨员 lane, but only the scheduler starts it
    "handler1": set(),
    "supervisor": set(),
    "admin": {COMPLAINT, ONE_THING, DISPUTE},
}


@pytest.mark.parametrize("username, offered", OFFERED.items())
def test_the_start_page_offers_only_what_the_start_lane_allows(seeded, browser, username, offered):
    browser.login(username, "demo12345")
    html = browser.text(browser.get("/start"))
    shown = {key for key in (COMPLAINT, ONE_THING, DISPUTE, PROBLEMS) if f'href="/start/{key}"' in html}
    assert shown == offered


@pytest.mark.parametrize("username, offered", OFFERED.items())
def test_the_api_says_who_may_start(seeded, api, username, offered):
    rows = api.get("/api/v1/process-definitions", user=username).get_json()
    assert {r["key"] for r in rows if r["can_start"]} == offered


@pytest.mark.parametrize("username, key, why", [("intake1", ONE_THING, "您不在可发起该流程的用户组中"),
                                                ("applicant1", COMPLAINT, "您不在可发起该流程的用户组中"),
                                                ("dispatch1", PROBLEMS, "该流程由系统定时发起，不能手动发起"),
                                                ("admin", PROBLEMS, "该流程由系统定时发起，不能手动发起")])
def test_the_start_form_of_a_process_one_may_not_start_is_403(seeded, browser, username, key, why):
    browser.login(username, "demo12345")
    for resp in (browser.get(f"/start/{key}"), browser.post(f"/start/{key}", {"action": "start"})):
        assert resp.status_code == 403
        assert "text/html" in resp.content_type and why in browser.text(resp)


@pytest.mark.parametrize("username, key", [("applicant1", COMPLAINT), ("intake1", DISPUTE), ("admin", PROBLEMS)])
def test_the_api_start_of_a_process_one_may_not_start_is_403_json(seeded, api, username, key):
    resp = api.post(f"/api/v1/process-definitions/{key}/start", user=username, json={"data": START})
    assert resp.status_code == 403
    error = resp.get_json()["error"]
    assert error["code"] == "forbidden" and error["message"]


def test_the_start_lane_may_start(seeded, api):
    assert api.post(f"/api/v1/process-definitions/{COMPLAINT}/start", user="intake1",
                    json={"data": START}).status_code == 201
