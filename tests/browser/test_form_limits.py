"""Length limits in a real browser (issue #12, defect 9): a paste over 诉求内容's 5,000 characters is
not cut, the field counts it and turns red, and the server refuses it at the field with the text kept."""
from __future__ import annotations

from tests.browser.test_designer_flow import _login
from tests.samples import START


def test_a_long_paste_is_counted_not_cut_and_refused_at_the_field(live_server, page):
    _login(page, live_server.url, "intake1")
    page.goto(live_server.url + "/start/complaint")
    page.wait_for_selector("form.taskform")
    assert page.inner_text("#f_content-limits").startswith("至少 5 字，最多 5000 字")
    page.select_option("#f_channel", START["channel"])
    page.check(f'[name="appeal_type"][value="{START["appeal_type"]}"]')
    page.focus("#f_content")
    page.keyboard.insert_text("长" * 6000)                                    # as a paste arrives
    assert len(page.input_value("#f_content")) == 6000                         # nothing cut
    assert "（当前 6000 字）" in page.inner_text("#f_content-limits")
    assert "over" in page.get_attribute("#f_content-limits", "class")
    page.click("button[value=start]")
    page.wait_for_selector("#f_content-error")
    assert "不能超过 5000 字（当前 6000 字）" in page.inner_text("#f_content-error")
    assert len(page.input_value("#f_content")) == 6000                         # kept to shorten
    assert page.errors == []
