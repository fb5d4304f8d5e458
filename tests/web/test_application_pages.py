"""我的申请 (/applications): an applicant's own applications with their current step, what is asked of
them (补正) and its due date; their home page; the one-thing start form prefilled from the profile."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.auth.services import get_user_by_username
from app.demo import TRANSPORT
from app.processes.applications import ApplicationFilters, list_applications, profile_prefill
from app.processes.running import start_process
from app.tasks.models import HumanTask
from app.tasks.services import complete_task
from tests.web.helpers import PASSWORD, open_task

MISSING = "缺少车辆 粤J·D5821 的行驶证和技术等级评定结论。"


@pytest.fixture
def applications(seeded, db):
    """applicant1's three applications (one sent back for 补正, one at pre-check, one by another
    applicant of the same group) and a second applicant."""
    from app.auth import services as auth
    auth.create_or_update_user("applicant2", PASSWORD, "申请人 钟二", auth.resolve_groups(["applicant"]))
    db.session.commit()
    me, other = get_user_by_username("applicant1"), get_user_by_username("applicant2")
    first, first_case = start_process("one_thing_transport", TRANSPORT, me)
    precheck = open_task(first.id, "precheck")
    complete_task(precheck.id, {"materials_complete": False, "missing_items": MISSING},
                  get_user_by_username("window1"))
    second, second_case = start_process("one_thing_transport", {**TRANSPORT, "company_name": "开平市示例通达货运有限公司",
                                                                "uscc": "91440783MA4UJ2XX1B"}, me)
    theirs, theirs_case = start_process("one_thing_transport", {**TRANSPORT, "company_name": "恩平市另一家物流有限公司"},
                                        other)
    return {"supplement": (first, first_case), "precheck": (second, second_case), "theirs": (theirs, theirs_case)}


def _rows(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-instance="(\d+)"', html)]


def test_the_service_lists_only_my_applications_with_what_is_asked_of_me(applications):
    me = get_user_by_username("applicant1")
    (first, _), (second, _) = applications["supplement"], applications["precheck"]
    page = list_applications(me)
    assert [i["id"] for i in page.items] == [second.id, first.id] and page.total == 2
    sent_back, waiting = page.items[1], page.items[0]
    assert [s["name"] for s in sent_back["current_steps"]] == ["一次性告知补正"]
    assert [s["name"] for s in sent_back["asked"]] == ["一次性告知补正"]
    assert [s["name"] for s in waiting["current_steps"]] == ["收件预审"] and waiting["asked"] == []
    assert waiting["due_at"] is not None                                   # the pre-check's 5 WD
    assert [i["id"] for i in list_applications(me, ApplicationFilters(state="todo")).items] == [first.id]
    assert [i["id"] for i in list_applications(me, ApplicationFilters(sort="started_at")).items] == [first.id,
                                                                                                    second.id]
    assert list_applications(me, ApplicationFilters(state="completed")).items == []
    # the other applicant of the same group: only their own, and nothing asked of them
    theirs = list_applications(get_user_by_username("applicant2"))
    assert [i["id"] for i in theirs.items] == [applications["theirs"][0].id]
    assert list_applications(get_user_by_username("applicant2"), ApplicationFilters(state="todo")).total == 0


def test_a_claimed_step_is_asked_only_of_whoever_holds_it(applications, db):
    from app.tasks.services import claim_task, unclaim_task
    first, _ = applications["supplement"]
    task = open_task(first.id, "supplement")
    # the step is the initiator's (assignee initiator): they hand it back, another member takes it
    unclaim_task(task.id, get_user_by_username("applicant1"))
    claim_task(task.id, get_user_by_username("applicant2"))
    item = [i for i in list_applications(get_user_by_username("applicant1")).items if i["id"] == first.id][0]
    assert item["asked"] == [] and [s["name"] for s in item["current_steps"]] == ["一次性告知补正"]


def test_an_applicant_lands_on_my_applications_and_sees_the_supplement_with_its_link(applications, browser):
    (first, first_case), (second, second_case) = applications["supplement"], applications["precheck"]
    resp = browser.post("/login", {"username": "applicant1", "password": PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"] == "/applications"
    html = browser.text(browser.get("/applications"))
    assert _rows(html) == [second.id, first.id]
    assert first_case.number in html and second_case.number in html and applications["theirs"][1].number not in html
    assert "一次性告知补正" in html and "收件预审" in html and "supplement" not in html and "precheck" not in html
    supplement = open_task(first.id, "supplement")
    assert f'href="/tasks/{supplement.id}"' in html
    assert "您有 1 件申请需要补正或办理" in html and "我的申请</a>" in html
    assert _rows(browser.text(browser.get("/applications?state=todo"))) == [first.id]
    assert browser.get(f"/tasks/{supplement.id}").status_code == 200
    assert f'class="brand" href="/applications"' in browser.text(browser.get("/tasks"))


def test_bad_filters_get_a_chinese_message(applications, browser):
    browser.login("applicant1")
    for query, message in (("state=done", "状态：取值无效，可选："), ("sort=name", "排序：取值无效，可选：-started_at（最新提交在前）"),
                           ("page=0", "页码：应在 1 至 100000 之间")):
        resp = browser.get("/applications?" + query)
        assert resp.status_code == 422 and message in browser.text(resp) and _rows(browser.text(resp)) == []
    assert "todo（待我办理）" in browser.text(browser.get("/applications?state=done"))


def test_caseworkers_still_land_on_the_inbox(applications, browser):
    resp = browser.post("/login", {"username": "window1", "password": PASSWORD})
    assert resp.headers["Location"] == "/tasks"
    assert "我的申请</a>" not in browser.text(browser.get("/tasks"))
    assert _rows(browser.text(browser.get("/applications"))) == []   # started nothing


def test_the_start_form_is_prefilled_from_the_profile(seeded, browser):
    browser.login("applicant1")
    html = browser.text(browser.get("/start/one_thing_transport"))
    for name, value in (("agent_name", "何家豪"), ("agent_mobile", "13800000003"),
                        ("company_name", "鹤山市示例顺达物流有限公司"), ("uscc", "91440784MA9QK8KL7L")):
        field = re.search(rf'<input[^>]*name="{name}"[^>]*>', html).group(0)
        assert f'value="{value}"' in field, name


def test_the_prefill_never_overwrites_what_was_typed_and_resubmitted(seeded, browser, db):
    browser.login("applicant1")
    resp = browser.post("/start/one_thing_transport", {"company_name": "台山市我自己填的物流有限公司", "agent_name": "",
                                                       "uscc": "91440703MAKLKB3T83", "action": "start"})
    assert resp.status_code == 422
    html = browser.text(resp)
    fields = {name: re.search(rf'<input[^>]*name="{name}"[^>]*>', html).group(0)
              for name in ("company_name", "uscc", "agent_name", "agent_mobile")}
    assert 'value="台山市我自己填的物流有限公司"' in fields["company_name"]
    assert 'value="91440703MAKLKB3T83"' in fields["uscc"] and "统一社会信用代码校验位不正确" in html
    assert 'value=""' in fields["agent_name"] or "value=" not in fields["agent_name"]     # cleared stays cleared
    assert "13800000003" not in fields["agent_mobile"]                                  # not sent: not refilled
    assert db.session.execute(sa.select(sa.func.count()).select_from(HumanTask)).scalar_one() == 0


def test_the_prefill_fills_only_string_fields_the_form_has():
    from types import SimpleNamespace
    user = SimpleNamespace(real_name="何家豪", phone=None, enterprise_name="某公司", enterprise_uscc="91440784MA9QK8KL7L")
    schema = {"properties": {"company_name": {"type": "string"}, "uscc": {"type": "integer"},
                             "agent_mobile": {"type": "string"}}}
    assert profile_prefill(schema, user) == {"company_name": "某公司"}
    assert profile_prefill(None, user) == {} and profile_prefill({"properties": []}, user) == {}


def test_the_demo_seed_gives_applicant1_a_profile(seeded):
    user = get_user_by_username("applicant1")
    assert (user.real_name, user.enterprise_name, user.enterprise_uscc) == (
        "何家豪", "鹤山市示例顺达物流有限公司", "91440784MA9QK8KL7L")
    assert get_user_by_username("window1").enterprise_name is None


def test_the_api_lists_my_applications_the_same_way(applications, api):
    (first, first_case), (second, _) = applications["supplement"], applications["precheck"]
    body = api.get("/api/v1/applications", user="applicant1").get_json()
    assert [i["id"] for i in body["items"]] == [second.id, first.id] and body["pagination"]["total"] == 2
    sent_back = body["items"][1]
    assert sent_back["case_number"] == first_case.number and sent_back["status_title"] == "办理中"
    assert [s["name"] for s in sent_back["asked"]] == ["一次性告知补正"]
    todo = api.get("/api/v1/applications?state=todo&per_page=1", user="applicant1").get_json()
    assert [i["id"] for i in todo["items"]] == [first.id] and todo["pagination"]["pages"] == 1
    assert api.get("/api/v1/applications", user="window1").get_json()["items"] == []
    bad = api.get("/api/v1/applications?state=done&per_page=0", user="applicant1")
    assert bad.status_code == 422 and set(bad.get_json()["error"]["fields"]) == {"state", "per_page"}
    assert api.get("/api/v1/applications", user=None).status_code == 401


def test_another_applicant_cannot_take_someone_elses_supplement(applications):
    # 补正 is the applicant's own step (assignee initiator): another member of the applicant group
    # cannot claim or complete it while its owner holds it
    from app.errors import AppError
    from app.tasks.services import claim_task
    first, _ = applications["supplement"]
    task = open_task(first.id, "supplement")
    assert task.assignee_id == get_user_by_username("applicant1").id
    with pytest.raises(AppError):
        claim_task(task.id, get_user_by_username("applicant2"))
