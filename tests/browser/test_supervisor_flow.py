"""A supervisor in a real browser, on the demo data (`flask seed demo`): 冯督办 (supervisor_scj, unit
jm_scjgj 市场监管局) opens 督办, sees the KPI tiles, the charts, the heat map and the overdue case of
their unit (the extension approval waiting for the unit head, JM-…-000004), and not the overdue
sign-in of 蓬江区人民政府; sends a 督办 with a deadline (first without a note: the message at the
field). The unit head 林科长 (head1, group jm_scjgj_head: the task's candidate group) logs in, sees
the notice on the 通知 page, and the 督办 on the case's timeline."""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import ARTIFACTS, LiveServer, _require_chromium

OVERDUE_STEP = "延期审批（单位负责人）"   # demo case 4: dispatched to jm_scjgj nine days ago
OTHER_UNITS_STEP = "签收"                   # demo case 3: dispatched to pj_gov, never signed in


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    _require_chromium()
    server = LiveServer(tmp_path_factory.mktemp("supervisor"))
    server.flask("db", "upgrade")
    server.flask("seed", "demo")   # users, bpmn/ deployed, and the 14 demo cases
    server.start()
    yield server
    server.stop()


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _login(page, base: str, username: str, path: str) -> None:
    page.goto(base + path)
    assert "/login" in page.url
    page.fill("#username", username)
    page.fill("#password", "demo12345")
    page.click("button[type=submit]:has-text('登录')")
    page.wait_for_url(re.compile(re.escape(path) + r"($|[?#])"))


def _logout(page) -> None:
    page.click("button:has-text('退出')")
    page.wait_for_url(re.compile(r"/login"))


def test_a_supervisor_sends_a_duban_and_the_handler_sees_it(demo_server, page):
    base = demo_server.url
    _login(page, base, "supervisor_scj", "/supervision")
    assert page.locator("h1").inner_text() == "督办中心"
    assert "江门市市场监督管理局" in page.inner_text(".scope-note")

    # the KPI tiles explain themselves on hover
    tile = page.locator("li.kpi[data-kpi=sign_in_on_time]")
    assert tile.locator(".kpi-tip").is_hidden()
    tile.hover()
    assert tile.locator(".kpi-tip").is_visible()
    assert "计算口径" in tile.locator(".kpi-tip").inner_text()
    page.locator("#kpis").screenshot(path=str(ARTIFACTS / "s02-kpi-tooltip.png"))

    # the charts are drawn (their tables tucked away) and the heat map marks the overdue step
    assert page.locator("#trend-chart").is_visible() and page.locator("#unit-chart").is_visible()
    assert page.locator("details.chart-data #trend-table").count() == 1
    page.wait_for_selector("#heat-diagram[data-state=ready]")
    badges = page.locator(".heat-badges[data-step=extension_unit] .heat-badge")
    assert badges.all_inner_texts() == ["1", "1"]                      # one open, one overdue
    assert page.locator(".heat-badges[data-step=sign_in]").count() == 0   # 蓬江区's sign-in is not theirs
    assert page.locator(".djs-element.heat-red-3[data-element-id=extension_unit]").count() == 1
    assert page.locator(".heat-legend").is_visible()
    page.locator("#heatmap").screenshot(path=str(ARTIFACTS / "s03-heatmap.png"))
    page.locator(".chart-row").screenshot(path=str(ARTIFACTS / "s04-charts.png"))

    # the overdue list: their unit's case only
    rows = page.locator("#task-table tbody.task-group")
    assert rows.count() == 1
    row = rows.first
    assert OVERDUE_STEP in row.inner_text() and "超期" in row.inner_text()
    assert OTHER_UNITS_STEP not in page.locator("#task-table").inner_text()
    number = row.locator("a.case-link").inner_text()
    assert re.fullmatch(r"JM-\d{4}-\d{4}-000004", number)
    _shot(page, "s01-dashboard")

    # 督办 without a note: the message at the field, the deadline kept
    row.locator("summary:has-text('督办操作')").click()
    form = row.locator("form[data-action=supervise]")
    deadline = form.locator("input[name=deadline]").input_value()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T17:30", deadline)
    form.locator("button[type=submit]").click()
    page.wait_for_selector(".has-action-error form[data-action=supervise] .error-msg")
    form = page.locator(".has-action-error form[data-action=supervise]")
    assert form.locator(".field.has-error .error-msg").inner_text().endswith("必填")
    assert form.locator("input[name=deadline]").input_value() == deadline
    assert "督办未完成" in page.inner_text("#action-error")
    page.screenshot(path=str(ARTIFACTS / "s05-duban-error.png"))

    form.locator("textarea[name=note]").fill("延期申请已超期 4 个工作日未审批，请单位负责人立即审批。")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("#lists .alert.success")
    flash = page.inner_text("#lists .alert.success")
    assert page.locator("main > .alert.success", has_text="督办成功").is_hidden()   # shown once, by the list
    assert flash.startswith("督办成功：已督办，要求于 ") and "已通知 1 人" in flash
    assert "已督办，期限 " + deadline.replace("T", " ") in page.locator(f"#task-table tbody:has-text('{number}')").inner_text()
    _shot(page, "s06-duban-sent")
    assert page.errors == []

    # the unit head: the notice, then the case timeline
    _logout(page)
    _login(page, base, "head1", "/notifications")
    notice = page.locator("ul.notifications li", has_text="督办：" + OVERDUE_STEP).first
    assert "请于 " + deadline.replace("T", " ") + " 前办结" in notice.inner_text()
    assert "延期申请已超期 4 个工作日未审批" in notice.inner_text()
    _shot(page, "s07-handler-notifications")
    notice.locator("a:has-text('查看案件')").click()
    page.wait_for_url(re.compile(r"/cases/\d+"))
    entry = page.locator("ol.timeline li.timeline-supervise")
    assert entry.count() == 1
    assert "督办" in entry.inner_text() and "冯督办" in entry.inner_text()
    entry.locator("summary").click()
    details = entry.locator("dl.kv").inner_text()
    assert "督办期限" in details and deadline.replace("T", " ") in details and "请单位负责人立即审批" in details
    entry.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "s08-case-timeline.png"))
    assert page.errors == []


def test_the_dashboard_degrades_without_the_chart_and_diagram_libraries(demo_server, page):
    """Chart.js and bpmn-js fail to load: the same numbers stay readable as tables, no script error."""
    page.route(re.compile(r".*/static/vendor/.*\.js$"), lambda route: route.abort())
    _login(page, demo_server.url, "supervisor", "/supervision")
    assert page.locator("#trend-table").is_visible() and page.locator("#unit-table").is_visible()
    assert page.locator("#heat-table").is_visible()
    assert page.locator(".chart-box").first.is_hidden()
    assert page.locator("#heat-diagram").is_hidden() and page.locator(".heat-legend").is_hidden()
    overdue = page.locator("#task-table").inner_text()
    assert OVERDUE_STEP in overdue and OTHER_UNITS_STEP in overdue      # all units for 王督办
    _shot(page, "s09-no-vendor")
    # choosing another process for the heat map reloads the page on it (the 查看 button without a script)
    page.select_option("#heat-process", "dispute_escalation")
    page.wait_for_url(re.compile(r"heat=dispute_escalation"))
    heat = page.inner_text("#heatmap")
    assert "矛盾纠纷分级调处" in heat and "该流程当前没有在办任务" in heat   # offered to lanes, not to units
    assert page.errors == []
