"""The mixed day for bench/cluster.py (locust, headless; not meant to be run alone).

Users, each on its own node of WUYI_HOSTS (loopback only), failing over to the next node when its
own refuses the connection (a node being SIGKILLed):
- Starter: intake starts through the API (complaint as intake1, one_thing_transport as applicant1,
  dispute_escalation as dispute1), 2-second boundary timers (timer_2s) and instances that wait for
  a message (message_wait, as dispatch1);
- Handler: a demo user takes a step it knows how to fill from its inbox: GET the task, claim,
  complete (409 when another user was faster: expected);
- Supervisor: the dashboard's queries (overdue list, summary by unit, KPIs, trend);
- Messenger: delivers `reply_received` to a waiting instance, sometimes twice (the second: 409).

Environment: WUYI_HOSTS (comma-separated base URLs), WUYI_MAX_REQUESTS (stop after this many),
WUYI_STATUS_FILE (per request name and status, written at the end).
"""
from __future__ import annotations

import json
import os
import random
import sys
import threading
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import gevent
from locust import HttpUser, between, events, task
from locust.exception import StopUser

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from app.demo import (ASSESS, CONTACT, DISPUTE, GRADE, HANDLE, MEDIATED, REPLY, SIGN,  # noqa: E402
                      SIGN_OFF, SME, TRANSPORT)

HOSTS = [h.rstrip("/") for h in os.environ.get("WUYI_HOSTS", "http://127.0.0.1:8000").split(",")]
for _host in HOSTS:
    assert urlsplit(_host).hostname in ("127.0.0.1", "localhost"), f"loopback only: {_host}"
MAX_REQUESTS = int(os.environ.get("WUYI_MAX_REQUESTS", "0"))
STATUS_FILE = os.environ.get("WUYI_STATUS_FILE")
PASSWORD = os.environ.get("WUYI_PASSWORD", "demo12345")

STATUS: Counter = Counter()      # (request name, status) -> count
_lock = threading.Lock()
_sent = 0
_user_index = 0
WAITING: list[int] = []          # message_wait instances started, not yet sent their message

# who completes which step, with what data (the demo's DOMAIN §6 samples)
STEPS = {
    "intake1": {"register": lambda: {**SME, "in_scope": True}, "work": dict},
    "dispatch1": {"assess": lambda: dict(ASSESS), "dispatch": lambda: {"handler_org": "jm_scjgj"},
                  "evaluate": dict},
    "handler1": {"sign_in": lambda: dict(SIGN),
                 "first_contact": lambda: {**CONTACT, "contact_time": datetime.now(timezone(timedelta(hours=8)))
                                           .isoformat(timespec="seconds")},
                 "handle": lambda: dict(HANDLE), "reply": lambda: dict(REPLY)},
    "head1": {"sign_off": lambda: dict(SIGN_OFF)},
    "qa1": {"qa": lambda: {"qa_result": "pass"}},
    "window1": {"precheck": lambda: {"materials_complete": True}},
    "dispute1": {"grade": lambda: dict(GRADE)},
    "village1": {"mediate_village": lambda: dict(MEDIATED)},
    "supervisor": {"escalate": dict},
}
HANDLERS = list(STEPS)


def _count() -> bool:
    """Count one request; False (and stop the run) once WUYI_MAX_REQUESTS is reached."""
    global _sent
    with _lock:
        _sent += 1
        over = MAX_REQUESTS and _sent > MAX_REQUESTS
    return not over


class _Base(HttpUser):
    abstract = True
    host = HOSTS[0]
    wait_time = between(0.2, 1.0)

    def on_start(self):
        global _user_index
        with _lock:
            self.node = _user_index % len(HOSTS)
            _user_index += 1
        self.tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self.tokens:
            r = self.call("POST", "/api/v1/auth/token", "POST /auth/token", None,
                          {"username": username, "password": PASSWORD})
            self.tokens[username] = r.json()["token"] if r is not None and r.status_code == 200 else ""
        return self.tokens[username]

    def call(self, method, path, name, user, body=None, expected=()):
        """One request on this user's node (the next node on a refused connection); the response,
        or None when every node refused or the request budget is spent."""
        if not _count():
            gevent.spawn(self.environment.runner.quit)
            raise StopUser()
        headers = {"Authorization": f"Bearer {self.token(user)}"} if user else {}
        for attempt in range(len(HOSTS)):
            host = HOSTS[(self.node + attempt) % len(HOSTS)]
            with self.client.request(method, host + path, name=name, json=body, headers=headers,
                                     catch_response=True, timeout=60) as r:
                status = r.status_code or 0
                with _lock:
                    STATUS[(name, status)] += 1
                if status == 0:                  # the node is down (SIGKILLed): counted, try the next one
                    r.success()
                    continue
                if status < 400 or status in expected:
                    r.success()
                else:
                    r.failure(f"{status}: {r.text[:300]}")
                return r
        return None


class Starter(_Base):
    weight = 2

    def _start(self, key, user, data, label):
        r = self.call("POST", f"/api/v1/process-definitions/{key}/start", f"POST /start {label}", user,
                      {"data": data})
        return r.json() if r is not None and r.status_code == 201 else None

    @task(3)
    def complaint(self):
        self._start("complaint", "intake1", {**SME, "title": f"负载测试诉求 {random.randint(1, 10**6)}"}, "complaint")

    @task(1)
    def one_thing(self):
        self._start("one_thing_transport", "applicant1", TRANSPORT, "one_thing_transport")

    @task(1)
    def dispute(self):
        self._start("dispute_escalation", "dispute1", DISPUTE, "dispute_escalation")

    @task(2)
    def timer(self):
        self._start("timer_2s", "intake1", {}, "timer_2s")

    @task(1)
    def waits_for_a_message(self):
        started = self._start("message_wait", "dispatch1", {}, "message_wait")
        if started:
            WAITING.append(started["instance"]["id"])


class Handler(_Base):
    weight = 5

    def on_start(self):
        super().on_start()
        self.username = random.choice(HANDLERS)

    @task
    def take_a_step(self):
        user = random.choice(HANDLERS) if random.random() < 0.5 else self.username
        steps = STEPS[user]
        r = self.call("GET", "/api/v1/tasks?scope=all&per_page=50", "GET /tasks", user)
        if r is None or r.status_code != 200:
            return
        mine = [t for t in r.json()["items"] if t["bpmn_id"] in steps]
        if not mine:
            return
        chosen = random.choice(mine[:10])
        task_id = chosen["id"]
        detail = self.call("GET", f"/api/v1/tasks/{task_id}", "GET /tasks/[id]", user)
        if detail is None or detail.status_code != 200:
            return
        claimed = self.call("POST", f"/api/v1/tasks/{task_id}/claim", "POST /tasks/[id]/claim", user,
                            expected=(409,))
        if claimed is None or claimed.status_code != 200:
            return
        self.call("POST", f"/api/v1/tasks/{task_id}/complete", "POST /tasks/[id]/complete", user,
                  {"data": steps[chosen["bpmn_id"]]()}, expected=(409,))


class Supervisor(_Base):
    weight = 1

    @task
    def dashboard(self):
        user = random.choice(["supervisor", "supervisor_scj"])
        today = date.today()
        month = (today.replace(day=1).isoformat(), (today + timedelta(days=1)).isoformat())
        self.call("GET", "/api/v1/supervision/overdue?per_page=20", "GET /supervision/overdue", user)
        self.call("GET", "/api/v1/supervision/summary?kind=overdue&by=unit", "GET /supervision/summary", user)
        self.call("GET", f"/api/v1/supervision/kpis?start={month[0]}&end={month[1]}", "GET /supervision/kpis",
                  user)
        self.call("GET", f"/api/v1/supervision/trend?start={(today - timedelta(days=56)).isoformat()}"
                  f"&end={month[1]}", "GET /supervision/trend", user)


class Messenger(_Base):
    weight = 1

    @task
    def deliver(self):
        if not WAITING:
            return
        instance_id = WAITING.pop(random.randrange(len(WAITING)))
        body = {"name": "reply_received", "correlation": {"instance_id": instance_id}, "payload": {"reply": "已回函"}}
        self.call("POST", "/api/v1/messages", "POST /messages", "dispatch1", body, expected=(409,))
        if random.random() < 0.2:     # a duplicate delivery: the instance no longer waits
            self.call("POST", "/api/v1/messages", "POST /messages", "dispatch1", body, expected=(409,))


@events.quitting.add_listener
def _write_status(environment, **_):
    if STATUS_FILE:
        Path(STATUS_FILE).write_text(json.dumps(
            [{"name": name, "status": status, "count": n} for (name, status), n in sorted(STATUS.items())],
            ensure_ascii=False, indent=1))
