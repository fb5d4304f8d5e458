"""The two lists of issue #12 in a real browser, on the demo data (`flask seed demo`) plus one
application sent back for 补正:

* 何家豪 (applicant1) logs in and lands on 我的申请: his three applications, the one sent back with
  its 一次性告知补正 link, the one at 收件预审 with its due date; he opens the 补正 step, then the
  start form of a new application, prefilled from his profile.
* 冯督办 (supervisor_scj, 市场监管局) opens 流程实例 from the top bar: the instances of his unit only
  (not 人社局's, not the one-thing applications), filters by status and case number, cancels one:
  first without a reason (the message at the field), then with one; it is listed as 已撤销.
"""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_supervisor_flow import _shot, demo_server  # noqa: F401  (the demo server fixture)

MISSING = "缺少车辆 粤J·D5821 的行驶证和技术等级评定结论，请补充上传。"
SENT_BACK = """
from datetime import timedelta
from app import create_app
from app.db import utcnow
from app.demo import TRANSPORT, _Driver
app = create_app()
with app.app_context():
    d = _Driver("one_thing_transport", {**TRANSPORT, "company_name": "台山市示例远航货运有限公司",
                                        "uscc": "91440781MAHY40XE5Q"}, "applicant1", utcnow() - timedelta(hours=1))
    d.step("precheck", {"materials_complete": False, "missing_items": %r}, timedelta(minutes=20))
    print(d.case_number)
""" % MISSING


@pytest.fixture(scope="module")
def lists_server(demo_server):
    """The demo server (users, applicant1 with a profile, bpmn/, the 14 demo cases) and one more
    application of applicant1's, sent back for 补正."""
    demo_server.python(SENT_BACK)
    return demo_server


def _login(page, base: str, username: str, lands_on: str) -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", "demo12345")
    page.click("button[type=submit]:has-text('登录')")
    page.wait_for_url(re.compile(re.escape(lands_on) + r"($|[?#])"))


def test_an_applicant_sees_his_applications_and_what_is_asked_of_him(lists_server, page):
    base = lists_server.url
    _login(page, base, "applicant1", "/applications")        # his home page, not the caseworker inbox
    assert page.locator("h1").inner_text() == "我的申请"
    assert page.locator("nav.mainnav a[aria-current=page]").inner_text() == "我的申请"
    rows = page.locator("table.applications tbody tr")
    assert rows.count() == 3
    assert "您有 1 件申请需要补正或办理" in page.inner_text(".alert.info")
    sent_back = page.locator("table.applications tbody tr", has_text="台山市示例远航货运有限公司")
    assert "一次性告知补正" in sent_back.locator("td").nth(3).inner_text()
    link = sent_back.locator("a.task-link")
    assert link.inner_text() == "一次性告知补正"
    waiting = page.locator("table.applications tbody tr", has_text="收件预审")
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", waiting.locator("td").nth(5).inner_text())   # its due date
    assert "无需办理" in waiting.inner_text()
    body = page.inner_text("table.applications")
    assert "supplement" not in body and "precheck" not in body and "one_thing_transport" not in body
    _shot(page, "l01-my-applications")

    page.click("nav.tabs a:has-text('待我办理')")
    page.wait_for_url(re.compile(r"state=todo"))
    assert page.locator("table.applications tbody tr").count() == 1
    page.locator("a.task-link").click()
    page.wait_for_selector("form.taskform")
    assert page.locator("h1").inner_text() == "一次性告知补正"
    assert "粤J·D5821 的行驶证" in page.inner_text(".instructions")
    _shot(page, "l02-supplement-task")

    page.click("nav.mainnav a:has-text('新建')")
    page.click("a[href='/start/one_thing_transport'] >> nth=0")
    page.wait_for_selector("form.taskform")
    assert page.input_value("#f_company_name") == "鹤山市示例顺达物流有限公司"     # from his profile
    assert page.input_value("#f_uscc") == "91440784MA9QK8KL7L"
    assert page.input_value("#f_agent_name") == "何家豪"
    assert page.input_value("#f_agent_mobile") == "13800000003"
    page.locator("#f_agent_name").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "l03-start-form-prefilled.png"))
    assert page.errors == []


def test_a_supervisor_lists_his_units_instances_and_cancels_one_with_a_reason(lists_server, page):
    base = lists_server.url
    _login(page, base, "supervisor_scj", "/tasks")
    page.click("nav.mainnav a:has-text('流程实例')")
    page.wait_for_url(re.compile(r"/instances$"))
    assert page.locator("h1").inner_text() == "流程实例"
    table = page.inner_text("table.instances")
    assert "企业诉求" in table and "第 1 版" in table and "江门市市场监督管理局" in table
    assert "开办运输企业" not in table and "矛盾纠纷" not in table     # not his unit's
    assert "招用技术工人" not in table                                  # 人社局's complaint
    assert "handle" not in table and "jm_scjgj" not in table           # titles, never codes
    total = page.locator("table.instances tbody tr").count()
    assert total >= 3
    _shot(page, "l04-instances")

    page.select_option("select[name=status]", "running")
    page.click("button:has-text('筛选')")
    page.wait_for_url(re.compile(r"status=running"))
    row = page.locator("table.instances tbody tr", has_text="调查处置").first
    number = row.locator("a.case-link").inner_text()
    assert re.fullmatch(r"JM-\d{4}-\d{4}-\d{6}", number)
    page.fill("input[name=q]", number)
    page.click("button:has-text('筛选')")
    page.wait_for_url(re.compile(r"q=JM"))
    assert page.locator("table.instances tbody tr").count() == 1
    _shot(page, "l05-instances-filtered")

    page.locator("table.instances tbody tr a:has-text('撤销')").click()
    page.wait_for_selector("textarea#f_reason")
    assert number in page.inner_text("dl.kv") and "调查处置" in page.inner_text("dl.kv")
    page.click("button:has-text('确认撤销')")
    page.wait_for_selector("#f_reason-error")
    assert "必填：请说明撤销该流程实例的理由" in page.inner_text("#f_reason-error")
    _shot(page, "l06-cancel-needs-a-reason")
    page.fill("#f_reason", "企业已通过12345撤回诉求，重复立案")
    page.click("button:has-text('确认撤销')")
    page.wait_for_url(re.compile(r"/instances\?"))
    assert f"已撤销 {number}" in page.inner_text(".alert.success")
    assert page.locator("table.instances tbody tr").count() == 0          # no longer running
    page.click("nav.tabs a:has-text('已撤销')")
    page.wait_for_url(re.compile(r"status=cancelled"))
    cancelled = page.locator("table.instances tbody tr", has_text=number)
    assert cancelled.count() == 1 and "已撤销" in cancelled.inner_text()
    _shot(page, "l07-cancelled")

    cancelled.locator("a.case-link").click()
    page.wait_for_url(re.compile(r"/cases/\d+"))
    entry = page.locator("ol.timeline li", has_text="撤销流程")
    entry.locator("summary").click()                                     # the reason, folded like form data
    assert "企业已通过12345撤回诉求，重复立案" in entry.inner_text() and "调查处置" in entry.inner_text()
    entry.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "l08-case-timeline.png"))
    assert page.errors == []
