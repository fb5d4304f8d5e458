"""Length limits are shown before submitting and never cut text silently (issue #12, defect 9): the
field says "至少 5 字，最多 5000 字", the browser gets minlength but no maxlength (a paste over
maxlength is cut without a word), and the server refuses a too-long text at its field, keeping it."""
from __future__ import annotations

import re

from app.demo import CONSULT

CONTENT = re.compile(r'<textarea[^>]*name="content"[^>]*>')


def _wrap(html: str, name: str) -> str:
    found = re.search(rf'<div class="field[^"]*"\s+id="f_{name}-wrap".*?</div>', html, re.S)
    assert found, name
    return found.group(0)


def test_lengths_are_shown_at_the_field_before_submitting(seeded, browser):
    browser.login("intake1")
    html = browser.text(browser.get("/start/complaint"))
    assert "至少 5 字，最多 5000 字" in _wrap(html, "content")
    assert "最多 50 字" in _wrap(html, "title")
    textarea = CONTENT.search(html).group(0)
    assert 'minlength="5"' in textarea
    assert "maxlength" not in textarea
    assert not re.search(r'<input[^>]*name="title"[^>]*maxlength', html)


def test_a_too_long_text_is_refused_at_its_field_and_kept(seeded, browser):
    browser.login("intake1")
    browser.get("/start/complaint")
    pasted = "长" * 100_000
    data = {k: v for k, v in CONSULT.items() if isinstance(v, str)}
    resp = browser.post("/start/complaint", {**data, "content": pasted, "action": "start"})
    assert resp.status_code == 422
    html = browser.text(resp)
    assert "不能超过 5000 字（当前 100000 字）" in _wrap(html, "content")
    assert pasted in html   # what was typed is still there to shorten


def test_a_too_short_text_names_the_minimum(seeded, browser):
    browser.login("intake1")
    browser.get("/start/complaint")
    data = {k: v for k, v in CONSULT.items() if isinstance(v, str)}
    html = browser.text(browser.post("/start/complaint", {**data, "content": "欠款", "action": "start"}))
    assert "不能少于 5 字（当前 2 字）" in _wrap(html, "content")
