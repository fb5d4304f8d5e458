"""/metrics under a real gunicorn with two workers (prometheus_client's multiprocess mode): the
counts of both workers add up in one scrape, whichever worker answers it, and a killed worker's
counts stay in the sums (gunicorn.conf.py's child_exit hook)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.server.conftest import Server, free_port, scratch_database_url

pytestmark = pytest.mark.slow
PROJECT = Path(__file__).resolve().parent.parent.parent
HEALTH = ("wuyi_http_requests_total", (("endpoint", "health.healthz"), ("method", "GET"), ("status", "200")))


def scrape(base: str, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    resp = requests.get(base + "/metrics", headers=headers, timeout=30)
    assert resp.status_code == 200, resp.text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(resp.text) for s in family.samples}


def worker_pids(master: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)], capture_output=True, text=True).stdout
    return {int(p) for p in out.split()}


@pytest.fixture
def gunicorn(tmp_path):
    srv = Server(scratch_database_url(tmp_path, "wuyi_metrics_test"), tmp_path)
    done = srv.flask("db", "upgrade")
    assert done.returncode == 0, done.stderr
    port = free_port()
    prom = tmp_path / "prometheus"
    prom.mkdir()
    env = {**srv.env, "PROMETHEUS_MULTIPROC_DIR": str(prom), "LOG_FORMAT": "json"}
    log = open(tmp_path / "gunicorn.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-w", "2",
                             "--threads", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"],
                            cwd=PROJECT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()
            try:
                if requests.get(base + "/healthz", timeout=5).status_code == 200 and len(worker_pids(proc.pid)) == 2:
                    break
            except requests.RequestException:     # still booting (a loaded machine)
                pass
            time.sleep(0.2)
        else:
            raise AssertionError((tmp_path / "gunicorn.log").read_text())
        yield base, proc, prom, tmp_path / "gunicorn.log"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()


def test_two_workers_counts_add_up_in_one_scrape_and_survive_a_killed_worker(gunicorn):
    base, proc, prom, log = gunicorn
    before = scrape(base).get(HEALTH, 0.0)
    pids = worker_pids(proc.pid)

    def writers() -> set[int]:
        return {int(f.stem.rsplit("_", 1)[1]) for f in prom.glob("counter_*.db")} & pids
    n = 0
    deadline = time.monotonic() + 90
    with ThreadPoolExecutor(8) as pool:     # concurrent, new connections, until both workers served some
        while n < 120 or (len(writers()) < 2 and time.monotonic() < deadline):
            codes = list(pool.map(lambda _: requests.get(base + "/healthz", timeout=30).status_code, range(40)))
            assert codes == [200] * 40
            n += 40
    assert len(writers()) == 2, (writers(), pids)       # each worker counted some of them
    for _ in range(4):                                   # whichever worker answers, the sum is the same
        assert scrape(base).get(HEALTH, 0.0) - before == n
    # the JSON log lines came from both workers and carry request ids
    import json
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    health = [line for line in lines if line.get("endpoint") == "health.healthz"]
    assert len({line["pid"] for line in health}) == 2
    assert all(len(line["request_id"]) == 32 for line in health)
    victim = sorted(pids)[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (victim in worker_pids(proc.pid) or len(worker_pids(proc.pid)) < 2):
        time.sleep(0.2)
    assert victim not in worker_pids(proc.pid)
    assert scrape(base).get(HEALTH, 0.0) - before == n  # the dead worker's counts are kept


def test_under_gunicorn_the_token_protects_metrics(tmp_path):
    srv = Server(scratch_database_url(tmp_path, "wuyi_metrics_token"), tmp_path)
    assert srv.flask("db", "upgrade").returncode == 0
    port = free_port()
    env = {**srv.env, "METRICS_TOKEN": "tok-123"}
    with open(tmp_path / "g.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-w", "2",
                                 "-b", f"127.0.0.1:{port}", "wsgi:app"], cwd=PROJECT, env=env, stdout=log,
                                stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if requests.get(base + "/healthz", timeout=5).ok:
                        break
                except requests.RequestException:
                    time.sleep(0.2)
            assert requests.get(base + "/metrics", timeout=10).status_code == 401
            assert ("wuyi_jobs_due", ()) in scrape(base, "tok-123")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
