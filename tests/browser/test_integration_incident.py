"""A platform that cannot be reached: its event becomes an incident on the supervision dashboard
(平台事件推送, in words), and the supervisor retries it there; once the platform is up, it arrives."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.browser.conftest import ARTIFACTS, PROJECT, LiveServer, _require_chromium
from tests.integration.conftest import HOTLINE_TICKET
from tests.integration.reference_client import Platform, Receiver

SECRET = "browser-test-secret-of-12345"
REGISTER = {**{k: v for k, v in HOTLINE_TICKET.items() if k != "ticket_no"}, "channel": "hotline_12345",
            "in_scope": True}
ASSESS = {"urgency": "normal", "appeal_type": "consult", "primary_category": "惠企政策兑现", "misconduct": False,
          "kb_answerable": False}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    _require_chromium()
    srv = LiveServer(tmp_path_factory.mktemp("integration"))
    srv.flask("db", "upgrade")
    srv.flask("seed", "demo")
    srv.start()
    yield srv
    srv.stop()


def _tick(srv):
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "tick"], cwd=PROJECT,
                          env={**srv.env, "JOB_MAX_ATTEMPTS": "1"}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_a_failed_platform_event_is_an_incident_the_supervisor_retries(server, page):
    receiver = Receiver(SECRET)
    receiver.up = False
    try:
        server.python(f"""
from app import create_app
from app.extensions import db
from app.integration.models import IntegrationClient
app = create_app()
with app.app_context():
    db.session.add(IntegrationClient(name="hotline_12345", secret={SECRET!r}, callback_url={receiver.url!r}))
    db.session.commit()
""")
        resp = Platform(server.url, "hotline_12345", SECRET).send_ticket(HOTLINE_TICKET)
        assert resp.status_code == 201, resp.text
        number = resp.json()["case_number"]
        cases = server.api("GET", f"/api/v1/cases?q={number}", "admin").json()["items"]
        iid = server.api("GET", f"/api/v1/process-instances?q={number}", "admin").json()["items"][0]["id"]
        assert cases
        for bpmn_id, user, data in [("register", "intake1", REGISTER), ("assess", "dispatch1", ASSESS),
                                    ("dispatch", "dispatch1", {"handler_org": "jm_scjgj"}),
                                    ("sign_in", "handler1", {"sign_action": "sign", "signer": "黄经办"})]:
            tasks = server.api("GET", f"/api/v1/process-instances/{iid}", "admin").json()["open_tasks"]
            task = next(t for t in tasks if t["bpmn_id"] == bpmn_id)
            done = server.api("POST", f"/api/v1/tasks/{task['id']}/complete", user, json={"data": data})
            assert done.status_code == 200, done.text
        _tick(server)   # the platform answers 503: with one attempt allowed, an incident at once

        page.goto(server.url + "/supervision?tab=incidents")
        page.fill("#username", "supervisor")
        page.fill("#password", "demo12345")
        page.click("button[type=submit]:has-text('登录')")
        page.wait_for_url(re.compile(r"/supervision"))
        if "tab=incidents" not in page.url:
            page.goto(server.url + "/supervision?tab=incidents")
        row = page.locator("tbody.task-group", has_text="平台事件推送")
        assert row.count() == 1
        assert number in row.inner_text() and "HTTP 503" in row.inner_text()
        assert "DeliveryFailed" not in page.content() and "Traceback" not in page.content()
        page.screenshot(path=str(ARTIFACTS / "i01-platform-incident.png"), full_page=True)
        receiver.up = True
        row.locator("summary").click()
        row.locator("textarea, input[name=note]").first.fill("12345 平台已恢复，重新推送。")
        row.locator("button:has-text('确认重试')").click()
        page.wait_for_load_state()
        assert "重试成功" in page.content()
        page.screenshot(path=str(ARTIFACTS / "i02-platform-incident-retried.png"), full_page=True)
        _tick(server)
        assert receiver.of_case(number) == ["signed_in"] and receiver.refused == []
    finally:
        receiver.stop()
