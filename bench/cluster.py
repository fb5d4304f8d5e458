"""Several nodes on one PostgreSQL under a mixed day of load (issue #16 §4).

Starts a throwaway PostgreSQL (initdb in a temp dir, as the postgres user when run as root, on a
free port; or a fresh database on the server of --server-url), 3 gunicorn processes (2 workers x 4
threads each, gunicorn.conf.py) on different loopback ports, 2 `flask --app wsgi scheduler run`
dispatchers (a short JOB_LOCK_SECONDS), and a headless locust load (bench/cluster_locustfile.py;
bounded in users, time and requests; loopback only). In the middle of the load it SIGKILLs a
gunicorn worker and a dispatcher (the latter while it holds claimed jobs). Then it checks the
database (see `check_database`), and fires N timer jobs due within a minute across both
dispatchers, measuring each one's lag (its audit time minus its due time).

    .venv/bin/python bench/cluster.py                 # the full run: 40 users, 180 s, 10,000 timers
    .venv/bin/python bench/cluster.py --short         # the CI form: a few hundred requests, 300 timers
    .venv/bin/python bench/cluster.py --server-url postgresql+psycopg://postgres@127.0.0.1:55509/postgres

Prints requests/s, p50/p95/p99 per endpoint, errors, the end checks and the timer lag; writes JSON
to bench/results/cluster.json (--out). Exits 1 when an end check or a target fails.
"""
from __future__ import annotations

import argparse
import csv
import glob
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIXTURES = ROOT / "tests" / "fixtures"
PY = sys.executable
PROBE_GROUP = "intake"          # the probe tasks' candidate group: one member, so one notification each


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))] if ordered else 0.0


def log(msg: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


# --- PostgreSQL ---------------------------------------------------------------------------------

class ThrowawayPostgres:
    """initdb in a temp dir on a free port; as the postgres user when we are root. Stopped at exit."""

    def __init__(self, tmp: Path):
        self.bin = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: [int(x) for x in
                                                                              p.split("/")[4].split(".")])[-1]
        self.dir = Path(tempfile.mkdtemp(prefix="wuyi-cluster-pg-"))
        self.port = free_port()
        self.root = os.geteuid() == 0

    def _run(self, *cmd):
        full = (["runuser", "-u", "postgres", "--"] if self.root else []) + [f"{self.bin}/{cmd[0]}", *cmd[1:]]
        subprocess.run(full, check=True, capture_output=True, cwd="/")

    def start(self) -> str:
        if self.root:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.dir), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        self._run("pg_ctl", "-D", str(self.dir), "-l", str(self.dir / "server.log"), "-w", "-o",
                  f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                  f"-c max_connections=300 -c shared_buffers=256MB", "start")
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "wuyi_cluster")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/wuyi_cluster"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.dir), "-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


def fresh_database(server_url: str, name: str) -> str:
    """A new database on an existing server (the CI test: TEST_DATABASE_URL's server)."""
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    engine = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


# --- the processes ------------------------------------------------------------------------------

@dataclass
class Proc:
    name: str
    cmd: list[str]
    env: dict
    logdir: Path
    proc: subprocess.Popen | None = None
    starts: int = 0

    def start(self) -> "Proc":
        self._close_log()
        self.starts += 1
        self.log = open(self.logdir / f"{self.name}-{self.starts}.log", "w")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _close_log(self) -> None:
        if getattr(self, "log", None) is not None and not self.log.closed:
            self.log.close()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._close_log()

    def stop(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()

    def text(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return "".join(p.read_text(errors="replace") for p in sorted(self.logdir.glob(f"{self.name}-*.log")))


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return sorted(int(p) for p in out.split())


def wait_healthy(base: str, proc: Proc, workers: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise RuntimeError(f"{proc.name} exited:\n{proc.text()[-3000:]}")
        try:
            if requests.get(base + "/healthz", timeout=5).status_code == 200 and len(children(proc.pid)) >= workers:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{proc.name} did not come up:\n{proc.text()[-3000:]}")


# --- probe jobs (the timer burst and the dispatcher kill) ---------------------------------------

_APPS: list = []   # the apps this run opened on the cluster's database: their pools are closed at the end


def app_for(url: str):
    from app import create_app
    app = create_app({"SQLALCHEMY_DATABASE_URI": url})
    _APPS.append(app)
    return app


def close_apps() -> None:
    """Close the pooled connections of the checking apps (before the database is dropped), so none is
    left to be garbage-collected open."""
    from app.extensions import db
    while _APPS:
        with _APPS.pop().app_context():
            db.engine.dispose()


def carrier_instance(base: str) -> int:
    """An instance that carries the probe tasks (a message_wait instance, started by the admin)."""
    token = requests.post(base + "/api/v1/auth/token", json={"username": "admin", "password": "demo12345"},
                          timeout=30).json()["token"]
    r = requests.post(base + "/api/v1/process-definitions/message_wait/start", json={"data": {}},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)
    r.raise_for_status()
    return r.json()["instance"]["id"]


def insert_probe_jobs(app, carrier: int, due: list[datetime], label: str) -> list[int]:
    """One READY probe task per due time (offered to PROBE_GROUP, outside every inbox) and its
    yellow (sla_warn) timer job: running the job is the real escalation rung (a notification,
    an audit row, the task's SLA colour), in one transaction. Returns the job ids."""
    from app.deadlines.models import JobKind, JobStatus, TimerJob
    from app.extensions import db
    from app.processes.models import ProcessInstance
    from app.tasks.models import HumanTask, TaskStatus
    with app.app_context():
        inst = db.session.get(ProcessInstance, carrier)
        now = datetime.now(timezone.utc)
        rows = [{"instance_id": carrier, "case_id": inst.case_id, "process_key": "message_wait",
                 "spiff_task_id": str(uuid.uuid4()), "bpmn_id": f"bench_probe_{label}", "name": "压测探针",
                 "lane": None, "candidate_groups": [PROBE_GROUP], "form": None, "priority": 50,
                 "status": TaskStatus.READY, "created_at": now} for _ in due]
        ids = db.session.execute(sa.insert(HumanTask).returning(HumanTask.id), rows).scalars().all()
        jobs = [{"kind": JobKind.SLA_WARN, "instance_id": carrier, "human_task_id": task_id, "spiff_task_id": None,
                 "bpmn_id": f"bench_probe_{label}", "due_at": at, "status": JobStatus.PENDING, "attempts": 0,
                 "created_at": now} for task_id, at in zip(sorted(ids), due)]
        job_ids = db.session.execute(sa.insert(TimerJob).returning(TimerJob.id), jobs).scalars().all()
        db.session.commit()
        return sorted(job_ids)


def probe_results(app, job_ids: list[int]) -> dict:
    """Per probe job: its status, how many escalation audit rows its task has, and its lag."""
    from app.audit.models import AuditAction, AuditEvent
    from app.deadlines.models import TimerJob
    from app.extensions import db
    with app.app_context():
        job = TimerJob.__table__
        audit = AuditEvent.__table__
        rows = db.session.execute(
            sa.select(job.c.id, job.c.status, job.c.due_at, sa.func.count(audit.c.id), sa.func.min(audit.c.at))
            .select_from(job.outerjoin(audit, sa.and_(audit.c.human_task_id == job.c.human_task_id,
                                                      audit.c.action == AuditAction.ESCALATE)))
            .where(job.c.id.in_(job_ids)).group_by(job.c.id, job.c.status, job.c.due_at)).all()
        db.session.rollback()
    out = {"jobs": len(job_ids), "done": 0, "fired_once": 0, "fired_twice_or_more": 0, "not_fired": 0, "lags": []}
    for _id, status, due_at, audits, at in rows:
        out["done"] += status == "done"
        if audits == 1:
            out["fired_once"] += 1
            out["lags"].append((at - due_at).total_seconds())
        elif audits > 1:
            out["fired_twice_or_more"] += 1
        else:
            out["not_fired"] += 1
    return out


def held_by(app, pid: int) -> list[tuple[int, datetime]]:
    """Pending jobs claimed (lease not expired) by the dispatcher process `pid`."""
    from app.deadlines.models import JobStatus, TimerJob
    from app.extensions import db
    with app.app_context():
        now = datetime.now(timezone.utc)
        rows = db.session.execute(sa.select(TimerJob.id, TimerJob.locked_until).where(
            TimerJob.status == JobStatus.PENDING, TimerJob.locked_by.like(f"%:{pid}:%"),
            TimerJob.locked_until > now)).all()
        db.session.rollback()
        return [(r[0], r[1]) for r in rows]


# --- the end checks -----------------------------------------------------------------------------

def check_database(app, exclude_instances: set[int], settle_seconds: float) -> dict[str, dict]:
    """The invariants after the load (each: {"ok", "count", "detail"}):

    - no_task_completed_twice: no human task has two `complete` audit rows;
    - every_completion_audited: every completed human_task row has exactly one `complete` audit row,
      and every `complete` audit row's task is completed (no audit without its effect);
    - every_start_audited: every instance has exactly one `start` audit row;
    - no_instance_half_advanced: a running instance's stored engine state has exactly the READY
      user tasks its open human_task rows name (same spiff task ids), and an ended instance has no
      open human_task row;
    - every_due_timer_fired_once: no pending timer job is more than `settle_seconds` past due, no
      instance has two `timer` audit rows for the same boundary timer, and every timer_2s instance
      either completed its work before the timer (no timer row, no escalation task) or escalated
      exactly once (one timer row, its work cancelled, one escalation task);
    - no_failed_jobs_or_incidents.
    The probe tasks' carrier instance (exclude_instances) is left out of the state check only.
    """
    from app import engine
    from app.audit.models import AuditAction, AuditEvent
    from app.deadlines.models import Incident, JobStatus, TimerJob
    from app.extensions import db
    from app.processes.models import InstanceStatus, ProcessInstance
    from app.processes.versions import get_bundle
    from app.tasks.models import HumanTask, TaskStatus
    results: dict[str, dict] = {}

    def result(name, bad: list, total=None):
        results[name] = {"ok": not bad, "count": len(bad), "checked": total, "detail": bad[:10]}

    with app.app_context():
        s = db.session
        a, t = AuditEvent, HumanTask
        twice = s.execute(sa.select(a.human_task_id, sa.func.count()).where(a.action == AuditAction.COMPLETE)
                          .group_by(a.human_task_id).having(sa.func.count() > 1)).all()
        result("no_task_completed_twice", [tuple(r) for r in twice],
               s.execute(sa.select(sa.func.count()).where(a.action == AuditAction.COMPLETE)).scalar_one())
        completes = sa.select(a.human_task_id).where(a.action == AuditAction.COMPLETE)
        unaudited = s.execute(sa.select(t.id).where(t.status == TaskStatus.COMPLETED, t.id.not_in(completes))).scalars().all()
        orphan = s.execute(sa.select(a.human_task_id).where(a.action == AuditAction.COMPLETE).join(
            t, t.id == a.human_task_id).where(t.status != TaskStatus.COMPLETED)).scalars().all()
        result("every_completion_audited", [("no audit", i) for i in unaudited] + [("audit, task not completed", i)
                                                                                  for i in orphan],
               s.execute(sa.select(sa.func.count()).where(t.status == TaskStatus.COMPLETED)).scalar_one())
        starts = dict(s.execute(sa.select(a.instance_id, sa.func.count()).where(a.action == AuditAction.START)
                                .group_by(a.instance_id)).all())
        instances = s.execute(sa.select(ProcessInstance.id, ProcessInstance.status, ProcessInstance.definition_id)
                              ).all()
        result("every_start_audited", [(i, starts.get(i, 0)) for i, *_ in instances if starts.get(i, 0) != 1],
               len(instances))
        open_rows: dict[int, set[str]] = {}
        for instance_id, spiff_id in s.execute(sa.select(t.instance_id, t.spiff_task_id).where(
                t.status == TaskStatus.READY)):
            open_rows.setdefault(instance_id, set()).add(spiff_id)
        half = []
        for instance_id, status, definition_id in instances:
            if instance_id in exclude_instances:
                continue
            rows = open_rows.get(instance_id, set())
            if status != InstanceStatus.RUNNING:
                if rows and status in (InstanceStatus.COMPLETED, InstanceStatus.CANCELLED):
                    half.append((instance_id, status, "ended with open task rows", sorted(rows)))
                continue
            state = s.execute(sa.select(ProcessInstance.state).where(ProcessInstance.id == instance_id)).scalar_one()
            ready = set(engine.read(get_bundle(definition_id).process, None, None, state)["task_data"])
            if ready != rows:
                half.append((instance_id, "engine", sorted(ready), "rows", sorted(rows)))
        result("no_instance_half_advanced", half, len(instances))
        now = datetime.now(timezone.utc)
        late = s.execute(sa.select(TimerJob.id, TimerJob.kind, TimerJob.due_at).where(
            TimerJob.status == JobStatus.PENDING, TimerJob.due_at < now - timedelta(seconds=settle_seconds))).all()
        double_timer = s.execute(sa.select(a.instance_id, a.bpmn_id, sa.func.count()).where(
            a.action == AuditAction.TIMER).group_by(a.instance_id, a.bpmn_id).having(sa.func.count() > 1)).all()
        timer_bad = [("late job", r.id, r.kind, r.due_at.isoformat()) for r in late] + \
            [("timer twice", *r) for r in double_timer]
        timer_ids = s.execute(sa.text(
            "SELECT i.id, i.started_at FROM process_instance i JOIN process_definition d "
            "ON d.id = i.definition_id WHERE d.key = 'timer_2s'")).all()
        fired = dict(s.execute(sa.select(a.instance_id, sa.func.count()).where(a.action == AuditAction.TIMER)
                               .group_by(a.instance_id)).all())
        tasks_of: dict[int, dict[str, list[str]]] = {}
        for instance_id, bpmn_id, status in s.execute(sa.select(t.instance_id, t.bpmn_id, t.status).where(
                t.process_key == "timer_2s")):
            tasks_of.setdefault(instance_id, {}).setdefault(bpmn_id, []).append(status)
        for instance_id, started_at in timer_ids:
            mine = tasks_of.get(instance_id, {})
            work, escalate, timers = mine.get("work", []), mine.get("escalate", []), fired.get(instance_id, 0)
            due = (started_at if started_at.tzinfo else started_at.replace(tzinfo=timezone.utc)) + timedelta(seconds=2)
            if work == [TaskStatus.COMPLETED] and not escalate and timers == 0:
                continue                                   # done before its timer
            if work == [TaskStatus.CANCELLED] and len(escalate) == 1 and timers == 1:
                continue                                   # escalated once
            if work == [TaskStatus.READY] and not escalate and timers == 0 and due > now - timedelta(
                    seconds=settle_seconds):
                continue                                   # not due yet (or within the settling time)
            timer_bad.append(("timer_2s", instance_id, {"work": work, "escalate": escalate, "timer rows": timers}))
        result("every_due_timer_fired_once", timer_bad, len(timer_ids))
        failed = s.execute(sa.select(TimerJob.id, TimerJob.last_error).where(TimerJob.status == JobStatus.FAILED)).all()
        incidents = s.execute(sa.select(Incident.id, Incident.message)).all()
        result("no_failed_jobs_or_incidents", [("failed job", *r) for r in failed] +
               [("incident", *r) for r in incidents])
        s.rollback()
    return results


# --- locust ------------------------------------------------------------------------------------

def run_locust(hosts: list[str], users: int, seconds: int, max_requests: int, tmp: Path, env: dict) -> Proc:
    spawn = max(1, users // 5)
    cmd = [PY, "-m", "locust", "-f", str(ROOT / "bench" / "cluster_locustfile.py"), "--headless",
           "-u", str(users), "-r", str(spawn), "-t", f"{seconds}s", "--host", hosts[0],
           "--csv", str(tmp / "locust"), "--only-summary", "--stop-timeout", "30", "--exit-code-on-error", "0",
           "--loglevel", "WARNING"]
    lenv = {**env, "WUYI_HOSTS": ",".join(hosts), "WUYI_MAX_REQUESTS": str(max_requests),
            "WUYI_STATUS_FILE": str(tmp / "status.json")}
    return Proc("locust", cmd, lenv, tmp).start()


def locust_stats(tmp: Path) -> list[dict]:
    rows = []
    with open(tmp / "locust_stats.csv") as f:
        for row in csv.DictReader(f):
            rows.append({"name": row["Name"], "requests": int(row["Request Count"]),
                         "failures": int(row["Failure Count"]), "rps": float(row["Requests/s"]),
                         "p50": float(row["50%"] or 0), "p95": float(row["95%"] or 0), "p99": float(row["99%"] or 0),
                         "max": float(row["Max Response Time"] or 0)})
    return rows


# --- the run -----------------------------------------------------------------------------------

@dataclass
class Options:
    users: int = 40
    seconds: int = 180
    max_requests: int = 20000
    timers: int = 10000
    timer_window: float = 60.0
    kill_gunicorn: int = 1
    kill_dispatcher: int = 1
    lock_seconds: int = 5
    nodes: int = 3
    workers: int = 2
    threads: int = 4
    dispatchers: int = 2
    dispatch_threads: int = 12
    server_url: str | None = None
    keep: bool = False
    timers_only: bool = False      # only the timer burst (the dispatchers' capacity alone)
    targets: dict = field(default_factory=lambda: {"timer_p95": 1.0, "timer_max": 2.0})


SHORT = dict(users=8, seconds=35, max_requests=450, timers=300, timer_window=10.0)


def run(opts: Options) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="wuyi-cluster-"))
    report: dict = {"when": datetime.now(timezone.utc).isoformat(), "options": {
        k: v for k, v in opts.__dict__.items() if k not in ("server_url", "targets")},
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_avg_at_start": os.getloadavg()}, "logs": str(tmp)}
    with ExitStack() as stack:
        if opts.server_url:
            name = f"wuyi_cluster_{os.getpid()}"
            url = fresh_database(opts.server_url, name)
            stack.callback(drop_database, opts.server_url, name)
            report["postgres"] = "a fresh database on " + sa.engine.make_url(opts.server_url).render_as_string()
        else:
            pg = ThrowawayPostgres(tmp)
            url = pg.start()
            stack.callback(pg.stop)
            report["postgres"] = f"throwaway initdb on port {pg.port} (fsync=off)"
        env = {k: v for k, v in os.environ.items() if k not in ("TEST_DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")}
        env.update({"DATABASE_URL": url, "WUYI_ENV": "development", "SECRET_KEY": "cluster-bench",
                    "JOB_LOCK_SECONDS": str(opts.lock_seconds), "DISPATCH_INTERVAL_SECONDS": "1",
                    "PYTHONUNBUFFERED": "1", "API_TOKEN_TTL_HOURS": "12",
                    "DISPATCH_THREADS": str(opts.dispatch_threads)})
        flask = [PY, "-m", "flask", "--app", "wsgi"]
        log("database: upgrade, seed demo, deploy bpmn/ and the timer/message fixtures")
        for cmd, extra in ((["db", "upgrade"], {}), (["seed", "demo"], {}),
                           (["bpmn", "deploy", str(FIXTURES / "bpmn" / "timer_2s.bpmn"),
                             str(FIXTURES / "bpmn" / "message_wait.bpmn")], {"FORMS_DIR": str(FIXTURES / "forms")})):
            done = subprocess.run(flask + cmd, cwd=ROOT, env={**env, **extra}, capture_output=True, text=True)
            if done.returncode:
                raise RuntimeError(f"{cmd}: {done.stdout}\n{done.stderr}")
        app = app_for(url)
        ports = [free_port() for _ in range(opts.nodes)]
        hosts = [f"http://127.0.0.1:{p}" for p in ports]
        nodes = [Proc(f"gunicorn{i + 1}", [PY, "-m", "gunicorn", "-c", "gunicorn.conf.py", "-w", str(opts.workers),
                                           "--threads", str(opts.threads), "-b", f"127.0.0.1:{p}", "wsgi:app"],
                      env, tmp) for i, p in enumerate(ports)]
        prom = {f"dispatcher{i + 1}": tmp / f"prometheus-dispatcher{i + 1}" for i in range(opts.dispatchers)}
        for path in prom.values():
            path.mkdir()
        dispatchers = [Proc(name, flask + ["scheduler", "run"], {**env, "PROMETHEUS_MULTIPROC_DIR": str(path)}, tmp)
                       for name, path in prom.items()]
        for proc in nodes + dispatchers:
            proc.start()
            stack.callback(proc.stop)
        for base, node in zip(hosts, nodes):
            wait_healthy(base, node, opts.workers)
        log(f"{opts.nodes} gunicorn nodes up on {', '.join(hosts)}; {opts.dispatchers} dispatchers")
        carrier = carrier_instance(hosts[0])
        report["probe_carrier_instance"] = carrier

        if opts.timers_only:
            report.update(endpoints=[], status_counts=[], errors=0, conflicts_409=0, refused_connections=0,
                          locust_failures=0, checks={}, kills=[], load_seconds=0)
        else:
            # --- the mixed day, with the kills in the middle -------------------------------------
            started = time.monotonic()
            locust = run_locust(hosts, opts.users, opts.seconds, opts.max_requests, tmp, env)
            stack.callback(locust.stop)
            kills: list[dict] = []
            lease_probe: dict = {}
            plan = sorted([(opts.seconds * (0.3 + 0.4 * i / max(1, opts.kill_gunicorn)), "gunicorn")
                           for i in range(opts.kill_gunicorn)] +
                          [(opts.seconds * (0.5 + 0.3 * i / max(1, opts.kill_dispatcher)), "dispatcher")
                           for i in range(opts.kill_dispatcher)])
            for at, what in plan:
                while locust.alive() and time.monotonic() - started < at:
                    time.sleep(0.2)
                if not locust.alive():
                    break
                if what == "gunicorn":
                    node = nodes[len(kills) % len(nodes)]
                    victim = children(node.pid)[0]
                    os.kill(victim, signal.SIGKILL)
                    kills.append({"what": "gunicorn worker", "node": node.name, "pid": victim,
                                  "at_s": round(time.monotonic() - started, 1)})
                    log(f"SIGKILL gunicorn worker {victim} of {node.name}")
                else:
                    alive = [d for d in dispatchers if d.alive()]
                    if len(alive) < 2:
                        continue
                    victim = alive[0]
                    burst = [datetime.now(timezone.utc)] * 400
                    lease_probe.setdefault("job_ids", []).extend(insert_probe_jobs(app, carrier, burst, "lease"))
                    held, deadline = [], time.monotonic() + 20
                    while not held and time.monotonic() < deadline:
                        held = held_by(app, victim.pid)
                    victim.kill()
                    killed_at = datetime.now(timezone.utc)
                    lease_probe.setdefault("held", []).extend(
                        {"job": j, "lease_until": u.isoformat(), "killed_at": killed_at.isoformat()} for j, u in held)
                    kills.append({"what": "dispatcher", "name": victim.name, "pid": victim.pid,
                                  "held_jobs": len(held), "at_s": round(time.monotonic() - started, 1)})
                    log(f"SIGKILL {victim.name} ({victim.pid}) holding {len(held)} claimed jobs")
            locust.proc.wait(timeout=opts.seconds + 120)
            locust.log.close()
            report["load_seconds"] = round(time.monotonic() - started, 1)
            report["kills"] = kills
            log("load done; settling the timers")
            time.sleep(opts.lock_seconds + 6)     # a killed dispatcher's lease runs out; the last timers fire
            stats = locust_stats(tmp)
            status = json.loads((tmp / "status.json").read_text()) if (tmp / "status.json").exists() else []
            report["endpoints"] = stats
            report["status_counts"] = status
            report["errors"] = sum(r["count"] for r in status if r["status"] >= 400 and r["status"] != 409)
            report["conflicts_409"] = sum(r["count"] for r in status if r["status"] == 409)
            report["refused_connections"] = sum(r["count"] for r in status if r["status"] == 0)
            report["locust_failures"] = sum(r["failures"] for r in stats if r["name"] != "Aggregated")
            report["checks"] = check_database(app, {carrier}, settle_seconds=opts.lock_seconds + 5)
            if lease_probe:
                held_ids = [h["job"] for h in lease_probe["held"]]
                res = probe_results(app, lease_probe["job_ids"])
                from app.audit.models import AuditAction, AuditEvent
                from app.deadlines.models import TimerJob
                from app.extensions import db
                with app.app_context():
                    taken = db.session.execute(sa.select(TimerJob.id, sa.func.min(AuditEvent.at)).join(
                        AuditEvent, sa.and_(AuditEvent.human_task_id == TimerJob.human_task_id,
                                            AuditEvent.action == AuditAction.ESCALATE))
                        .where(TimerJob.id.in_(held_ids)).group_by(TimerJob.id)).all() if held_ids else []
                    db.session.rollback()
                until = {h["job"]: datetime.fromisoformat(h["lease_until"]) for h in lease_probe["held"]}
                after_lease = [j for j, at in taken if at >= until[j]]
                report["lease_takeover"] = {
                    "burst_jobs": res["jobs"], "fired_once": res["fired_once"], "fired_twice": res["fired_twice_or_more"],
                    "not_fired": res["not_fired"], "held_by_killed": len(held_ids), "held_taken_by_other": len(taken),
                    "held_taken_after_lease": len(after_lease),
                    "ok": res["fired_once"] == res["jobs"] and len(after_lease) == len(held_ids) > 0}
        for d in dispatchers:
            if not d.alive():
                d.start()                    # two dispatchers again for the timer burst
        time.sleep(3)

        # --- N timer jobs due within the window, across both dispatchers ---------------------
        if opts.timers:
            t0 = datetime.now(timezone.utc) + timedelta(seconds=8)
            due = sorted(t0 + timedelta(seconds=random.uniform(0, opts.timer_window)) for _ in range(opts.timers))
            log(f"{opts.timers} timer jobs due within {opts.timer_window:g} s from {t0.time()}")
            before = dispatcher_counts(prom)
            ids = insert_probe_jobs(app, carrier, due, "burst")
            time.sleep(max(0.0, (due[-1] - datetime.now(timezone.utc)).total_seconds()))   # no polling meanwhile
            end = due[-1] + timedelta(seconds=opts.lock_seconds + 10)
            while datetime.now(timezone.utc) < end:
                time.sleep(1)
                res = probe_results(app, ids)
                if res["fired_once"] + res["fired_twice_or_more"] == len(ids):
                    break
            res = probe_results(app, ids)
            lags = res.pop("lags")
            report["timer_burst"] = {**res, "window_s": opts.timer_window,
                                     "lag_s": {"p50": percentile(lags, 50), "p95": percentile(lags, 95),
                                               "p99": percentile(lags, 99), "max": max(lags) if lags else None},
                                     "by_dispatcher": {k: v - before[k] for k, v in dispatcher_counts(prom).items()}}
            burst = report["timer_burst"]
            burst["ok"] = (res["fired_once"] == len(ids) and burst["lag_s"]["p95"] < opts.targets["timer_p95"]
                           and (burst["lag_s"]["max"] or 99) < opts.targets["timer_max"])
        report["dispatcher_logs_tail"] = {d.name: d.text()[-1500:] for d in dispatchers}
        if opts.keep:
            report["kept"] = True
    close_apps()
    report["ok"] = (report["errors"] == 0 and all(c["ok"] for c in report["checks"].values())
                    and report.get("lease_takeover", {"ok": True})["ok"]
                    and report.get("timer_burst", {"ok": True})["ok"])
    if not opts.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return report


def dispatcher_counts(dirs: dict[str, Path]) -> dict[str, float]:
    """Jobs each dispatcher ran to done (wuyi_dispatcher_jobs_total from its own metrics directory,
    every process it ever was, a killed one included)."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector
    counts = {}
    for name, path in dirs.items():
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(path))
        counts[name] = sum(s.value for family in registry.collect() for s in family.samples
                           if s.name == "wuyi_dispatcher_jobs_total" and s.labels.get("outcome") == "done")
    return counts


def print_report(r: dict) -> None:
    m = r["machine"]
    print(f"\ncluster run: {r['options']['nodes']} gunicorn x {r['options']['workers']} workers x "
          f"{r['options']['threads']} threads, {r['options']['dispatchers']} dispatchers, PostgreSQL ({r['postgres']})")
    print(f"machine: {m['platform']}, Python {m['python']}, {m['cpus']} CPUs, load avg at start {m['load_avg_at_start']}")
    print(f"load: {r['options']['users']} users, {r['load_seconds']} s (bounded at {r['options']['seconds']} s / "
          f"{r['options']['max_requests']} requests)")
    print(f"\n{'endpoint':44} {'requests':>8} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>7}  (ms)")
    for e in r["endpoints"]:
        print(f"{e['name'][:44]:44} {e['requests']:8d} {e['rps']:7.1f} {e['p50']:6.0f} {e['p95']:6.0f} "
              f"{e['p99']:6.0f} {e['max']:7.0f}")
    print(f"\nerrors (non-409 4xx/5xx): {r['errors']}   expected 409 conflicts: {r['conflicts_409']}   "
          f"refused connections (retried on another node): {r['refused_connections']}")
    for row in r["status_counts"]:
        if row["status"] >= 400 or row["status"] == 0:
            print(f"  {row['name']}: {row['status']} x {row['count']}")
    print(f"kills: {r['kills']}")
    print("\nend checks:")
    for name, c in r["checks"].items():
        print(f"  {'✓' if c['ok'] else '✗'} {name} (checked {c['checked']}){'' if c['ok'] else ': ' + str(c['detail'])}")
    if "lease_takeover" in r:
        lt = r["lease_takeover"]
        print(f"  {'✓' if lt['ok'] else '✗'} killed dispatcher's claims: {lt['held_by_killed']} held at the kill, "
              f"{lt['held_taken_after_lease']} run by the other after their lease; burst of {lt['burst_jobs']}: "
              f"{lt['fired_once']} fired once, {lt['fired_twice']} twice, {lt['not_fired']} not at all")
    if "timer_burst" in r:
        tb = r["timer_burst"]
        lag = tb["lag_s"]
        print(f"  {'✓' if tb['ok'] else '✗'} {tb['jobs']} timer jobs due within {tb['window_s']:g} s, 2 dispatchers: "
              f"{tb['fired_once']} fired once, {tb['fired_twice_or_more']} twice, {tb['not_fired']} not at all; "
              f"lag p50 {lag['p50'] * 1000:.0f} ms, p95 {lag['p95'] * 1000:.0f} ms (target < 1000), "
              f"p99 {lag['p99'] * 1000:.0f} ms, max {(lag['max'] or 0) * 1000:.0f} ms (target < 2000); "
              f"run by {tb['by_dispatcher']}")
    print(f"\n{'OK' if r['ok'] else 'FAILED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="the CI form: " + json.dumps(SHORT))
    for name, default in Options().__dict__.items():
        if name in ("server_url", "keep", "targets", "timers_only"):
            continue
        parser.add_argument("--" + name.replace("_", "-"), type=type(default), default=None)
    parser.add_argument("--server-url", help="create a fresh database on this PostgreSQL server instead of initdb")
    parser.add_argument("--keep", action="store_true", help="keep the logs directory")
    parser.add_argument("--timers-only", action="store_true", help="skip the load: only the timer burst")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "cluster.json"))
    args = parser.parse_args()
    opts = Options(**(SHORT if args.short else {}))
    for name in Options().__dict__:
        value = getattr(args, name, None)
        if value is not None and name != "targets":
            setattr(opts, name, value)
    report = run(opts)
    print_report(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str, ensure_ascii=False))
    print(f"JSON written to {out}")
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
