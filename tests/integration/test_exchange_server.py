"""The exchange end to end: a real server process, real dispatcher processes (`flask scheduler run`)
and the reference client playing the 12345 platform (signed tickets out, signed callbacks in)."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from app.demo import ASSESS, HANDLE, REPLY, SIGN, SIGN_OFF
from tests.integration.conftest import HOTLINE_TICKET
from tests.integration.reference_client import Platform, Receiver
from tests.server.conftest import PROJECT, Client, Server, scratch_database_url

pytestmark = pytest.mark.slow

REGISTER = {**{k: v for k, v in HOTLINE_TICKET.items() if k != "ticket_no"}, "channel": "hotline_12345",
            "in_scope": True}
CONTACT = {"contact_time": "2026-12-01T10:00:00+08:00", "contact_method": "电话", "initial_opinion": "已联系诉求人。"}
STEPS = [("register", "intake1", REGISTER), ("assess", "dispatch1", ASSESS),
         ("dispatch", "dispatch1", {"handler_org": "jm_scjgj"}), ("sign_in", "handler1", SIGN),
         ("first_contact", "handler1", CONTACT), ("handle", "handler1", HANDLE), ("reply", "handler1", REPLY),
         ("sign_off", "head1", SIGN_OFF), ("qa", "qa1", {"qa_result": "pass"}),
         ("callback", "callback1", {"contacted": True, "resolved": True, "satisfaction": "satisfied"})]
EVENTS = ["signed_in", "closed", "callback_result"]


class Dispatcher:
    def __init__(self, srv, name):
        self.log = open(srv.instance_dir / f"dispatcher-{name}.log", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "run"], cwd=PROJECT,
                                     env=srv.env, stdout=self.log, stderr=subprocess.STDOUT)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.log.close()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:   # a dispatcher mid-round finishes its job first: on a loaded machine that takes a while
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


class World:
    """The server, its database, the platform and its callback receiver."""

    def __init__(self, srv):
        srv.env.update(DISPATCH_INTERVAL_SECONDS="0.5", JOB_BACKOFF_SECONDS="0.5,1,1,2", JOB_MAX_ATTEMPTS="100",
                       JOB_LOCK_SECONDS="6", INTEGRATION_TIMEOUT_SECONDS="5")
        self.receiver = Receiver(secret="")   # the secret is known once the platform is registered
        done = srv.flask("integration", "add-client", "hotline_12345", "--callback", self.receiver.url)
        assert done.returncode == 0, done.stderr
        secret = next(line.split(": ", 1)[1] for line in done.stdout.splitlines() if line.startswith("secret: "))
        listed = srv.flask("integration", "list")
        assert "hotline_12345" in listed.stdout and secret not in listed.stdout   # shown once only
        self.receiver.secret = secret
        srv.start("--no-scheduler")   # only the dispatcher processes below deliver
        self.srv = srv
        self.platform = Platform(srv.url, "hotline_12345", secret)
        self.staff = Client(srv.url)
        self.db = sa.create_engine(srv.database_url)

    def scalar(self, sql, **params):
        with self.db.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar()

    def instance_of(self, case_number):
        return self.scalar("select i.id from process_instance i join \"case\" c on c.id = i.case_id "
                           "where c.number = :n", n=case_number)

    def step(self, instance_id, bpmn_id, user, data):
        task_id = self.scalar("select id from human_task where instance_id = :i and bpmn_id = :b and status = 'ready'",
                              i=instance_id, b=bpmn_id)
        assert task_id, (instance_id, bpmn_id)
        resp = self.staff.call("POST", f"/api/v1/tasks/{task_id}/complete", user, json={"data": data})
        assert resp.status_code == 200, resp.text

    def backlog(self):
        return self.scalar("select count(*) from integration_outbox where delivered_at is null")

    def wait(self, condition, seconds=90, what=""):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}: events {[(e['case_number'], e['type']) for e in self.receiver.events]}, "
                             f"refused {self.receiver.refused}, backlog {self.backlog()}")

    def close(self):
        self.receiver.stop()
        self.db.dispose()


@pytest.fixture
def world(tmp_path):
    srv = Server(scratch_database_url(tmp_path, "wuyi_exchange_test"), tmp_path)
    for cmd in (("db", "upgrade"), ("seed", "demo")):   # seed demo deploys bpmn/ too
        done = srv.flask(*cmd)
        assert done.returncode == 0, (cmd, done.stdout, done.stderr)
    w = World(srv)
    yield w
    w.close()
    srv.stop()


def ticket(n):
    return {**HOTLINE_TICKET, "ticket_no": f"JM-2026-1202-{n:06d}"}


def test_concurrent_duplicates_start_one_case_and_a_receiver_down_then_up_gets_every_event_in_order(world):
    # the same ticket 10 times at once, each signed on its own (another timestamp): one case
    cases0 = world.scalar("select count(*) from \"case\"")   # the demo's own cases
    instances0 = world.scalar("select count(*) from process_instance")
    now = int(time.time())
    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda i: world.platform.send_ticket(ticket(1), timestamp=now - i), range(10)))
    assert sorted(r.status_code for r in answers) == [200] * 9 + [201], [r.text for r in answers]
    numbers = {r.json()["case_number"] for r in answers}
    assert len(numbers) == 1
    assert world.scalar("select count(*) from \"case\"") == cases0 + 1
    assert world.scalar("select count(*) from process_instance") == instances0 + 1
    # each refusal over HTTP: its own code, nothing started
    bad = world.platform.post("/tickets", b"{}", world.platform.signed_headers(b"{}", secret="wrong"))
    assert (bad.status_code, bad.json()["error"]["code"]) == (401, "bad_signature")
    stale = world.platform.send_ticket(ticket(2), timestamp=now - 600)
    assert (stale.status_code, stale.json()["error"]["code"]) == (401, "stale_timestamp")
    body = json.dumps(ticket(3)).encode()
    headers = world.platform.signed_headers(body)
    assert world.platform.post("/tickets", body, headers).status_code == 201
    replay = world.platform.post("/tickets", body, headers)
    assert (replay.status_code, replay.json()["error"]["code"]) == (409, "replayed")
    invalid = world.platform.send_ticket({**ticket(4), "district": "广州市"})
    assert (invalid.status_code, invalid.json()["error"]["code"]) == (422, "schema_invalid")
    assert list(invalid.json()["error"]["fields"]) == ["district"]
    unknown = Platform(world.srv.url, "weibo", "x").send_ticket(ticket(5))
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "unknown_platform")
    assert world.scalar("select count(*) from \"case\"") == cases0 + 2

    # two cases walked to the end while the platform is down
    cases = [numbers.pop(), world.platform.send_ticket(ticket(6)).json()["case_number"]]
    dispatcher = Dispatcher(world.srv, "one")
    try:
        world.receiver.up = False
        for bpmn_id, user, data in STEPS:
            for number in cases:
                world.step(world.instance_of(number), bpmn_id, user, data)
        assert world.backlog() == 6
        time.sleep(3)   # the dispatcher keeps trying, the platform keeps refusing
        assert world.receiver.events == [] and world.backlog() == 6
        world.receiver.up = True
        world.wait(lambda: world.backlog() == 0 and len(world.receiver.events) == 6, what="every event")
    finally:
        dispatcher.stop()
    for number in cases:
        assert world.receiver.of_case(number) == EVENTS
    assert world.receiver.refused == []   # every callback signed, fresh, and in order per case
    ids = [e["event_id"] for e in world.receiver.events]
    assert len(set(ids)) == 6 == world.scalar("select count(distinct event_id) from integration_outbox")


def test_a_dispatcher_killed_between_commit_and_delivery_loses_nothing(world):
    number = world.platform.send_ticket(ticket(7)).json()["case_number"]
    iid = world.instance_of(number)
    for bpmn_id, user, data in STEPS[:3]:
        world.step(iid, bpmn_id, user, data)
    # the platform answers slowly: the dispatcher is killed while it waits for the first answer
    arrived = threading.Event()
    original = world.receiver.handle

    def slow(headers, body):
        status = original(headers, body)
        arrived.set()
        time.sleep(4 if world.receiver.slow else 0)
        return status
    world.receiver.slow = True
    world.receiver.handle = slow
    first = Dispatcher(world.srv, "killed")
    try:
        world.step(iid, "sign_in", "handler1", SIGN)          # committed with its event
        assert arrived.wait(60), "the dispatcher never delivered"
        first.kill()                                          # mid-delivery: received, never marked delivered
    finally:
        if first.proc.poll() is None:
            first.kill()
    for bpmn_id, user, data in STEPS[4:]:                     # committed while no dispatcher runs
        world.step(iid, bpmn_id, user, data)
    assert world.backlog() == 3
    world.receiver.slow = False
    second = Dispatcher(world.srv, "second")
    try:
        world.wait(lambda: world.backlog() == 0, what="the backlog to drain after the kill")
    finally:
        second.stop()
    assert world.receiver.of_case(number) == EVENTS          # each event once, in order
    assert world.receiver.duplicates >= 1                    # the killed delivery came again: deduplicated by id
    assert world.receiver.refused == []
