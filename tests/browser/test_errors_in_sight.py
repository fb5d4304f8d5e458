"""A refused comment or upload on a long case page is seen where the person is looking: the page
opens at the form that was sent, its field focused, the reason also at the top (issue #12, defect 7)."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.conftest import ARTIFACTS
from tests.samples import START


def _in_view(page, selector: str) -> bool:
    return page.locator(selector).evaluate(
        "e => { const r = e.getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight; }")


def test_a_refused_comment_is_in_sight_with_the_text_kept(live_server, page):
    started = live_server.api("POST", "/api/v1/process-definitions/complaint/start", "intake1",
                              json={"data": START})
    assert started.status_code == 201, started.text
    case_id = started.json()["case"]["id"]
    page.goto(live_server.url + "/login")
    page.fill("#username", "intake1")
    page.fill("#password", "demo12345")
    page.click("button[type=submit]:has-text('登录')")
    page.wait_for_url(re.compile(r"/tasks"))
    page.goto(f"{live_server.url}/cases/{case_id}")
    too_long = "已电话联系企业，约定三日内答复。" * 400      # 6,400 characters: over the limit
    page.fill("#comment-body", too_long)                     # not cut while typing or pasting
    page.click("button:has-text('提交意见')")
    page.wait_for_selector("#comment-error")
    page.wait_for_load_state("load")
    page.screenshot(path=str(ARTIFACTS / "errors-in-sight-comment.png"))
    expect(page.locator("#comment-body")).to_be_focused()   # a locator wait: the CSP forbids eval
    assert _in_view(page, "#comment-body") and _in_view(page, "#comment-error")
    assert page.input_value("#comment-body") == too_long
    assert "不能超过 5000 字（当前 6400 字）" in page.inner_text("#comment-error")
    assert "意见未添加" in page.inner_text(".alert.error")
    page.click("button:has-text('上传')")                    # no file chosen
    page.wait_for_selector("#upload-error")
    page.wait_for_load_state("load")
    expect(page.locator("#upload-file")).to_be_focused()
    assert _in_view(page, "#upload-error")
    assert page.errors == []
