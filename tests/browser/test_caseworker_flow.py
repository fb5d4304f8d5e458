"""A caseworker in a real browser: log in, start a complaint on its start page, find the task in the
inbox, submit a wrong USCC and see the Chinese message at the field with the input kept, fix it,
complete, see the timeline and the highlighted diagram.

Runs against the shipped complaint process (bpmn/complaint.bpmn: its start form, then 登记建档
`register` for the 受理员 lane, whose form checks `uscc`)."""
from __future__ import annotations

import json
import re

from tests.browser.conftest import ARTIFACTS
from tests.samples import START

WRONG_USCC = "91440703MAKLKB3T83"   # the check character is wrong


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _login(page, base: str, username: str) -> None:
    page.goto(base + "/tasks")
    assert "/login" in page.url
    page.fill("#username", username)
    page.fill("#password", "demo12345")
    _shot(page, "01-login")
    page.click("button[type=submit]:has-text('登录')")
    page.wait_for_url(re.compile(r"/tasks"))


def _fill(page, data: dict) -> None:
    """Fill a server-rendered form as a person would, whatever widget each field got."""
    for name, value in data.items():
        field = page.locator(f'[name="{name}"]')
        if field.count() == 0:
            continue
        first = field.first
        tag = first.evaluate("e => e.tagName.toLowerCase()")
        kind = first.get_attribute("type")
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if tag == "select":
            first.select_option(value=text)
        elif kind == "radio":
            page.check(f'[name="{name}"][value="{text}"]')
        elif kind == "checkbox" and isinstance(value, bool):
            first.set_checked(value)
        elif kind == "checkbox" and isinstance(value, list):   # a multiple choice: tick each value
            for item in value:
                page.check(f'[name="{name}"][value="{item}"]')
        else:
            first.fill(text)


def test_register_a_complaint_through_the_pages(live_server, page):
    _login(page, live_server.url, "intake1")
    assert page.locator(".username").inner_text() == "受理员 李受理"

    page.click("nav.mainnav a:has-text('新建')")
    page.click("a[href='/start/complaint'] >> nth=0")
    page.wait_for_selector("form.taskform")
    _fill(page, START)
    _shot(page, "02-start-form")
    page.click("button[value=start]")
    page.wait_for_url(re.compile(r"/cases/\d+"))
    flash = page.inner_text(".alert.success")
    number = re.search(r"JM-\d{4}-\d{4}-\d{6}", flash).group(0)

    page.click("nav.mainnav a:has-text('待办')")
    page.fill("input[name=q]", number)
    page.click("button:has-text('筛选')")
    row = page.locator("table.inbox tbody tr", has_text=number)
    assert row.count() == 1 and row.locator(".sla").count() == 1
    _shot(page, "03-inbox")
    row.locator("a.task-link").click()
    page.wait_for_selector("form.taskform")
    assert page.locator("h1").inner_text() == "登记建档"
    assert page.input_value("#f_company_name") == START["company_name"]        # prefilled from the case

    conditional = page.locator("#f_out_of_scope_reason-wrap[data-show-if]")
    if conditional.count():   # JavaScript hides a conditional field until its condition holds
        assert conditional.is_hidden()
        page.check("input[name=in_scope][value=false]")
        assert conditional.is_visible()
        page.check("input[name=in_scope][value=true]")
        assert conditional.is_hidden()

    page.fill("#f_uscc", WRONG_USCC)
    page.click("button[value=complete]")
    page.wait_for_selector("#f_uscc-error")
    assert "统一社会信用代码校验位不正确" in page.inner_text("#f_uscc-error")
    assert page.input_value("#f_uscc") == WRONG_USCC                            # the input is kept
    assert page.input_value("#f_company_name") == START["company_name"]        # and the rest of it
    assert page.get_attribute("#f_uscc", "aria-invalid") == "true"
    assert "表单有 1 处需要修改" in page.inner_text("#form-errors")
    _shot(page, "04-task-error")
    page.locator("#f_uscc-wrap").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "04b-task-error-field.png"))          # the viewport, at full size

    page.fill("#f_uscc", START["uscc"])
    page.click("button[value=complete]")
    page.wait_for_url(re.compile(r"/cases/\d+"))
    assert "“登记建档”已办理完成" in page.inner_text(".alert.success")
    timeline = page.inner_text("ol.timeline")
    assert "发起流程" in timeline and "办理完成 · 登记建档" in timeline and "受理员 李受理" in timeline

    page.wait_for_selector("#diagram[data-state=ready]")
    assert page.locator(".djs-element.wuyi-done[data-element-id=register]").count() == 1   # done: green
    current = page.eval_on_selector_all(".djs-shape.wuyi-current", "els => els.map(e => e.dataset.elementId)")
    assert current and "register" not in current                               # the next step: orange
    _shot(page, "05-case")
    page.locator("#diagram").screenshot(path=str(ARTIFACTS / "06-diagram.png"))
    page.click("button:has-text('显示全图')")
    page.locator("#diagram").screenshot(path=str(ARTIFACTS / "06b-diagram-whole.png"))

    page.click("nav.mainnav a:has-text('通知')")
    assert page.locator("h1").inner_text() == "通知"
    _shot(page, "07-notifications")
    assert page.errors == []


def test_rows_are_added_and_removed_without_javascript(live_server, chromium):
    """The one-thing application form (arrays of vehicles and drivers, nested options) in a browser
    with JavaScript off: the "add" and "delete" buttons round-trip through the server."""
    context = chromium.new_context(java_script_enabled=False, locale="zh-CN", viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15000)
    page = context.new_page()
    try:
        _login(page, live_server.url, "admin")
        page.goto(live_server.url + "/start/one_thing_transport")
        page.wait_for_selector("form.taskform")
        assert page.locator("input[name='__rows__:vehicles']").get_attribute("value") == "1"
        page.fill("#f_company_name", "鹤山市示例顺达物流有限公司")
        page.fill("[name='vehicles[0].plate_no']", "粤J·D5821")
        page.click("button[value='add:vehicles']")
        page.wait_for_selector("[name='vehicles[1].plate_no']")
        assert page.locator("input[name='__rows__:vehicles']").get_attribute("value") == "2"
        assert page.input_value("[name='vehicles[0].plate_no']") == "粤J·D5821"          # kept
        assert page.input_value("#f_company_name") == "鹤山市示例顺达物流有限公司"
        page.fill("[name='vehicles[1].plate_no']", "待购1")
        page.fill("[name='vehicles[1].gross_mass_kg']", "四千五")
        page.click("button[value=start]")
        page.wait_for_selector("#form-errors")
        error = page.inner_text("#f_vehicles_1__gross_mass_kg-wrap")
        assert "请填写整数" in error
        assert page.input_value("[name='vehicles[1].gross_mass_kg']") == "四千五"        # raw input kept
        page.locator("#f_vehicles").scroll_into_view_if_needed()
        page.screenshot(path=str(ARTIFACTS / "08-rows-no-js.png"))
        page.click("button[value='remove:vehicles:0']")
        page.wait_for_selector("input[name='__rows__:vehicles'][value='1']", state="attached")
        assert page.input_value("[name='vehicles[0].plate_no']") == "待购1"
        _shot(page, "09-one-thing-start-form")
    finally:
        context.close()
