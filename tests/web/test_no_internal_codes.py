"""No internal code reaches a person (issue #12, defect 4): a scan of every page of a driven demo,
every export and every notification and e-mail.

The demo (app/demo.py: 14 cases of the three processes) is seeded, its deadline jobs are run (the
escalation ladder notifies and mails), and a supervisor 催办/督办/改派s a task. Then every demo user
logs in and the test follows every link it is shown, from the home page: the inbox (each scope), each
task page, each case page, the start pages, the notifications, the supervision dashboard (each tab,
each heat-map process) and every CSV/XLSX export it links to; the administrator also opens every
case and every task, done ones too. Every notification and every e-mail in the outbox is read too.

What a person reads must not contain an internal code: a group's name (jm_scjgj, jm_scjgj_head,
intake, …: every Group.name in the database, except the login names admin, designer and supervisor
shown beside a person's name), a coded option value of a deployed form (channel hotline_12345,
result resolved, …: every snake_case oneOf const / enum value), a data key (a form's field names
such as plate_no, the keys of the audit trail's records such as due_at), a BPMN element id of a
deployed version (sign_in, extension_unit, …), or a case's row id ("案件 3" instead of its number).
Only text counts: tags, URLs, form field names and the values of inputs and options (what a form
submits) are not read, but `title`, `aria-label` and `placeholder` attributes and <option> texts are.

Not scanned: the designer's own pages (/designer: the modeler, the XML, the diff and the form
workbench name elements and fields by their ids for the designer, which is their job), the JSON
behind the diagrams (/cases/<id>/diagram.json, /supervision/heatmap.json: ids keyed to the diagram),
attachment downloads, and the JSON API (a machine reads it).
"""
from __future__ import annotations

import io
import re
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import sqlalchemy as sa

from tests.web.helpers import PASSWORD

# links followed: a path pattern and the query parameters kept (others, such as sort orders, filters
# and pages, only show the same rows again)
FOLLOW = [
    (re.compile(r"^/$"), ()),
    (re.compile(r"^/tasks$"), ("scope",)),
    (re.compile(r"^/tasks/\d+$"), ()),
    (re.compile(r"^/tasks/done$"), ()),
    (re.compile(r"^/cases$"), ()),
    (re.compile(r"^/instances$"), ("status",)),
    (re.compile(r"^/applications$"), ("state",)),
    (re.compile(r"^/cases/\d+$"), ()),
    (re.compile(r"^/start(/[\w-]+)?$"), ()),
    (re.compile(r"^/notifications$"), ("unread",)),
    (re.compile(r"^/supervision$"), ("tab", "heat")),
    (re.compile(r"^/supervision/export/\w+\.(csv|xlsx)$"), ()),
]
MAX_PAGES_PER_USER = 200
SKIP_TAGS = {"script", "style", "template"}
READ_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")


class _Text(HTMLParser):
    """What a person reads on a page: text outside script/style, and the attributes shown as tooltips."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in SKIP_TAGS:
            self._skip += 1
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        for name in READ_ATTRIBUTES:
            if attrs.get(name):
                self.parts.append(attrs[name])

    def handle_endtag(self, tag):
        if tag in SKIP_TAGS and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.parts.append(data.strip())


def _identifier_codes(values) -> set[str]:
    """The values that are codes (ASCII snake_case identifiers such as hotline_12345, sign_in), not words."""
    return {v for v in values if isinstance(v, str) and re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)+", v)}


def _nodes(node):
    """Every object anywhere in a JSON Schema."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _nodes(value)


def _form_codes(schema) -> set[str]:
    """Every oneOf/anyOf const and enum value anywhere in a JSON Schema."""
    found: set[str] = set()
    for node in _nodes(schema):
        for key in ("oneOf", "anyOf"):
            found.update(o["const"] for o in node.get(key) or [] if isinstance(o, dict) and "const" in o)
        found.update(v for v in node.get("enum") or [] if isinstance(v, str))
    return found


def _field_names(schema) -> set[str]:
    """Every property name anywhere in a JSON Schema (the data keys of a form)."""
    return {name for node in _nodes(schema) if isinstance(node.get("properties"), dict)
            for name in node["properties"]}


def internal_codes() -> dict[str, set[str]]:
    """The codes no person may read, by kind, from the database: groups, form options, data keys, BPMN ids."""
    from app.audit.models import AuditEvent
    from app.auth.models import Group, User
    from app.extensions import db
    from app.processes.models import ProcessDefinition
    groups = set(db.session.execute(sa.select(Group.name)).scalars())
    options: set[str] = set()
    fields: set[str] = set()
    element_ids: set[str] = set()
    for forms, meta, xml in db.session.execute(
            sa.select(ProcessDefinition.forms, ProcessDefinition.meta, ProcessDefinition.bpmn_xml)).all():
        for schema in (forms or {}).values():
            options |= _identifier_codes(_form_codes(schema))
            fields |= _identifier_codes(_field_names(schema))
        element_ids |= set((meta or {}).get("tasks") or {})
        element_ids |= _identifier_codes(re.findall(r'\bid="([^"]+)"', xml or ""))
    # the keys of what the audit trail keeps (a timeline shows its records by their titles)
    records: set[str] = set()
    for (data,) in db.session.execute(sa.select(AuditEvent.data).where(AuditEvent.data.is_not(None))).all():
        if isinstance(data, dict):
            records |= {k for k in data if re.fullmatch(r"[a-z][a-z0-9_]*", k)}
    # BPMN ids that are also the codes of groups or options are reported once, as those; a login name
    # that is also a role's name (admin, supervisor) may be shown beside a person's name, as the login
    usernames = set(db.session.execute(sa.select(User.username)).scalars())
    return {"group": groups - usernames, "option": options - groups, "bpmn id": element_ids - groups - options,
            "field": (fields | records) - element_ids - groups - options - usernames}


def _finder(codes: dict[str, set[str]]):
    everything = sorted({c for values in codes.values() for c in values}, key=len, reverse=True)
    kind = {c: k for k, values in codes.items() for c in values}
    # a whole token: not inside a longer identifier, a URL or a file name
    pattern = re.compile(r"(?<![\w./-])(" + "|".join(map(re.escape, everything)) + r")(?![\w/-])", re.ASCII)
    row_id = re.compile(r"案件\s*\d+(?![\w-])")

    def find(text: str) -> list[str]:
        hits = [f"{kind[m.group(1)]} {m.group(1)!r} in …{text[max(0, m.start() - 30):m.end() + 30]}…"
                for m in pattern.finditer(text)]
        hits += [f"case row id {m.group(0)!r} in …{text[max(0, m.start() - 30):m.end() + 30]}…"
                 for m in row_id.finditer(text)]
        return hits
    return find


# --- driving the demo -------------------------------------------------------------------------------

def _drive_demo(db):
    """The demo cases, their deadline jobs run (escalations notify and mail), and a supervisor's
    催办, 督办 and 改派 on the overdue sign-in."""
    from app.auth.models import User
    from app.db import utcnow
    from app.deadlines.dispatcher import dispatch_due_jobs
    from app.demo import seed_demo_cases
    from app.supervision import actions
    from app.tasks.models import HumanTask, TaskStatus
    for user in db.session.execute(sa.select(User)).scalars():
        user.email = f"{user.username}@example.gov.cn"   # the demo users have none: mail every notification
    db.session.commit()
    assert len(seed_demo_cases()) == 14
    dispatch_due_jobs(utcnow())
    supervisor = db.session.execute(sa.select(User).where(User.username == "supervisor")).scalar_one()
    sign_in = db.session.execute(sa.select(HumanTask).where(
        HumanTask.bpmn_id == "sign_in", HumanTask.status == TaskStatus.READY).order_by(HumanTask.id)).scalars().first()
    actions.remind_task(sign_in.id, supervisor, "请尽快签收")
    actions.supervise_task(sign_in.id, supervisor, "限期签收", utcnow() + timedelta(days=2))
    actions.reassign_task(sign_in.id, supervisor, "handler_pj", "改由经办人办理")


def _export_text(content: bytes, fmt: str) -> str:
    if fmt == "csv":
        return content.decode("utf-8-sig")
    from openpyxl import load_workbook
    book = load_workbook(io.BytesIO(content), read_only=True)
    return "\n".join(" | ".join("" if v is None else str(v) for v in row)
                     for sheet in book.worksheets for row in sheet.iter_rows(values_only=True))


def _normalise(href: str) -> str | None:
    """The link to follow (path and kept parameters), or None for a link this scan does not follow."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    for path, kept in FOLLOW:
        if path.match(parts.path):
            query = [(k, v) for k, v in parse_qsl(parts.query) if k in kept]
            return parts.path + ("?" + urlencode(sorted(query)) if query else "")
    return None


def _crawl(browser, find, start: list[str]) -> tuple[list[str], int]:
    """Every page and export this user is shown, from these pages on: (problems, pages read)."""
    problems: list[str] = []
    seen = set(start)
    queue = list(start)
    while queue and len(seen) <= MAX_PAGES_PER_USER:
        url = queue.pop(0)
        resp = browser.get(url)
        if resp.status_code in (403, 404):   # e.g. a notification's link to a task handed on since
            continue
        assert resp.status_code == 200, (url, resp.status_code)
        if "/supervision/export/" in url:
            text = _export_text(resp.get_data(), url.rsplit(".", 1)[1])
            problems += [f"{url}: {hit}" for hit in find(text)]
            continue
        parser = _Text()
        parser.feed(resp.get_data(as_text=True))
        problems += [f"{url}: {hit}" for part in parser.parts for hit in find(part)]
        for href in parser.links:
            link = _normalise(href)
            if link and link not in seen:
                seen.add(link)
                queue.append(link)
    assert len(seen) <= MAX_PAGES_PER_USER, "the scan did not finish"
    return problems, len(seen)


@pytest.fixture
def mail_on(app):
    app.config["MAIL_ENABLED"] = True   # the outbox is filled (nothing is sent: no sender runs here)
    yield
    app.config["MAIL_ENABLED"] = False


def test_no_page_export_or_message_shows_an_internal_code(app, db, seeded, make_browser, mail_on):
    from app.auth.models import User
    from app.cases.models import Case
    from app.notifications.models import EmailMessage, Notification
    from app.tasks.models import HumanTask
    _drive_demo(db)
    codes = internal_codes()
    assert {"jm_scjgj", "jm_scjgj_head", "intake"} <= codes["group"]
    assert {"hotline_12345", "sme_platform"} <= codes["option"]
    assert {"sign_in", "extension_unit"} <= codes["bpmn id"]
    assert {"plate_no", "handler_org"} <= codes["field"]
    find = _finder(codes)
    problems: list[str] = []
    read: dict[str, int] = {}
    usernames = list(db.session.execute(sa.select(User.username).order_by(User.id)).scalars())
    # the administrator also opens every case and every task, done ones too (no list links to all of them)
    everything = [f"/cases/{i}" for i in db.session.execute(sa.select(Case.id)).scalars()]
    everything += [f"/tasks/{i}" for i in db.session.execute(sa.select(HumanTask.id)).scalars()]
    for username in usernames:
        browser = make_browser()
        browser.login(username, PASSWORD)
        found, read[username] = _crawl(browser, find, ["/", *(everything if username == "admin" else [])])
        problems += [f"[{username}] {p}" for p in found]
    # the crawl reached what each role works on
    assert read["admin"] > 40 and read["supervisor"] > 10 and read["handler1"] > 3, read
    notes = db.session.execute(sa.select(Notification.title, Notification.body)).all()
    mails = db.session.execute(sa.select(EmailMessage.subject, EmailMessage.body)).all()
    assert notes and mails
    problems += [f"notification: {hit}" for title, body in set(notes) for hit in find(f"{title}\n{body}")]
    problems += [f"e-mail: {hit}" for subject, body in set(mails) for hit in find(f"{subject}\n{body}")]
    unique = sorted(set(problems))
    assert not unique, f"{len(unique)} internal codes shown to people:\n" + "\n".join(unique[:300])
