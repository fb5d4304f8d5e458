"""Stopping the scheduler while a dispatch is running and plans its wake-up: APScheduler's
shutdown(wait=True) holds its job-store lock while it waits for running jobs, and add_job needs that
lock, so a stop at that moment hung for ever (seen: `flask scheduler run` ignoring SIGTERM)."""
from __future__ import annotations

import threading
from datetime import datetime, timezone


def test_stop_does_not_hang_while_a_dispatch_plans_its_wakeup(app, monkeypatch):
    from app.deadlines import dispatcher, scheduler
    entered, release = threading.Event(), threading.Event()

    def slow_dispatch():
        entered.set()
        release.wait(10)
    monkeypatch.setattr(dispatcher, "dispatch_due_jobs", slow_dispatch)
    monkeypatch.setattr(dispatcher, "next_due_at", lambda: datetime.now(timezone.utc))   # plans a wake-up
    scheduler.start_scheduler(app)
    try:
        assert entered.wait(10)
        stopper = threading.Thread(target=scheduler.stop_scheduler, args=(app,), daemon=True)
        stopper.start()
        stopper.join(0.5)          # the stop has begun while the dispatch is still running
        release.set()              # the dispatch ends and asks for its wake-up
        stopper.join(10)
        assert not stopper.is_alive(), "stop_scheduler hung"
        assert app.extensions["wuyi_scheduler_state"] == "off"
    finally:
        release.set()
