"""A long value in a task's instructions is summarised with a "展开" for the rest (issue #12, defect 9):
the page shows its first 200 characters and a <details> that works without JavaScript; the API still
gets the full Markdown."""
from __future__ import annotations

import re

from app.demo import CONSULT
from app.tasks.services import render_instructions
from app.web.filters import render_markdown

LONG = "甲" * 150 + "<b>粗</b>*星*\n\n第二段" + "乙" * 4800
TEMPLATE = "### 登记\n- **诉求内容**：{{ content }}\n- **标题**：{{ title }}"


def test_a_long_value_shows_its_start_and_folds_the_rest():
    html = str(render_markdown(render_instructions(TEMPLATE, {"content": LONG, "title": "短标题"},
                                                   fold_long_values=True)))
    item = re.search(r"<li><strong>诉求内容</strong>：(.*?)</li>", html, re.S).group(1)
    head, details = item.split("<details", 1)
    assert head == LONG[:200].replace("<", "&lt;").replace(">", "&gt;").replace("\n\n", "<br>\n<br>\n")
    assert details.startswith(f' class="more"><summary>展开全文（共 {len(LONG)} 字）</summary>')
    assert details.endswith("</summary>" + LONG[200:] + "</details>")
    assert "<b>" not in html and "<em>" not in html           # the data stays text
    assert "<li><strong>标题</strong>：短标题</li>" in html       # short values as before


def test_without_folding_the_instructions_are_unchanged():
    text = render_instructions(TEMPLATE, {"content": LONG, "title": "短标题"})
    assert text == f"### 登记\n- **诉求内容**：{LONG}\n- **标题**：短标题"


def test_the_task_page_folds_and_the_api_does_not(seeded, api, browser):
    content = "2025年6月交付围墙改造工程，" * 300
    started = api.post("/api/v1/process-definitions/complaint/start", user="intake1",
                       json={"data": {**CONSULT, "content": content}})
    assert started.status_code == 201, started.get_json()
    task_id = started.get_json()["tasks"][0]["id"]
    browser.login("intake1")
    html = browser.text(browser.get(f"/tasks/{task_id}"))
    section = re.search(r'<section class="instructions".*?</section>', html, re.S).group(0)
    assert '<details class="more"><summary>展开全文（共 4800 字）</summary>' in section
    assert content[:200] + "<details" in section
    body = api.get(f"/api/v1/tasks/{task_id}", user="intake1").get_json()
    assert f"- **诉求内容**：{content}\n" in body["instructions"]
