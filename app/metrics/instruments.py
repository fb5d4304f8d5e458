"""The process-local instruments (counters, histograms). In multiprocess mode (gunicorn with
PROMETHEUS_MULTIPROC_DIR set before the first import of prometheus_client) every process writes its
values to files in that directory and /metrics adds them up; otherwise they live in this process.

Only this module creates them, once, at import: importing it twice never registers twice."""
from __future__ import annotations

from prometheus_client import Counter, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)

REQUEST_LATENCY = Histogram(
    "wuyi_http_request_duration_seconds", "HTTP request latency by endpoint (the Flask url rule's endpoint)",
    ["endpoint", "method"], buckets=LATENCY_BUCKETS)
REQUESTS = Counter(
    "wuyi_http_requests", "HTTP requests by endpoint, method and status", ["endpoint", "method", "status"])
COMPLETIONS = Counter("wuyi_task_completions", "Human tasks completed, by process", ["process"])
JOBS_CLAIMED = Counter("wuyi_dispatcher_jobs_claimed", "Timer jobs claimed by a dispatcher")
JOBS_RUN = Counter("wuyi_dispatcher_jobs", "Timer jobs run by a dispatcher, by kind and outcome",
                   ["kind", "outcome"])
DISPATCH_LAG = Histogram(
    "wuyi_dispatcher_lag_seconds", "Seconds from a job's due time to the end of its run", ["kind"],
    buckets=LAG_BUCKETS)
