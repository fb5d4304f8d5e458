"""On PostgreSQL an action locks its instance row with FOR NO KEY UPDATE, not FOR UPDATE (#16): a
claim's audit row (a foreign key to the instance, so a KEY SHARE lock on it) must not wait for a
completion that holds the instance and waits for the claimed task's row — under load that was a
deadlock (HTTP 500 on claim or complete). Actions on one instance still exclude each other."""
from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from tests.conftest import deploy_fixture


@pytest.fixture
def started(app, api):
    from app.extensions import db
    from app.seed import seed_demo_users
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    seed_demo_users(app.config["DEMO_PASSWORD"])
    deploy_fixture("timer_2s.bpmn")
    resp = api.post("/api/v1/process-definitions/timer_2s/start", "intake1", json={"data": {}})
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()["instance"]
    return body["id"], body["open_tasks"][0]["id"]


def _in_thread(app, fn):
    out = {}

    def run():
        with app.app_context():
            from app.extensions import db
            try:
                out["value"] = fn()
            except Exception as exc:  # noqa: BLE001 - reported to the test
                out["error"] = exc
            finally:
                db.session.remove()
    thread = threading.Thread(target=run)
    thread.start()
    return thread, out


def test_a_claim_is_not_blocked_by_an_action_holding_the_instance(app, started):
    from app.auth.models import User
    from app.extensions import db
    from app.processes.running import lock_instance
    from app.tasks.services import claim_task
    instance_id, task_id = started
    holder_ready, release = threading.Event(), threading.Event()

    def hold():
        lock_instance(instance_id)          # as complete_task does, before it writes the task row
        holder_ready.set()
        release.wait(10)
        db.session.rollback()
    holder, _ = _in_thread(app, hold)
    assert holder_ready.wait(10)
    try:
        def claim():
            user = db.session.execute(sa.select(User).where(User.username == "intake1")).scalar_one()
            return claim_task(task_id, user).assignee_id
        claimer, out = _in_thread(app, claim)
        claimer.join(5)
        assert not claimer.is_alive(), "the claim waited for the instance lock"
        assert "error" not in out, out
    finally:
        release.set()
        holder.join(10)


def test_two_actions_on_one_instance_still_wait_for_each_other(app, started):
    from app.extensions import db
    from app.processes.running import lock_instance
    instance_id, _ = started
    holder_ready, release = threading.Event(), threading.Event()

    def hold():
        lock_instance(instance_id)
        holder_ready.set()
        release.wait(10)
        db.session.rollback()
    holder, _ = _in_thread(app, hold)
    assert holder_ready.wait(10)
    second, out = _in_thread(app, lambda: (lock_instance(instance_id), time.monotonic())[1])
    second.join(1.0)
    assert second.is_alive(), "a second action did not wait for the first"
    released_at = time.monotonic()
    release.set()
    holder.join(10)
    second.join(10)
    assert out["value"] >= released_at
