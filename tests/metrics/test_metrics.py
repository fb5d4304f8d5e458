"""/metrics (Prometheus text), its protection both ways, the scrape-time gauges, the request id and
the JSON logs, in one process (the test client). Several gunicorn workers: test_gunicorn.py."""
from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.db import utcnow
from tests.conftest import deploy_fixture

OUTSIDE = {"REMOTE_ADDR": "10.1.2.3"}


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of a scrape."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def scrape(client, **kw) -> dict[tuple, float]:
    resp = client.get("/metrics", **kw)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.headers["Content-Type"].startswith("text/plain; version=")
    return samples(resp.get_data(as_text=True))


def value(found, name, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


# --- protection ---------------------------------------------------------------------------------

def test_without_a_token_metrics_answer_loopback_and_refuse_anyone_else(app, client):
    assert app.config["METRICS_TOKEN"] is None
    assert client.get("/metrics").status_code == 200          # the test client is 127.0.0.1
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    refused = client.get("/metrics", environ_base=OUTSIDE)
    assert refused.status_code == 403
    assert refused.get_json()["error"]["code"] == "forbidden"
    assert "本机" in refused.get_json()["error"]["message"]
    assert b"wuyi_" not in refused.get_data()


@pytest.fixture
def metrics_token(app):
    app.config["METRICS_TOKEN"] = "s3cret-metrics"
    yield "s3cret-metrics"
    app.config["METRICS_TOKEN"] = None


def test_with_a_token_metrics_want_it_from_everyone_loopback_included(client, metrics_token):
    for environ in ({}, OUTSIDE):
        missing = client.get("/metrics", environ_base=environ)
        assert missing.status_code == 401, environ
        assert missing.headers["WWW-Authenticate"].startswith("Bearer")
        assert missing.get_json()["error"]["code"] == "unauthorized"
        wrong = client.get("/metrics", environ_base=environ, headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        basic = client.get("/metrics", environ_base=environ, headers={"Authorization": "Basic s3cret-metrics"})
        assert basic.status_code == 401
        ok = client.get("/metrics", environ_base=environ, headers={"Authorization": f"Bearer {metrics_token}"})
        assert ok.status_code == 200
        assert b"wuyi_http_request_duration_seconds" in ok.get_data()


# --- what is measured ---------------------------------------------------------------------------

def test_request_latency_is_labelled_by_the_url_rule_not_the_raw_path(client):
    before = scrape(client)
    for task_id in (101, 202, 303):
        client.get(f"/api/v1/tasks/{task_id}")           # 401 without a token: still measured
    client.get("/healthz")
    client.get("/no/such/page")
    after = scrape(client)
    name = "wuyi_http_request_duration_seconds_count"
    endpoint = "api_tasks.get_task"
    assert value(after, name, endpoint=endpoint, method="GET") - value(before, name, endpoint=endpoint,
                                                                      method="GET") == 3
    assert value(after, "wuyi_http_requests_total", endpoint=endpoint, method="GET", status="401") \
        - value(before, "wuyi_http_requests_total", endpoint=endpoint, method="GET", status="401") == 3
    assert value(after, name, endpoint="health.healthz", method="GET") \
        - value(before, name, endpoint="health.healthz", method="GET") == 1
    assert value(after, name, endpoint="unmatched", method="GET") \
        - value(before, name, endpoint="unmatched", method="GET") == 1
    labels = {dict(k[1]).get("endpoint") for k in after}
    assert not any(label and "/" in label for label in labels), labels   # no raw paths, no ids


def test_completions_open_and_overdue_tasks_by_process(app, client, api, seeded):
    from app.demo import DISPUTE
    started = api.post("/api/v1/process-definitions/dispute_escalation/start", "dispute1", json={"data": DISPUTE})
    assert started.status_code == 201, started.get_json()
    found = scrape(client)
    assert value(found, "wuyi_open_tasks", process="dispute_escalation") >= 1
    assert value(found, "wuyi_overdue_tasks", process="dispute_escalation") == 0
    from app.extensions import db
    from app.tasks.models import HumanTask, TaskStatus
    with app.app_context():
        task = db.session.execute(db.select(HumanTask).where(HumanTask.status == TaskStatus.READY,
                                                             HumanTask.process_key == "dispute_escalation")
                                  ).scalars().first()
        task.due_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    assert value(scrape(client), "wuyi_overdue_tasks", process="dispute_escalation") == 1


def test_a_completion_counts_once_for_its_process(app, client, api):
    from app.seed import seed_demo_users
    seed_demo_users(app.config["DEMO_PASSWORD"])
    deploy_fixture("timer_2s.bpmn")
    started = api.post("/api/v1/process-definitions/timer_2s/start", "intake1", json={"data": {}})
    assert started.status_code == 201, started.get_json()
    task_id = started.get_json()["instance"]["open_tasks"][0]["id"]
    before = value(scrape(client), "wuyi_task_completions_total", process="timer_2s")
    done = api.post(f"/api/v1/tasks/{task_id}/complete", "intake1", json={"data": {}})
    assert done.status_code == 200, done.get_json()
    again = api.post(f"/api/v1/tasks/{task_id}/complete", "intake1", json={"data": {}})
    assert again.status_code == 409
    found = scrape(client)
    assert value(found, "wuyi_task_completions_total", process="timer_2s") - before == 1
    assert value(found, "wuyi_open_tasks", process="timer_2s") == 0


def test_jobs_due_claimed_failed_incidents_and_dispatcher_lag(app, client):
    from app.deadlines.models import Incident, JobKind, JobStatus, TimerJob
    from app.extensions import db
    now = utcnow()
    with app.app_context():
        db.session.add_all([
            TimerJob(kind=JobKind.SLA_WARN, due_at=now - timedelta(seconds=30), status=JobStatus.PENDING),
            TimerJob(kind=JobKind.SLA_WARN, due_at=now - timedelta(seconds=5), status=JobStatus.PENDING,
                     locked_by="w", locked_until=now + timedelta(minutes=1)),
            TimerJob(kind=JobKind.SLA_WARN, due_at=now + timedelta(hours=1), status=JobStatus.PENDING),
            TimerJob(kind=JobKind.OVERDUE, due_at=now - timedelta(hours=1), status=JobStatus.FAILED),
        ])
        db.session.flush()
        failed = db.session.execute(db.select(TimerJob.id).where(TimerJob.status == JobStatus.FAILED)).scalar_one()
        db.session.add(Incident(kind=JobKind.OVERDUE, job_id=failed, message="x", created_at=now))
        db.session.add(Incident(kind=JobKind.OVERDUE, job_id=failed, message="y", created_at=now, resolved_at=now))
        db.session.commit()
    found = scrape(client)
    assert value(found, "wuyi_jobs_due") == 2
    assert value(found, "wuyi_jobs_claimed") == 1
    assert value(found, "wuyi_jobs_failed") == 1
    assert value(found, "wuyi_incidents_open") == 1
    assert 29 <= value(found, "wuyi_dispatcher_oldest_due_seconds") < 120


def test_the_dispatcher_counts_claims_runs_and_lag(app, client):
    from app.deadlines.dispatcher import dispatch_due_jobs
    from app.deadlines.models import JobKind, JobStatus, TimerJob
    from app.extensions import db
    before = scrape(client)
    with app.app_context():
        db.session.add(TimerJob(kind=JobKind.SLA_WARN, due_at=utcnow() - timedelta(seconds=3),
                                status=JobStatus.PENDING))    # no task: a no-op run, done
        db.session.commit()
        report = dispatch_due_jobs()
        assert report.done == 1
    after = scrape(client)
    assert value(after, "wuyi_dispatcher_jobs_claimed_total") - value(before, "wuyi_dispatcher_jobs_claimed_total") == 1
    assert value(after, "wuyi_dispatcher_jobs_total", kind="sla_warn", outcome="done") \
        - value(before, "wuyi_dispatcher_jobs_total", kind="sla_warn", outcome="done") == 1
    lag_sum = value(after, "wuyi_dispatcher_lag_seconds_sum", kind="sla_warn") \
        - value(before, "wuyi_dispatcher_lag_seconds_sum", kind="sla_warn")
    assert 3 <= lag_sum < 60
    assert value(after, "wuyi_dispatcher_oldest_due_seconds") == 0


def test_the_scrape_gauge_registry_takes_a_new_gauge_and_skips_a_failing_one(client):
    from app.metrics import gauges

    def broken(now):
        raise RuntimeError("boom")
    gauges.register_gauge("wuyi_test_backlog", "a test backlog", lambda now: 7)
    gauges.register_gauge("wuyi_test_broken", "fails", broken)
    try:
        found = scrape(client)
        assert value(found, "wuyi_test_backlog") == 7
        assert ("wuyi_test_broken", ()) not in found
        assert value(found, "wuyi_jobs_due") == 0          # the others still answer
    finally:
        gauges.GAUGES.pop("wuyi_test_backlog")
        gauges.GAUGES.pop("wuyi_test_broken")


# --- the request id and JSON logs ----------------------------------------------------------------

def test_a_request_id_is_kept_when_well_formed_and_made_otherwise(client):
    kept = client.get("/healthz", headers={"X-Request-ID": "abc-123.x"})
    assert kept.headers["X-Request-ID"] == "abc-123.x"
    made = client.get("/healthz")
    assert len(made.headers["X-Request-ID"]) == 32
    assert made.headers["X-Request-ID"] != client.get("/healthz").headers["X-Request-ID"]
    for bad in ("has space", "x" * 129, "<script>", "a\u4e2d"):
        replaced = client.get("/healthz", headers={"X-Request-ID": bad.encode("utf-8").decode("latin-1")})
        assert replaced.headers["X-Request-ID"] != bad
        assert len(replaced.headers["X-Request-ID"]) == 32


def test_json_logs_carry_the_request_id_on_every_line_of_the_request(app, client):
    import io

    from app.metrics import JsonFormatter
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    request_log = logging.getLogger("wuyi.request")
    request_log.addHandler(handler)
    request_log.setLevel(logging.INFO)
    app.config["LOG_FORMAT"] = "json"
    try:
        client.get("/healthz", headers={"X-Request-ID": "req-42"})
        client.get("/api/v1/tasks/7")
    finally:
        app.config["LOG_FORMAT"] = "text"
        request_log.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert first["request_id"] == "req-42"
    assert first["endpoint"] == "health.healthz" and first["status"] == 200 and first["method"] == "GET"
    assert first["level"] == "info" and first["message"] == "request" and "ts" in first
    assert second["endpoint"] == "api_tasks.get_task" and second["status"] == 401
    assert len(second["request_id"]) == 32


def test_text_logs_by_default_write_no_request_lines(app, client, caplog):
    assert app.config["LOG_FORMAT"] == "text"
    with caplog.at_level(logging.INFO, logger="wuyi.request"):
        client.get("/healthz")
    assert not [r for r in caplog.records if r.name == "wuyi.request"]


def test_the_json_formatter_puts_an_exception_on_its_line():
    from app.metrics import JsonFormatter
    try:
        raise ValueError("bad")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("job",), __import__("sys").exc_info())
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "failed job" and line["level"] == "error"
    assert "ValueError: bad" in line["exc"]
    assert "request_id" not in line
