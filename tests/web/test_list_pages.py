"""The list pages of issue #12: 已办 (/tasks/done), 案件查询 (/cases), the inbox's sort links and the
follow-up date (跟进日期) set from the task page."""
from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.web.helpers import START, complete_register, fresh, open_task, start_case


def _case_numbers(html: str) -> list[str]:
    return re.findall(r'class="case-link">([^<]+)</a>', html)


@pytest.fixture
def routed(units):
    """A confidential case registered and routed to unit A, and a public one still at registration."""
    started = start_case()
    complete_register(started)
    public = start_case({**START, "hide_identity": False, "phone": "13911112222", "title": "公开的一件",
                         "district": "江海区"})
    return started[1], public[1], open_task(started[0].id, "handle_a")


def test_done_lists_what_i_completed_with_the_cases_current_step(routed, browser, make_browser):
    secret, _, _ = routed
    browser.login("intake1")
    html = browser.text(browser.get("/tasks/done"))
    assert "已办任务" in html and "共 1 项" in html
    assert secret.number in html and "登记核实" in html and "甲单位处置" in html and "办理中" in html
    assert 'href="/tasks/done" aria-current="page"' in html                     # the tab, and the top bar
    assert browser.text(browser.get(f"/tasks/done?q={secret.number.lower()}")).count(secret.number) >= 1
    html = browser.text(browser.get("/tasks/done?q=没有这家企业"))
    assert "没有符合条件的已办任务" in html
    assert browser.get("/tasks/done?page=abc").status_code == 200              # a bad page is page 1
    other = make_browser()
    other.login("ua1")
    assert "您还没有办理过任务" in other.text(other.get("/tasks/done"))


def test_case_search_shows_the_cases_i_may_open_with_titles_not_codes(routed, make_browser):
    secret, public, _ = routed
    ua, ub, intake = make_browser(), make_browser(), make_browser()
    ua.login("ua1")
    ub.login("ub1")
    intake.login("intake1")
    html = ua.text(ua.get("/cases"))
    assert _case_numbers(html) == [secret.number]
    assert "12345政务服务便民热线" in html and "hotline_12345" not in html.split("<tbody>")[1]
    assert "甲单位处置" in html and "办理中" in html and "保密" in html
    assert _case_numbers(ub.text(ub.get("/cases"))) == []
    assert _case_numbers(ub.text(ub.get(f"/cases?q={secret.number}"))) == []
    assert _case_numbers(intake.text(intake.get("/cases"))) == [public.number, secret.number]
    assert _case_numbers(intake.text(intake.get("/cases?district=江海区"))) == [public.number]


def test_searching_by_phone_respects_the_reporters_confidentiality(routed, make_browser):
    secret, public, _ = routed
    ua, intake = make_browser(), make_browser()
    ua.login("ua1")
    intake.login("intake1")
    assert _case_numbers(ua.text(ua.get(f"/cases?phone={START['phone']}"))) == []       # confidential
    assert _case_numbers(intake.text(intake.get(f"/cases?phone={START['phone']}"))) == [secret.number]
    assert _case_numbers(intake.text(intake.get("/cases?phone=13911112222"))) == [public.number]


def test_bad_search_input_gets_its_chinese_message_and_keeps_what_was_typed(routed, browser):
    browser.login("intake1")
    resp = browser.get("/cases?date_from=2026-02-30&phone=abc&q=五金")
    html = browser.text(resp)
    assert resp.status_code == 422 and "查询条件有误" in html
    assert "请按“年-月-日”填写有效日期" in html and "电话号码只能包含数字和“-”" in html
    assert 'value="abc"' in html and 'value="五金"' in html and "<tbody>" not in html
    resp = browser.get("/cases?date_from=2026-12-05&date_to=2026-12-01")
    assert resp.status_code == 422 and "开始日期不能晚于结束日期" in browser.text(resp)


def test_inbox_sort_links_keep_the_other_filters(units, browser):
    first, second = start_case(), start_case({**START, "title": "第二件"})
    browser.login("intake1")
    html = browser.text(browser.get("/tasks?district=蓬江区&q=JM&sort=number"))
    links = {unescape(m.group(2)): parse_qs(urlsplit(unescape(m.group(1))).query)
             for m in re.finditer(r'<a class="sort-link[^"]*" href="([^"]+)"\s+title="[^"]*">([^<]+)<', html)}
    assert set(links) == {"到期时间", "接收时间", "案件", "优先级", "跟进日期"}
    assert links["案件"] == {"district": ["蓬江区"], "q": ["JM"], "sort": ["-number"]}       # second click: desc
    assert links["优先级"]["sort"] == ["priority"] and links["优先级"]["district"] == ["蓬江区"]
    assert 'aria-sort="ascending"' in html and ' ▲' in html
    ids = re.findall(r'href="/tasks/(\d+)" class="task-link"', html)
    assert [int(i) for i in dict.fromkeys(ids)] == [open_task(first[0].id, "register").id,
                                                     open_task(second[0].id, "register").id]
    html = browser.text(browser.get("/tasks?sort=-number"))
    ids = [int(i) for i in dict.fromkeys(re.findall(r'href="/tasks/(\d+)" class="task-link"', html))]
    assert ids == [open_task(second[0].id, "register").id, open_task(first[0].id, "register").id]
    assert 'name="sort" value="-number"' in html                                 # the filter form keeps it


def test_the_follow_up_date_is_set_shown_filtered_and_cleared(routed, browser, make_browser, db):
    from app.tasks.models import HumanTask
    from app.tasks.queries import local_today
    _, _, task = routed
    browser.login("ua1")
    resp = browser.post(f"/tasks/{task.id}/follow-up", {"follow_up_on": "2026-13-40", "action": "set"})
    html = browser.text(resp)
    assert resp.status_code == 422 and "请按“年-月-日”填写有效日期" in html and 'value="2026-13-40"' in html
    assert 'aria-invalid="true"' in html and fresh(HumanTask, task.id).follow_up_on is None
    yesterday = (local_today() - timedelta(days=1)).isoformat()
    resp = browser.post(f"/tasks/{task.id}/follow-up", {"follow_up_on": yesterday, "action": "set"})
    assert resp.status_code == 422 and "跟进日期不能早于今天" in browser.text(resp)
    today = local_today().isoformat()
    resp = browser.post(f"/tasks/{task.id}/follow-up", {"follow_up_on": today, "action": "set"})
    assert resp.status_code == 303 and fresh(HumanTask, task.id).follow_up_on == local_today()
    html = browser.text(browser.get("/tasks?follow=today"))
    assert f'href="/tasks/{task.id}" class="task-link"' in html and "今天需跟进" in html and today in html
    outsider = make_browser()
    outsider.login("ub1")
    assert outsider.post(f"/tasks/{task.id}/follow-up", {"follow_up_on": today}).status_code == 403
    resp = browser.post(f"/tasks/{task.id}/follow-up", {"action": "clear"})
    assert resp.status_code == 303 and fresh(HumanTask, task.id).follow_up_on is None
    assert f'href="/tasks/{task.id}" class="task-link"' not in browser.text(browser.get("/tasks?follow=today"))
