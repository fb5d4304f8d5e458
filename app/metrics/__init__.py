"""Observability: /metrics in the Prometheus format, the request id, JSON logs.

- Instruments (app/metrics/instruments.py) count in each process; under gunicorn with
  PROMETHEUS_MULTIPROC_DIR (see gunicorn.conf.py) every worker writes to that directory and the
  scrape adds the workers up (prometheus_client's multiprocess mode).
- Scrape-time gauges (app/metrics/gauges.py) are queries, run by whichever worker answers.
- /metrics wants `Authorization: Bearer $METRICS_TOKEN` when METRICS_TOKEN is set; without a token
  it answers loopback clients only (127.0.0.1, ::1), in every environment.
- Every request gets an id: a well-formed incoming X-Request-ID is kept, else a new one; it is
  sent back in X-Request-ID and, with LOG_FORMAT=json, is on every log line of the request.
"""
from __future__ import annotations

import hmac
import importlib
import json
import logging
import os
import re
import time
import uuid
from datetime import datetime, timezone

from flask import Blueprint, Flask, Response, current_app, g, has_request_context, jsonify, request

bp = Blueprint("metrics", __name__)
log = logging.getLogger("wuyi.request")

REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}


# --- completions (called by app.tasks after the commit) --------------------------------------------

def count_completion(process_key: str) -> None:
    from app.metrics.instruments import COMPLETIONS
    COMPLETIONS.labels(process=process_key).inc()


def count_dispatched(kind: str, outcome: str, lag_seconds: float | None) -> None:
    from app.metrics.instruments import DISPATCH_LAG, JOBS_RUN
    JOBS_RUN.labels(kind=kind, outcome=outcome).inc()
    if lag_seconds is not None:
        DISPATCH_LAG.labels(kind=kind).observe(max(0.0, lag_seconds))


def count_claimed(n: int) -> None:
    from app.metrics.instruments import JOBS_CLAIMED
    if n:
        JOBS_CLAIMED.inc(n)


# --- the scrape --------------------------------------------------------------------------------

class ScrapeGaugeCollector:
    """Yields the registered scrape-time gauges (app/metrics/gauges.py), each from one query."""

    def __init__(self, now: datetime):
        self.now = now

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        from app.extensions import db
        from app.metrics.gauges import GAUGES
        for gauge in list(GAUGES.values()):
            try:
                values = gauge.read(self.now)
            except Exception:  # noqa: BLE001 - one bad gauge never fails the scrape
                db.session.rollback()
                current_app.logger.exception("metrics gauge %s failed", gauge.name)
                continue
            family = GaugeMetricFamily(gauge.name, gauge.help, labels=list(gauge.labels) or None)
            if isinstance(values, dict):
                for labels, value in sorted(values.items()):
                    family.add_metric(list(labels), value)
            else:
                family.add_metric([], float(values))
            yield family
        db.session.rollback()


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir")


def render_metrics(now: datetime | None = None) -> bytes:
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client import multiprocess

    importlib.import_module("app.metrics.instruments")   # the instruments exist before the first scrape
    now = now or datetime.now(timezone.utc)
    gauges = CollectorRegistry(auto_describe=False)
    gauges.register(ScrapeGaugeCollector(now))
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        counted = generate_latest(registry)
    else:
        counted = generate_latest(REGISTRY)
    return counted + generate_latest(gauges)


def _refused(status: int, code: str, message: str):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


@bp.get("/metrics")
def metrics():
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        header = request.headers.get("Authorization", "")
        given = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if not given or not hmac.compare_digest(given.encode(), token.encode()):
            return _refused(401, "unauthorized", "需要有效的监控令牌（METRICS_TOKEN）")
    elif request.remote_addr not in LOOPBACK:
        return _refused(403, "forbidden", "未设置监控令牌时，仅允许本机访问监控指标")
    from prometheus_client import CONTENT_TYPE_LATEST
    return Response(render_metrics(), mimetype=None, headers={"Content-Type": CONTENT_TYPE_LATEST})


# --- the request id and per-request measurement ---------------------------------------------------

def current_request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


def _before():
    incoming = request.headers.get("X-Request-ID", "")
    g.request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _after(response):
    started = g.pop("request_started", None)
    rule = request.url_rule
    endpoint = rule.endpoint if rule is not None else "unmatched"
    response.headers["X-Request-ID"] = g.get("request_id", "")
    if started is None:
        return response
    elapsed = time.perf_counter() - started
    if endpoint != "metrics.metrics":
        from app.metrics.instruments import REQUEST_LATENCY, REQUESTS
        REQUEST_LATENCY.labels(endpoint=endpoint, method=request.method).observe(elapsed)
        REQUESTS.labels(endpoint=endpoint, method=request.method, status=str(response.status_code)).inc()
    if current_app.config.get("LOG_FORMAT") == "json":
        log.info("request", extra={"fields": {
            "method": request.method, "path": request.path, "endpoint": endpoint,
            "status": response.status_code, "duration_ms": round(elapsed * 1000, 2),
            "remote_addr": request.remote_addr}})
    return response


# --- JSON logs --------------------------------------------------------------------------------

class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, and any `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                 "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(),
                 "pid": record.process}
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            entry["request_id"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_json_logging(level: int = logging.INFO) -> None:
    """Route the root logger through one JSON handler on stderr (idempotent)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if getattr(handler, "_wuyi_json", False):
            return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler._wuyi_json = True
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def register_metrics(app: Flask) -> None:
    app.before_request(_before)
    app.after_request(_after)
    app.register_blueprint(bp)
    if app.config.get("LOG_FORMAT") == "json":
        configure_json_logging()
        app.logger.handlers.clear()     # Flask's default handler would print the same line again
        app.logger.propagate = True
