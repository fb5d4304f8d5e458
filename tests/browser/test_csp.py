"""The pages under the Content-Security-Policy (#15) in a real browser: the modeler (bpmn-js), the
supervision dashboard (Chart.js, the heat-map viewer), a start form and the case page's diagram
work, and the browser reports no CSP violation (console messages and securitypolicyviolation
events, recorded from before any page script runs)."""
from __future__ import annotations

import re

import pytest

from tests.browser.conftest import ARTIFACTS, LiveServer, _require_chromium

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__cspViolations.push(e.violatedDirective + ' ' + (e.blockedURI || '') + ' ' + (e.sourceFile || '') +
                              ':' + (e.lineNumber || ''));
});
"""


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    _require_chromium()
    server = LiveServer(tmp_path_factory.mktemp("csp"))
    server.flask("db", "upgrade")
    server.flask("seed", "demo")   # users, bpmn/ deployed and the demo cases: the dashboard has data
    server.start()
    yield server
    server.stop()


@pytest.fixture
def csp_page(page):
    page.console_csp = []
    page.on("console", lambda msg: page.console_csp.append(msg.text)
            if "Content Security Policy" in msg.text or "Content-Security-Policy" in msg.text else None)
    page.context.add_init_script(RECORD_VIOLATIONS)
    return page


def violations(page) -> list[str]:
    return page.console_csp + page.evaluate("window.__cspViolations || []")


def login(page, base, username, path):
    page.goto(base + path)
    page.fill("#username", username)
    page.fill("#password", "demo12345")
    page.click("button[type=submit]:has-text('登录')")
    page.wait_for_url(re.compile(re.escape(path) + r"($|[?#])"))


def test_the_pages_send_the_policy(demo_server, csp_page):
    response = csp_page.goto(demo_server.url + "/login")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert response.headers["x-frame-options"] == "DENY"


def test_the_modeler_works_under_the_policy(demo_server, csp_page):
    login(csp_page, demo_server.url, "designer", "/designer")
    csp_page.goto(demo_server.url + "/designer/processes/complaint/modeler")
    csp_page.wait_for_selector('.modeler-body[data-state="ready"]')
    assert csp_page.locator(".djs-element[data-element-id=register]").count() >= 1
    csp_page.locator('.djs-element[data-element-id="register"]').first.click()
    csp_page.wait_for_selector("#bio-properties-panel-name")   # the properties panel answers
    csp_page.screenshot(path=str(ARTIFACTS / "csp-modeler.png"))
    assert violations(csp_page) == [] and csp_page.errors == []


def test_the_form_workbench_works_under_the_policy(demo_server, csp_page):
    login(csp_page, demo_server.url, "designer", "/designer")
    csp_page.goto(demo_server.url + "/designer/forms")
    csp_page.click("a:has-text('handle.schema.json')")
    csp_page.wait_for_selector("#preview .form-preview")
    assert csp_page.locator("#preview .field").count() > 0
    assert violations(csp_page) == [] and csp_page.errors == []


def test_the_dashboard_works_under_the_policy(demo_server, csp_page):
    login(csp_page, demo_server.url, "supervisor_scj", "/supervision")
    assert csp_page.locator("#trend-chart").is_visible() and csp_page.locator("#unit-chart").is_visible()
    csp_page.wait_for_function("window.Chart && Object.keys(Chart.instances || {}).length > 0")
    csp_page.wait_for_selector("#heat-diagram[data-state=ready]")
    csp_page.screenshot(path=str(ARTIFACTS / "csp-dashboard.png"), full_page=True)
    assert violations(csp_page) == [] and csp_page.errors == []


def test_a_start_form_and_a_case_diagram_work_under_the_policy(demo_server, csp_page):
    login(csp_page, demo_server.url, "intake1", "/tasks")
    csp_page.goto(demo_server.url + "/start/complaint")
    csp_page.wait_for_selector("form.taskform")
    csp_page.focus("#f_content")
    csp_page.keyboard.insert_text("长" * 10)
    assert "当前 10 字" in csp_page.inner_text("#f_content-limits")   # forms.js counts as one types
    csp_page.click("button[value=start]")
    csp_page.wait_for_selector(".error-msg")                          # the server's field errors, shown
    tasks = demo_server.api("GET", "/api/v1/tasks?scope=all", "intake1").json()["items"]
    task = next(t for t in tasks if t["case_id"] and t["form"])
    csp_page.goto(demo_server.url + f"/tasks/{task['id']}")
    csp_page.wait_for_selector("form.taskform")
    csp_page.goto(demo_server.url + f"/cases/{task['case_id']}")
    csp_page.wait_for_selector("[data-state=ready]")   # the case's diagram (bpmn-js viewer) drawn
    csp_page.screenshot(path=str(ARTIFACTS / "csp-case.png"), full_page=True)
    assert violations(csp_page) == [] and csp_page.errors == []


def test_an_inline_script_would_be_reported(demo_server, csp_page):
    """The recorder itself works: a script the policy blocks is seen."""
    csp_page.goto(demo_server.url + "/login")
    csp_page.evaluate("""() => { const s = document.createElement('script'); s.textContent = 'window.x = 1';
                                 document.body.appendChild(s); }""")
    csp_page.wait_for_function("window.__cspViolations.length > 0")
    assert csp_page.evaluate("window.x") is None
    assert any("script-src" in v for v in violations(csp_page))


def test_the_login_page_after_repeated_failures(demo_server, csp_page):
    """Five wrong passwords lock the account: the same message as a wrong password, the username kept."""
    for attempt in range(6):
        csp_page.goto(demo_server.url + "/login")
        csp_page.fill("#username", "dispatch1")
        csp_page.fill("#password", "wrong-password" if attempt < 5 else "demo12345")
        csp_page.click("button[type=submit]:has-text('登录')")
        csp_page.wait_for_selector("#password-error")
    assert "/login" in csp_page.url
    assert "连续多次登录失败的账户会被暂时锁定" in csp_page.inner_text("#password-error")
    assert csp_page.input_value("#username") == "dispatch1"
    csp_page.screenshot(path=str(ARTIFACTS / "csp-login-locked.png"), full_page=True)
    assert violations(csp_page) == [] and csp_page.errors == []
