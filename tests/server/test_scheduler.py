"""The dispatcher under a real server: a 2-second boundary timer escalates on time; timers that fell
due while the server was down fire once when it starts."""
from __future__ import annotations

import time
from datetime import datetime

import pytest

from tests.conftest import FIXTURES
from tests.server.conftest import Client

pytestmark = pytest.mark.slow


def _deploy_timer_diagram(server):
    server.env["FORMS_DIR"] = str(FIXTURES / "forms")
    done = server.flask("bpmn", "deploy", str(FIXTURES / "bpmn" / "timer_2s.bpmn"))
    assert done.returncode == 0, done.stderr


def _instance(client, instance_id):
    r = client.call("GET", f"/api/v1/process-instances/{instance_id}", "admin")
    assert r.status_code == 200, r.text
    return r.json()


def test_a_two_second_boundary_timer_escalates_within_two_seconds_of_its_due_time(server):
    _deploy_timer_diagram(server)
    server.start()
    c = Client(server.url)
    assert c.session.get(server.url + "/healthz").json()["scheduler"] == "running"
    started = c.call("POST", "/api/v1/process-definitions/timer_2s/start", "intake1", {"data": {}}).json()
    due = datetime.fromisoformat(started["instance"]["started_at"]).timestamp() + 2
    deadline = due + 2.0
    escalated_at = None
    while time.time() < deadline + 1:
        inst = _instance(c, started["instance"]["id"])
        if [t["bpmn_id"] for t in inst["open_tasks"]] == ["escalate"]:
            escalated_at = datetime.fromisoformat(inst["open_tasks"][0]["created_at"]).timestamp()
            break
        time.sleep(0.1)
    assert escalated_at is not None, "the escalation task never appeared"
    assert escalated_at - due <= 2.0, f"fired {escalated_at - due:.2f}s after the due time"
    assert [h["action"] for h in inst["history"]].count("timer") == 1


def test_timers_that_fell_due_while_the_server_was_down_fire_once_on_start(server):
    _deploy_timer_diagram(server)
    server.start("--no-scheduler")
    c = Client(server.url)
    ids = [c.call("POST", "/api/v1/process-definitions/timer_2s/start", "intake1", {"data": {}}).json()[
        "instance"]["id"] for _ in range(3)]
    server.stop()
    time.sleep(2.5)                                  # the timers fall due while nothing runs
    server.start()
    c = Client(server.url)
    deadline = time.time() + 10
    while time.time() < deadline:
        states = [_instance(c, i) for i in ids]
        if all([t["bpmn_id"] for t in s["open_tasks"]] == ["escalate"] for s in states):
            break
        time.sleep(0.2)
    time.sleep(2.5)                                  # a few more dispatcher ticks: nothing fires twice
    for instance_id in ids:
        inst = _instance(c, instance_id)
        assert [t["bpmn_id"] for t in inst["open_tasks"]] == ["escalate"]
        assert [h["action"] for h in inst["history"]].count("timer") == 1
