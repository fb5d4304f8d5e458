"""The short form of bench/cluster.py on PostgreSQL (#16 §4): 3 gunicorn nodes (2 workers x 4
threads), 2 dispatchers, a locust mixed day of a few hundred requests with one SIGKILL of a
gunicorn worker and one of a dispatcher holding claimed jobs, then the end checks and a burst of
timer jobs across both dispatchers. Behaviour only: the lag figures are the bench's (bench/README.md).

Runs on TEST_DATABASE_URL's server, in a database of its own; skipped without it (CI sets it)."""
from __future__ import annotations

import importlib.util
import os
import sys

import pytest

from tests.conftest import PROJECT

pytestmark = pytest.mark.slow


def _bench():
    spec = importlib.util.spec_from_file_location("cluster_bench", PROJECT / "bench" / "cluster.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["cluster_bench"] = module          # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not (os.environ.get("TEST_DATABASE_URL") or "").startswith("postgresql"),
                    reason="the cluster runs on PostgreSQL: set TEST_DATABASE_URL")
def test_the_short_cluster_run_keeps_every_invariant_through_a_sigkill_of_each():
    cluster = _bench()
    opts = cluster.Options(**cluster.SHORT, server_url=os.environ["TEST_DATABASE_URL"],
                           targets={"timer_p95": float("inf"), "timer_max": float("inf")})
    report = cluster.run(opts)
    cluster.print_report(report)
    assert report["errors"] == 0, [r for r in report["status_counts"] if r["status"] >= 400 and r["status"] != 409]
    assert report["locust_failures"] == 0
    total = sum(e["requests"] for e in report["endpoints"] if e["name"] == "Aggregated")
    assert 200 <= total <= cluster.SHORT["max_requests"] + 50          # a few hundred, bounded
    assert sum(e["requests"] for e in report["endpoints"] if e["name"] == "POST /tasks/[id]/complete") > 0
    for name, check in report["checks"].items():
        assert check["ok"], (name, check)
        assert check["checked"] is None or check["checked"] > 0, name
    kinds = [k["what"] for k in report["kills"]]
    assert kinds.count("gunicorn worker") == 1 and kinds.count("dispatcher") == 1, report["kills"]
    lease = report["lease_takeover"]
    assert lease["held_by_killed"] > 0                                 # it died holding claims
    assert lease["held_taken_after_lease"] == lease["held_by_killed"]  # the other ran them, after the lease
    assert lease["fired_once"] == lease["burst_jobs"] and lease["fired_twice"] == 0
    burst = report["timer_burst"]
    assert burst["fired_once"] == burst["jobs"] and burst["fired_twice_or_more"] == 0 and burst["not_fired"] == 0
    assert all(n > 0 for n in burst["by_dispatcher"].values()) and len(burst["by_dispatcher"]) == 2
