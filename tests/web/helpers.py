"""Helpers of the caseworker-page tests: a browser-like client, the fixture process, sample data."""
from __future__ import annotations

import re
from pathlib import Path

from werkzeug.datastructures import MultiDict

HERE = Path(__file__).parent
FIXTURE_BPMN = [HERE / "fixtures" / "bpmn" / "web_case.bpmn", HERE / "fixtures" / "bpmn" / "web_restricted.bpmn"]
FIXTURE_FORMS = HERE / "fixtures" / "forms"
PASSWORD = "demo12345"
USCC_OK = "91440703MAKLKB3T82"
USCC_BAD = "91440703MAKLKB3T83"   # wrong check character

START = {"title": "工程尾款逾期未付", "complainant_name": "梁志强", "phone": "13800000001",
         "id_number": "440703197211142916", "hide_identity": True, "company_name": "江门市示例五金制品有限公司",
         "uscc": USCC_OK, "district": "蓬江区", "channel": "hotline_12345", "unit": "unit_a"}


PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x03\x00\x08\xfc\x02\xfe\xa7\x9a\xa0\xa0\x00\x00\x00\x00IEND\xaeB`\x82")
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"This program cannot be run"


_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class Browser:
    """A test client that behaves like a person's browser: a session cookie, CSRF tokens taken from
    the pages, each request in a fresh app context (as in production)."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        self.token = None
        self.last = None

    def _call(self, method, path, **kw):
        with self.app.app_context():
            resp = getattr(self.client, method)(path, **kw)
        if resp.mimetype == "text/html":
            found = _META.search(resp.get_data(as_text=True))
            if found:
                self.token = found.group(1)
        self.last = resp
        return resp

    def get(self, path, **kw):
        return self._call("get", path, **kw)

    def csrf(self) -> str:
        if self.token is None:
            self.get("/login")
        return self.token

    def post(self, path, data=None, *, csrf=True, **kw):
        data = dict(data or {}) if not isinstance(data, list) else data
        if csrf:
            token = self.csrf()
            if isinstance(data, list):
                data = data + [("csrf_token", token)]
            else:
                data.setdefault("csrf_token", token)
        if isinstance(data, list):
            data = MultiDict(data)
        return self._call("post", path, data=data, **kw)

    def login(self, username, password=PASSWORD):
        self.token = None
        resp = self.post("/login", {"username": username, "password": password})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
        self.token = None
        self.get("/tasks")
        return resp

    def text(self, resp=None) -> str:
        return (resp or self.last).get_data(as_text=True)


def start_case(data=None, user="intake1"):
    """Start the fixture process through the service (not the page): returns (instance, case)."""
    from app.auth.services import get_user_by_username
    from app.processes.running import start_process
    return start_process("web_case", dict(data or START), get_user_by_username(user))


def open_task(instance_id, bpmn_id):
    import sqlalchemy as sa
    from app.extensions import db
    from app.tasks.models import HumanTask, TaskStatus
    return db.session.execute(sa.select(HumanTask).where(
        HumanTask.instance_id == instance_id, HumanTask.bpmn_id == bpmn_id,
        HumanTask.status == TaskStatus.READY).execution_options(populate_existing=True)).scalar_one()


def fresh(model, row_id):
    """A row as the database has it now (the test's session may hold an older copy)."""
    import sqlalchemy as sa
    from app.extensions import db
    return db.session.execute(sa.select(model).where(model.id == row_id)
                              .execution_options(populate_existing=True)).scalar_one_or_none()


REGISTER_FORM = {"company_name": "江门市示例五金制品有限公司", "uscc": USCC_OK, "visits": "2", "amount": "48.6",
                 "on_site": "true", "visit_date": "2026-03-02", "appointment": "2026-03-03T09:30",
                 "reply_method": "电话", "__rows__:items": "1", "items[0].name": "工程款", "items[0].qty": "1",
                 "need_followup": "false", "note": "已电话联系企业。"}


def complete_register(data_case, user="intake1"):
    """Complete the register task of a started case through the service."""
    from app.auth.services import get_user_by_username
    from app.tasks.services import complete_task
    instance, _ = data_case
    task = open_task(instance.id, "register")
    data = {"company_name": START["company_name"], "uscc": USCC_OK, "reply_method": "电话",
            "items": [{"name": "工程款"}]}
    complete_task(task.id, data, get_user_by_username(user))
    return task
