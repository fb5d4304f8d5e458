"""Jinja filters and globals of the caseworker pages: local times, Chinese labels, safe Markdown."""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from flask import Flask, current_app, request, url_for
from markdown_it import MarkdownIt
from markupsafe import Markup

from app.calendar import SHANGHAI
from app.cases.uploads import size_text
from app.tasks.folding import FOLD_CLOSE, FOLD_OPEN, LINE_BREAK
from app.web import labels

# CommonMark with raw HTML off: <script> in a designer's instructions is shown as text.
# (markdown-it also refuses javascript:/vbscript:/data: links by default.)
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_FOLDED = re.compile(f"{FOLD_OPEN}(\\d+){FOLD_OPEN}(.*?){FOLD_CLOSE}", re.S)
_STRAY = re.compile(f"[{FOLD_OPEN}{FOLD_CLOSE}]")


def render_markdown(text: str | None) -> Markup:
    """Markdown as safe HTML; a value folded by app.tasks.folding gets its "展开" (<details>)."""
    html = _markdown.render(text or "")
    if FOLD_OPEN in html or LINE_BREAK in html:
        html = _FOLDED.sub(lambda m: f'<details class="more"><summary>展开全文（共 {m.group(1)} 字）</summary>'
                                     f'{m.group(2)}</details>', html)
        html = _STRAY.sub("", html).replace(LINE_BREAK, "<br>\n")
    return Markup(html)


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An aware UTC time shown in Asia/Shanghai."""
    if value is None:
        return ""
    return value.astimezone(SHANGHAI).strftime(fmt)


def has_vendor(path: str) -> bool:
    """Whether a front-end file from npm was copied in (`make assets`); pages work without it."""
    return (Path(current_app.static_folder) / "vendor" / path).is_file()


def url_with(**changes) -> str:
    """The current page's URL with some query parameters changed (None removes one)."""
    args = request.args.to_dict()
    args.update({k: v for k, v in changes.items() if v is not None})
    for key in [k for k, v in changes.items() if v is None]:
        args.pop(key, None)
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def register(app: Flask) -> None:
    app.add_template_filter(render_markdown, "markdown")
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(size_text, "filesize")
    app.add_template_global(has_vendor)
    app.add_template_global(url_with)
    app.add_template_global(labels, "labels")
