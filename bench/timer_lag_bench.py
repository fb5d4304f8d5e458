"""Timer firing lag under a real server with its dispatcher: how long after its due time does a
BPMN boundary timer's escalation task appear? Prints p50/p95/max and writes JSON.

    .venv/bin/python bench/timer_lag_bench.py [-n 40] [--interval 2]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
DIAGRAM = ROOT / "tests" / "fixtures" / "bpmn" / "timer_2s.bpmn"
FORMS = ROOT / "tests" / "fixtures" / "forms"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=40, help="instances (timers)")
    parser.add_argument("--interval", type=float, default=2.0, help="DISPATCH_INTERVAL_SECONDS")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wuyi-lag-"))
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp / 'lag.sqlite'}", "SECRET_KEY": "bench",
           "FORMS_DIR": str(FORMS), "DISPATCH_INTERVAL_SECONDS": str(args.interval), "WUYI_ENV": "development"}
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    for cmd in (["db", "upgrade"], ["seed", "demo"], ["bpmn", "deploy", str(DIAGRAM)]):
        subprocess.run(flask + cmd, cwd=ROOT, env=env, check=True, capture_output=True)
    log = open(tmp / "server.log", "w")
    server = subprocess.Popen(flask + ["serve", "--port", str(port)], cwd=ROOT, env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(base + "/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        session = requests.Session()
        token = session.post(base + "/api/v1/auth/token", json={"username": "admin", "password": "demo12345"}).json()
        headers = {"Authorization": f"Bearer {token['token']}"}
        instances = []
        for i in range(args.n):
            started = session.post(base + "/api/v1/process-definitions/timer_2s/start", headers=headers,
                                   json={"data": {}}).json()
            due = datetime.fromisoformat(started["instance"]["started_at"]).timestamp() + 2
            instances.append((started["instance"]["id"], due))
            time.sleep(0.05 + (i % 7) * 0.03)       # spread the due times over the dispatcher's ticks
        lags: dict[int, float] = {}
        deadline = time.time() + 30
        while len(lags) < len(instances) and time.time() < deadline:
            for instance_id, due in instances:
                if instance_id in lags:
                    continue
                body = session.get(f"{base}/api/v1/process-instances/{instance_id}", headers=headers).json()
                tasks = [t for t in body["open_tasks"] if t["bpmn_id"] == "escalate"]
                if tasks:
                    lags[instance_id] = datetime.fromisoformat(tasks[0]["created_at"]).timestamp() - due
            time.sleep(0.05)
    finally:
        server.terminate()
        server.wait(timeout=15)
        log.close()
    values = list(lags.values())
    result = {
        "when": datetime.now(timezone.utc).isoformat(), "machine": {"platform": platform.platform(),
                                                                  "python": platform.python_version(),
                                                                  "cpus": os.cpu_count()},
        "instances": args.n, "fired": len(values), "dispatch_interval_s": args.interval,
        "lag_s": {"p50": statistics.median(values), "p95": percentile(values, 95), "max": max(values),
                  "min": min(values)} if values else None,
    }
    print(f"timer firing lag, {len(values)}/{args.n} timers (PT2S boundary timers, dispatcher every "
          f"{args.interval:g} s, SQLite, flask serve):")
    if values:
        lag = result["lag_s"]
        print(f"  p50 {lag['p50'] * 1000:.0f} ms   p95 {lag['p95'] * 1000:.0f} ms   max {lag['max'] * 1000:.0f} ms"
              f"   (min {lag['min'] * 1000:.0f} ms)")
    out = ROOT / "bench" / "results" / "timer_lag.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"JSON written to {out}")


if __name__ == "__main__":
    main()
