"""A real server: SIGKILL loses nothing; two completions at once, exactly one wins."""
from __future__ import annotations

import threading

import pytest

from tests.samples import ASSESS, REGISTER, START
from tests.server.conftest import Client

pytestmark = pytest.mark.slow



def _open_tasks(client, instance_id):
    r = client.call("GET", f"/api/v1/process-instances/{instance_id}", "admin")
    assert r.status_code == 200, r.text
    return r.json()


def test_sigkill_between_two_completions_loses_nothing(server):
    server.start()
    c = Client(server.url)
    started = c.call("POST", "/api/v1/process-definitions/complaint/start", "intake1", {"data": START}).json()
    instance_id = started["instance"]["id"]
    r = c.call("POST", f"/api/v1/tasks/{started['tasks'][0]['id']}/complete", "intake1", {"data": REGISTER})
    assert r.status_code == 200, r.text
    before = _open_tasks(c, instance_id)
    assert [t["bpmn_id"] for t in before["open_tasks"]] == ["assess"]

    server.kill()
    server.start()

    c = Client(server.url)   # tokens survive too, but log in again like a client after a restart would
    after = _open_tasks(c, instance_id)
    assert after["status"] == "running"
    assert after["open_tasks"] == before["open_tasks"]
    assert [h["action"] for h in after["history"]] == [h["action"] for h in before["history"]]
    assert after["data"]["in_scope"] is True
    task_id = after["open_tasks"][0]["id"]
    r = c.call("POST", f"/api/v1/tasks/{task_id}/complete", "dispatch1", {"data": ASSESS})
    assert r.status_code == 200, r.text
    assert [t["bpmn_id"] for t in _open_tasks(c, instance_id)["open_tasks"]] == ["dispatch"]


def test_two_completions_of_the_same_task_at_once_one_wins_one_gets_409(server):
    server.start()
    c = Client(server.url)
    c.token("intake1"), c.token("admin")
    rounds = 8
    outcomes = []
    for _ in range(rounds):
        started = c.call("POST", "/api/v1/process-definitions/complaint/start", "intake1", {"data": START}).json()
        task_id = started["tasks"][0]["id"]
        barrier = threading.Barrier(2)
        results = []

        def complete(user):
            client = Client(server.url)
            client.tokens[user] = c.tokens[user]
            barrier.wait()
            results.append(client.call("POST", f"/api/v1/tasks/{task_id}/complete", user, {"data": REGISTER}))

        threads = [threading.Thread(target=complete, args=(u,)) for u in ("intake1", "admin")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(r.status_code for r in results)
        outcomes.append(codes)
        assert codes == [200, 409], [r.text for r in results]
        loser = next(r for r in results if r.status_code == 409).json()["error"]
        assert loser["code"] in ("task_not_ready", "conflict", "claimed_by_other")
        inst = _open_tasks(c, started["instance"]["id"])
        assert [t["bpmn_id"] for t in inst["open_tasks"]] == ["assess"]          # advanced exactly once
        assert [h["action"] for h in inst["history"]].count("complete") == 1
    assert len(outcomes) == rounds
