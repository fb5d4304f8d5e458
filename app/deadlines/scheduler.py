"""APScheduler is the clock, not the store: it runs the dispatcher every few seconds and once more
at the next known due time. Started explicitly (`flask serve`, `flask scheduler run`), never at
import time or in create_app, and at most once per process."""
from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

log = logging.getLogger(__name__)

_lock = threading.Lock()
_dispatching = threading.Lock()   # held by a running dispatch: stop_scheduler waits for it
_scheduler: BackgroundScheduler | None = None


def _in_app(app: Flask, fn):
    from app.extensions import db
    with app.app_context():
        try:
            return fn()
        except Exception:  # noqa: BLE001 - a bad run is logged; the next tick tries again
            log.exception("scheduled %s failed", getattr(fn, "__name__", fn))
        finally:
            db.session.remove()


def _dispatch_and_plan(app: Flask) -> None:
    """Run due jobs, then schedule a one-shot wake-up at the next due time if it comes before the
    next regular tick (so a 2-second timer fires on time, not up to one interval late)."""
    from app.deadlines.dispatcher import dispatch_due_jobs, next_due_at

    def run():
        dispatch_due_jobs()
        return next_due_at()
    with _dispatching:
        upcoming = _in_app(app, run)
        interval = app.config["DISPATCH_INTERVAL_SECONDS"]
        scheduler = _scheduler
        if upcoming is not None and scheduler is not None and scheduler.running:
            now = datetime.now(timezone.utc)
            if upcoming < now + timedelta(seconds=interval):
                scheduler.add_job(_dispatch_and_plan, "date", run_date=max(upcoming, now), args=[app],
                                  id="wakeup", replace_existing=True, misfire_grace_time=30)


def start_scheduler(app: Flask) -> BackgroundScheduler:
    """Start this process's scheduler (idempotent: a second call returns the running one)."""
    global _scheduler
    with _lock:
        if _scheduler is not None and _scheduler.running:
            return _scheduler
        from app.notifications.services import send_pending_emails_job
        scheduler = BackgroundScheduler(timezone=timezone.utc, job_defaults={"coalesce": True,
                                                                            "max_instances": 1})
        scheduler.add_job(_dispatch_and_plan, "interval", seconds=app.config["DISPATCH_INTERVAL_SECONDS"],
                          args=[app], id="dispatch_due_jobs_job", next_run_time=datetime.now(timezone.utc))
        scheduler.add_job(_in_app, "interval", seconds=app.config["MAIL_SEND_INTERVAL_SECONDS"],
                          args=[app, send_pending_emails_job], id="send_pending_emails_job")
        scheduler.start()
        _scheduler = scheduler
        app.extensions["wuyi_scheduler_state"] = "running"
        log.info("scheduler started: dispatch every %ss", app.config["DISPATCH_INTERVAL_SECONDS"])
        return scheduler


def stop_scheduler(app: Flask | None = None) -> None:
    global _scheduler
    with _lock:
        if _scheduler is not None and _scheduler.running:
            # not shutdown(wait=True): APScheduler holds its job-store lock while it waits for running
            # jobs, and a dispatch planning its wake-up (add_job) needs that lock: they would wait for
            # each other for ever. Stop taking jobs, then wait for the dispatch in progress here.
            _scheduler.shutdown(wait=False)
            with _dispatching:
                pass
        _scheduler = None
        if app is not None:
            app.extensions["wuyi_scheduler_state"] = "off"
