"""The lists of issue #12 in a real browser, each as the role that uses it: a 市场监管局 handler sorts
the inbox and sets a follow-up date (a past one is refused in Chinese), a dispatcher finds a case in
已办, and handlers search cases: their own unit's only, and never a confidential reporter by phone.

Three complaints are driven through the services in the server's database first (app.demo's driver):
one to 市场监管局, a confidential one (the reporter asked to hide) to 市场监管局, one to 人社局."""
from __future__ import annotations

import json
import re

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_designer_flow import _login

CASES = """
import json
from datetime import timedelta
from app import create_app
from app.db import set_clock, utcnow
from app.demo import MARKET, SME, _complaint_to_unit
app = create_app()
with app.app_context():
    now = utcnow()
    made = [_complaint_to_unit({**MARKET}, now - timedelta(days=3), unit="jm_scjgj"),
            _complaint_to_unit({**SME, "hide_identity": True}, now - timedelta(days=2), unit="jm_scjgj"),
            _complaint_to_unit({**SME, "company_name": "江门市示例人力资源服务有限公司"}, now - timedelta(days=1),
                               unit="jm_rsj")]
    set_clock(None)
    print(json.dumps([d.case_number for d in made]))
"""


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def numbers(live_server):
    import subprocess
    import sys
    from tests.browser.conftest import PROJECT
    done = subprocess.run([sys.executable, "-c", CASES], cwd=PROJECT, env=live_server.env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    market, secret, rsj = json.loads(done.stdout.strip().splitlines()[-1])
    return {"market": market, "secret": secret, "rsj": rsj}


def _case_column(page) -> list[str]:
    return page.eval_on_selector_all("table.inbox tbody tr td:nth-child(4) a",
                                     "els => els.map(e => e.textContent.trim())")


def test_a_handler_sorts_the_inbox_and_sets_a_follow_up_date(live_server, numbers, page):
    from datetime import datetime, timedelta, timezone
    _login(page, live_server.url, "handler1")
    page.select_option("select[name=district]", "蓬江区")
    page.click("button:has-text('筛选')")
    page.click("table.inbox th a.sort-link:has-text('案件')")
    page.wait_for_url(re.compile(r"sort=number"))
    assert "district=" in page.url                                            # the filter is kept
    assert _case_column(page) == [numbers["market"], numbers["secret"]]
    page.click("table.inbox th a.sort-link:has-text('案件')")
    page.wait_for_url(re.compile(r"sort=-number"))
    assert _case_column(page) == [numbers["secret"], numbers["market"]]
    assert page.get_attribute("table.inbox th[aria-sort=descending] a", "href").count("district=") == 1
    _shot(page, "lists-01-inbox-sorted")

    page.locator("table.inbox tbody tr", has_text=numbers["market"]).locator("a.task-link").click()
    page.wait_for_selector("form.follow-up")
    today = datetime.now(timezone(timedelta(hours=8))).date()
    page.fill("#follow_up_on", (today - timedelta(days=1)).isoformat())
    page.click("form.follow-up button:has-text('设置')")
    page.wait_for_selector("#follow_up_on-error")
    assert page.inner_text("#follow_up_on-error") == "跟进日期不能早于今天"
    assert page.get_attribute("#follow_up_on", "aria-invalid") == "true"
    page.locator("form.follow-up").screenshot(path=str(ARTIFACTS / "lists-02-follow-up-error.png"))
    page.fill("#follow_up_on", today.isoformat())
    page.click("form.follow-up button:has-text('设置')")
    page.wait_for_selector(".alert.success")
    assert f"已设置跟进日期 {today.isoformat()}" in page.inner_text(".alert.success")
    _shot(page, "lists-03-task-follow-up")

    page.click("nav.mainnav a:has-text('待办')")
    page.select_option("select[name=follow]", "today")
    page.click("button:has-text('筛选')")
    rows = page.locator("table.inbox tbody tr")
    assert rows.count() == 1 and numbers["market"] in rows.inner_text() and "今天需跟进" in rows.inner_text()
    _shot(page, "lists-04-inbox-follow-up-today")
    assert page.errors == []


def test_a_dispatcher_finds_a_case_in_done(live_server, numbers, page):
    _login(page, live_server.url, "dispatch1")
    page.click("nav.mainnav a:has-text('已办')")
    assert page.locator("h1").inner_text() == "已办任务"
    rows = page.locator("table.done tbody tr")
    assert rows.count() == 6                                                  # 研判 + 派单 of three cases
    assert numbers["rsj"] in rows.first.inner_text() and "派单" in rows.first.inner_text()
    _shot(page, "lists-05-done")
    page.fill("input[name=q]", numbers["market"])
    page.click("button:has-text('搜索')")
    rows = page.locator("table.done tbody tr")
    assert rows.count() == 2 and "签收" in rows.first.inner_text() and "办理中" in rows.first.inner_text()
    _shot(page, "lists-06-done-search")
    assert page.errors == []


def test_handlers_search_cases_of_their_unit_and_never_a_confidential_phone(live_server, numbers, page, chromium):
    from app.demo import MARKET, SME
    _login(page, live_server.url, "handler1")
    page.click("nav.mainnav a:has-text('案件查询')")
    numbers_shown = page.eval_on_selector_all("a.case-link", "els => els.map(e => e.textContent.trim())")
    assert numbers_shown == [numbers["secret"], numbers["market"]]
    text = page.inner_text("table.cases")
    assert "江门市市场监督管理局" in text and "jm_scjgj" not in text and "保密" in text
    _shot(page, "lists-07-case-search")
    page.fill("input[name=phone]", SME["phone"])
    page.click("button:has-text('查询')")
    assert "没有符合条件的案件" in page.inner_text("main")                       # confidential: not by phone
    page.fill("input[name=phone]", MARKET["phone"])
    page.click("button:has-text('查询')")
    assert page.eval_on_selector_all("a.case-link", "els => els.map(e => e.textContent.trim())") == [numbers["market"]]
    page.fill("input[name=phone]", "")
    page.fill("input[name=date_from]", "2026-12-05")
    page.fill("input[name=date_to]", "2026-12-01")
    page.click("button:has-text('查询')")
    page.wait_for_selector("#date_to-error")
    assert page.inner_text("#date_to-error") == "开始日期不能晚于结束日期"
    _shot(page, "lists-08-case-search-error")

    other = chromium.new_context(locale="zh-CN", viewport={"width": 1366, "height": 900}, timezone_id="Asia/Shanghai")
    try:
        page2 = other.new_page()
        _login(page2, live_server.url, "handler2")
        page2.goto(live_server.url + "/cases?q=" + numbers["market"])
        assert page2.locator("a.case-link").count() == 0 and "没有符合条件的案件" in page2.inner_text("main")
        page2.goto(live_server.url + "/cases")
        assert page2.eval_on_selector_all("a.case-link", "els => els.map(e => e.textContent.trim())") == [numbers["rsj"]]
        _shot(page2, "lists-09-case-search-other-unit")
    finally:
        other.close()
    assert page.errors == []
