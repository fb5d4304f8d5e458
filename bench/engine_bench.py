"""Engine benchmark (`make bench`): the app beside bare SpiffWorkflow, on the same diagrams, in one run.

For each diagram (the complaint skeleton and the three-user-task diagram) it measures

  * bare SpiffWorkflow in memory, without and with a save (serialize_json) after each step;
  * the service layer (start_process / list_tasks / complete_task, each call in its own app
    context with its own ORM session, as a request would run it) on a fresh database;
  * HTTP against a real server on loopback (gunicorn -w 1 --threads 4, and `flask serve`),
    each on its own fresh database, with one keep-alive client;

and reports instances/s, completions/s, ms per completion p50/p95, SQL statements per completion
and per start, database bytes per completed instance (per table too), the ratios app/bare, and the
targets of the issue (a peer application's numbers divided by 5) with a PASS/FAIL mark per line.
The marks are a report, never an assertion: the exit status is 0 whenever the runs themselves worked.

    .venv/bin/python bench/engine_bench.py              # default sizes (200 / 100 instances)
    .venv/bin/python bench/engine_bench.py --quick      # a quarter of that
    .venv/bin/python bench/engine_bench.py --profile 100   # cProfile ~100 service-layer completions

See bench/README.md for what each number means.
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import platform
import pstats
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from time import perf_counter

PROJECT = Path(__file__).resolve().parent.parent
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

# ../shared/bench beside the checkout (a git worktree sits one level deeper: look further up)
SHARED_BENCH = next((p / "shared" / "bench" for p in PROJECT.parents if (p / "shared" / "bench").is_dir()),
                    PROJECT.parent / "shared" / "bench")
RESULTS = PROJECT / "bench" / "results"
PASSWORD = "bench-demo-12345"
ACTOR = "admin"          # admins may act on any task; the three-user-task diagram has no lanes/groups
WARMUP = 3               # instances run before measuring, in every configuration


# --- the diagrams and the data their forms need -------------------------------------------------

COMPLAINT_START = {
    "channel": "sme_platform", "appeal_type": "consult", "urgency": "normal",
    "complainant_name": "梁志强", "phone": "13800000001", "company_name": "江门市蓬江区示例五金制品有限公司",
    "uscc": "91440703MAKLKB3T82", "district": "蓬江区", "title": "小微企业社保补贴如何申请",
    "content": "我公司今年新招用了三名应届毕业生，想了解社保补贴的申请条件和办理渠道。"}

# The knowledge-base path of the current diagram: 登记建档 -> 初步研判 (知识库可答) -> 知识库答复 -> 回访.
COMPLAINT_TASKS = {
    "register": {**COMPLAINT_START, "in_scope": True},
    "assess": {"urgency": "normal", "appeal_type": "consult", "primary_category": "政策咨询",
               "misconduct": False, "kb_answerable": True},
    "kb_answer": {"kb_reference": "KB-2026-0815 吸纳高校毕业生社保补贴", "answer_text": "已告知申请条件与粤商通办理入口。",
                  "answer_method": "电话"},
    "callback": {"contacted": True, "resolved": True, "satisfaction": "satisfied"},
}


@dataclass
class Diagram:
    name: str
    path: Path
    forms_dir: Path
    key: str
    start_data: dict
    task_data: dict
    default_n: int
    user_tasks: int          # completions per instance on the path the data takes
    targets: bool = False    # the issue's targets are stated for this diagram
    start_message: str | None = None   # the message start event the app starts it through (its channel)


def diagrams(shared: Path) -> list[Diagram]:
    return [
        Diagram("three_user_tasks", shared / "three_user_tasks.bpmn", shared, "Process_ThreeUserTasks", {},
                {"Task_A": {"field_a": "value a"}, "Task_B": {"field_b": "value b"},
                 "Task_C": {"field_c": "value c"}}, 200, 3, targets=True),
        Diagram("complaint", PROJECT / "bpmn" / "complaint.bpmn", PROJECT / "forms", "complaint",
                COMPLAINT_START, COMPLAINT_TASKS, 100, 4,
                start_message=f"complaint.{COMPLAINT_START['channel']}"),
    ]


# --- the issue's targets: a peer application on the same library, divided by 5 ----------------------

PEER = {"http_p50_ms": (59, 62), "http_p95_ms": (82, 86), "instances_per_s": (2.8, 2.9),
        "sql_per_completion": 77, "bytes_per_instance": 10 * 1024}
FACTOR = 5


def targets() -> dict:
    """Each target from the peer's *best* figure, so a pass is a pass against its best run."""
    return {
        "http_p50_ms": {"max": PEER["http_p50_ms"][0] / FACTOR, "peer": "59-62 ms"},
        "http_p95_ms": {"max": PEER["http_p95_ms"][0] / FACTOR, "peer": "82-86 ms"},
        "http_instances_per_s": {"min": PEER["instances_per_s"][1] * FACTOR, "peer": "2.8-2.9/s"},
        "sql_per_completion": {"max": PEER["sql_per_completion"] / FACTOR, "peer": "77"},
        "bytes_per_instance": {"max": PEER["bytes_per_instance"] / FACTOR, "peer": "~10 KB"},
        "service_vs_bare_save": {"min": 0.5, "peer": "-"},
        # issue #16: a steady completion, not one whose tail is several times its median
        "http_p95_over_p50": {"max": 3.0, "peer": "82/59 = 1.4"},
    }


# --- small helpers ----------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summary_ms(seconds: list[float]) -> dict:
    ms = [s * 1000 for s in seconds]
    return {"n": len(ms), "p50": percentile(ms, 50), "p95": percentile(ms, 95),
            "mean": sum(ms) / len(ms) if ms else None, "max": max(ms) if ms else None}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path:
    return Path(url.split("sqlite:///", 1)[1])


def clear_app_caches() -> None:
    """The app caches parsed specs, bundles and live workflows by database id: a new database needs them empty."""
    from app.engine import definitions, runtime
    from app.processes.versions import _bundles
    _bundles.clear()
    definitions._cache.clear()
    runtime._live.clear()


def reset_postgres(url: str) -> None:
    import sqlalchemy as sa
    engine = sa.create_engine(_psycopg(url))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def _psycopg(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


# --- database size ----------------------------------------------------------------------------------

def db_size(url: str) -> dict:
    """Total bytes and bytes per table/index (SQLite: file after a checkpoint + dbstat; PostgreSQL: relation sizes)."""
    if is_sqlite(url):
        path = sqlite_path(url)
        con = sqlite3.connect(path, timeout=30)
        try:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            try:
                per = dict(con.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall())
            except sqlite3.OperationalError:     # SQLite built without SQLITE_ENABLE_DBSTAT_VTAB
                per = {}
            rows = {t: con.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] for (t,) in con.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")}
        finally:
            con.close()
        wal = Path(str(path) + "-wal")
        total = path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        return {"total": total, "per_object": per, "rows": rows}
    import sqlalchemy as sa
    engine = sa.create_engine(_psycopg(url))
    try:
        with engine.connect() as conn:
            per = dict(conn.execute(sa.text(
                "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'")).all())
            rows = {t: conn.execute(sa.text(f'SELECT COUNT(*) FROM "{t}"')).scalar_one() for t in per}
    finally:
        engine.dispose()
    return {"total": sum(per.values()), "per_object": per, "rows": rows}


def size_delta(before: dict, after: dict, n: int) -> dict:
    per = {k: (after["per_object"].get(k, 0) - before["per_object"].get(k, 0)) / n
           for k in set(before["per_object"]) | set(after["per_object"])}
    rows = {k: (after["rows"].get(k, 0) - before["rows"].get(k, 0)) / n
            for k in set(before["rows"]) | set(after["rows"])}
    return {"bytes_per_instance": (after["total"] - before["total"]) / n,
            "per_object_bytes_per_instance": {k: v for k, v in sorted(per.items(), key=lambda kv: -kv[1]) if v},
            "rows_per_instance": {k: v for k, v in sorted(rows.items()) if v},
            "total_before": before["total"], "total_after": after["total"]}


# --- SQL statement counting ---------------------------------------------------------------------------

class SqlCounter:
    """Counts cursor executes on an engine, per phase (BEGIN/COMMIT are not cursor executes)."""

    def __init__(self, engine):
        import sqlalchemy as sa
        self.phase: str | None = None
        self.counts: Counter = Counter()
        self.kinds: dict[str, Counter] = defaultdict(Counter)
        self.capture: list[str] | None = None
        self._engine = engine
        sa.event.listen(engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, conn, cursor, statement, parameters, context, executemany):
        if self.phase is None:
            return
        self.counts[self.phase] += 1
        self.kinds[self.phase][statement.lstrip().split(None, 1)[0].upper()] += 1
        if self.capture is not None:
            self.capture.append(f"{self.phase}: " + " ".join(statement.split())[:160])

    @contextlib.contextmanager
    def counting(self, phase: str):
        self.phase = phase
        try:
            yield
        finally:
            self.phase = None

    def close(self):
        import sqlalchemy as sa
        sa.event.remove(self._engine, "before_cursor_execute", self._on_execute)


# --- bare SpiffWorkflow -----------------------------------------------------------------------------

def run_bare(d: Diagram, n: int, save: bool, store: Path | None = None) -> dict:
    """`save`: serialize_json after each step; `store` (with save): also write that JSON to a row of
    a plain sqlite3 table in this file and commit, once per step (a reference for what a database
    write costs the bare engine; not the issue's target, which is against serialize_json alone)."""
    from SpiffWorkflow import TaskState
    from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
    from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

    from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

    from app.deadlines.due import add_business_duration
    from app.engine.helpers import script_helpers

    # The same helper functions the app's scripts call (now(), due_in(), ...), as plain globals of
    # SpiffWorkflow's own unsandboxed PythonScriptEngine.
    script_engine = PythonScriptEngine(environment=TaskDataEnvironment(script_helpers(add_business_duration)))
    schemas: dict[str, dict] = {}

    def with_form_defaults(task_spec, data: dict) -> dict:
        """As the app's validate_form: the form's top-level defaults for the fields not sent."""
        form = (getattr(task_spec, "extensions", None) or {}).get("properties", {}).get("formJsonSchemaFilename")
        if not form:
            return data
        if form not in schemas:
            schemas[form] = json.loads((d.forms_dir / form).read_text(encoding="utf-8"))
        props = schemas[form].get("properties") or {}
        defaults = {k: p["default"] for k, p in props.items() if isinstance(p, dict) and "default" in p}
        return {**defaults, **data}

    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(d.path))
    # The decision tables the diagram calls (complaint: complaint_time_limit, complaint_handler_unit)
    # live beside it as *.dmn; the app deploys them with the diagram, so the bare run loads them too.
    dmn_files = sorted(str(f) for f in d.path.parent.glob("*.dmn"))
    if dmn_files:
        parser.add_dmn_files(dmn_files)
    spec = parser.get_spec(d.key)
    subprocess_specs = parser.get_subprocess_specs(d.key)
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    start_data = ({**d.start_data, "case_number": "JM-2026-0101-000001",
                   "received_at": datetime.now(timezone.utc).isoformat()} if d.start_data else {})

    # the app validates the start data against the start events' form (app.processes.deploy: start_form)
    start_spec = next((ts for ts in spec.task_specs.values() if type(ts).__name__.endswith("StartEvent")
                       and (getattr(ts, "extensions", None) or {}).get("properties", {}).get("formJsonSchemaFilename")),
                      None)

    def start_message(wf):
        """What the app's engine.start does for a channel: send the message its start event waits for."""
        for task in wf.get_tasks(state=TaskState.WAITING, spec_class=CatchingEvent):
            if getattr(task.task_spec.event_definition, "name", None) == d.start_message:
                wf.send_event(BpmnEvent(task.task_spec.event_definition, payload=None))
                wf.do_engine_steps()
                return
        raise RuntimeError(f"bare run of {d.name}: no start event waits for {d.start_message}")

    con = None
    if store is not None:
        con = sqlite3.connect(store)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE IF NOT EXISTS workflow (id INTEGER PRIMARY KEY, state TEXT)")

    def persist(key, state):
        if con is not None:
            if key is None:
                key = con.execute("INSERT INTO workflow (state) VALUES (?)", (state,)).lastrowid
            else:
                con.execute("UPDATE workflow SET state = ? WHERE id = ?", (state, key))
            con.commit()
        return key

    def one_instance(completion_times, start_times):
        t0 = perf_counter()
        wf = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine)
        wf.get_next_task(state=TaskState.READY).data.update(with_form_defaults(start_spec, start_data))
        wf.do_engine_steps()
        if d.start_message:
            start_message(wf)
        state = serializer.serialize_json(wf) if save else None
        key = persist(None, state)
        start_times.append(perf_counter() - t0)
        done = 0
        while True:
            ready = wf.get_tasks(state=TaskState.READY, manual=True)
            if not ready:
                break
            for task in ready:
                t1 = perf_counter()
                task.data.update(with_form_defaults(task.task_spec, d.task_data[task.task_spec.bpmn_id]))
                task.run()
                wf.do_engine_steps()
                if save:
                    state = serializer.serialize_json(wf)
                    persist(key, state)
                completion_times.append(perf_counter() - t1)
                done += 1
        if not wf.is_completed() or done != d.user_tasks:
            raise RuntimeError(f"bare run of {d.name} did not complete ({done} tasks)")
        return state

    for _ in range(WARMUP):
        one_instance([], [])
    completions, starts = [], []
    t0 = perf_counter()
    final_state = None
    for _ in range(n):
        final_state = one_instance(completions, starts)
    wall = perf_counter() - t0
    out = {"instances": n, "completions": len(completions), "wall_s": wall,
           "instances_per_s": n / wall, "completions_per_s": len(completions) / sum(completions),
           "completion_ms": summary_ms(completions), "start_ms": summary_ms(starts)}
    if save:
        out["final_state_json_bytes"] = len(final_state.encode("utf-8"))
    if con is not None:
        con.close()
    return out


# --- the service layer ------------------------------------------------------------------------------

class ServiceHarness:
    """An app on a fresh, migrated, seeded database with one diagram deployed; each call in its own app context."""

    def __init__(self, d: Diagram, url: str, config_class):
        from flask_migrate import upgrade

        from app import create_app
        from app.auth.models import User
        from app.extensions import db
        from app.processes.deploy import deploy_file
        from app.seed import seed_demo_users

        self.d, self.url, self.db, self.User = d, url, db, User
        self.tracer_leaks: list[str] = []
        clear_app_caches()
        if not is_sqlite(url):
            reset_postgres(url)
        self.app = create_app({"SQLALCHEMY_DATABASE_URI": url}, config_class=config_class)
        with self.app.app_context():
            with contextlib.redirect_stderr(io.StringIO()):   # alembic's INFO lines
                upgrade()
            seed_demo_users(PASSWORD)
            outcomes = deploy_file(d.path, forms_dir=str(d.forms_dir))
            problems = [str(p) for o in outcomes for p in o.problems]
            if problems:
                raise RuntimeError(f"deploy of {d.path} failed: {problems}")
            self.actor_id = db.session.execute(
                db.select(User.id).where(User.username == ACTOR)).scalar_one()
            self.counter = SqlCounter(db.engine)
            db.session.remove()

    @contextlib.contextmanager
    def request(self):
        """What a request gives a view: a fresh app context, the acting user, a session removed at the end."""
        with self.app.app_context():
            try:
                # one statement, the user with its groups joined, like the bearer-token loader
                # (app.auth.services.user_for_token) since issue #16
                import sqlalchemy as sa
                from sqlalchemy.orm import joinedload
                user = self.db.session.execute(
                    sa.select(self.User).where(self.User.id == self.actor_id)
                    .options(joinedload(self.User.groups))).unique().scalar_one()
                yield user
            finally:
                self.db.session.remove()
                self.check_tracer()

    def check_tracer(self, where: str = "service call") -> None:
        """The script sandbox installs sys.settrace around scripts; one left behind would fire in unrelated code."""
        tracer = sys.gettrace()
        if tracer is not None:
            self.tracer_leaks.append(f"{where}: {tracer!r}")
            sys.settrace(None)

    def start(self) -> tuple[int, float]:
        from app.processes.running import start_process
        with self.request() as user, self.counter.counting("start"):
            t0 = perf_counter()
            instance, _case = start_process(self.d.key, self.d.start_data, user)
            return instance.id, perf_counter() - t0

    def ready_tasks(self, instance_id: int) -> list[tuple[int, str]]:
        from app.tasks.services import list_tasks
        with self.request() as user, self.counter.counting("lookup"):
            page = list_tasks(user, "all", process_key=self.d.key, per_page=100)
            return [(t.id, t.bpmn_id) for t in page.items if t.instance_id == instance_id]

    def complete(self, task_id: int, bpmn_id: str) -> float:
        from app.tasks.services import complete_task
        with self.request() as user, self.counter.counting("complete"):
            t0 = perf_counter()
            complete_task(task_id, self.d.task_data[bpmn_id], user)
            return perf_counter() - t0

    def run_instance(self, completion_times: list, start_times: list, lookup_times: list) -> int:
        instance_id, dt = self.start()
        start_times.append(dt)
        done = 0
        while True:
            t0 = perf_counter()
            tasks = self.ready_tasks(instance_id)
            lookup_times.append(perf_counter() - t0)
            if not tasks:
                break
            for task_id, bpmn_id in tasks:
                completion_times.append(self.complete(task_id, bpmn_id))
                done += 1
        if done != self.d.user_tasks:
            raise RuntimeError(f"service run of {self.d.name}: {done} completions, expected {self.d.user_tasks}")
        return instance_id

    def completed_instances(self) -> int:
        from app.processes.models import InstanceStatus, ProcessInstance
        with self.app.app_context():
            return self.db.session.execute(self.db.select(self.db.func.count()).select_from(ProcessInstance)
                                           .where(ProcessInstance.status == InstanceStatus.COMPLETED)).scalar_one()

    def close(self):
        with self.app.app_context():
            self.counter.close()
            self.db.session.remove()
            self.db.engine.dispose()
        clear_app_caches()


def run_service(d: Diagram, n: int, url: str, config_class, http_sql_instances: int) -> dict:
    h = ServiceHarness(d, url, config_class)
    try:
        for _ in range(WARMUP):
            h.run_instance([], [], [])
        before = db_size(url)
        h.counter.counts.clear()
        h.counter.kinds.clear()
        completions, starts, lookups = [], [], []
        h.counter.capture = []           # the statements of the first measured instance, for the JSON
        t0 = perf_counter()
        for i in range(n):
            h.run_instance(completions, starts, lookups)
            if i == 0:
                sample, h.counter.capture = h.counter.capture, None
        wall = perf_counter() - t0
        counts, kinds = dict(h.counter.counts), {k: dict(v) for k, v in h.counter.kinds.items()}
        finished = h.completed_instances()
        if finished != n + WARMUP:
            raise RuntimeError(f"{finished} completed instances, expected {n + WARMUP}")
        after = db_size(url)
        out = {
            "instances": n, "completions": len(completions), "wall_s": wall,
            "instances_per_s": n / wall, "completions_per_s": len(completions) / sum(completions),
            "completion_ms": summary_ms(completions), "start_ms": summary_ms(starts),
            "lookup_ms": summary_ms(lookups),
            "sql_per_completion": counts.get("complete", 0) / len(completions),
            "sql_per_start": counts.get("start", 0) / n,
            "sql_per_lookup": counts.get("lookup", 0) / len(lookups),
            "sql_kinds_per_completion": {k: v / len(completions) for k, v in kinds.get("complete", {}).items()},
            "sql_kinds_per_start": {k: v / n for k, v in kinds.get("start", {}).items()},
            "sql_statements_first_instance": sample,
            "storage": size_delta(before, after, n),
        }
        out["http_stack_sql"] = http_stack_sql(h, http_sql_instances)
        out["sandbox_tracer_leaks"] = h.tracer_leaks
        return out
    finally:
        h.close()


def http_stack_sql(h: ServiceHarness, instances: int) -> dict:
    """SQL per request through the whole HTTP stack (token auth, view, schema), in-process via the test client."""
    client = h.app.test_client()
    resp = client.post("/api/v1/auth/token", json={"username": ACTOR, "password": PASSWORD})
    if resp.status_code != 200:
        raise RuntimeError(f"token: {resp.status_code} {resp.get_data(as_text=True)}")
    headers = {"Authorization": f"Bearer {resp.get_json()['token']}"}
    c = h.counter
    c.counts.clear()
    n_complete = n_list = 0
    for _ in range(instances):
        with c.counting("http_start"):
            resp = client.post(f"/api/v1/process-definitions/{h.d.key}/start", json={"data": h.d.start_data},
                               headers=headers)
        if resp.status_code != 201:
            raise RuntimeError(f"start: {resp.status_code} {resp.get_data(as_text=True)}")
        instance_id = resp.get_json()["instance"]["id"]
        tasks = resp.get_json()["tasks"]
        while tasks:
            for task in tasks:
                with c.counting("http_complete"):
                    resp = client.post(f"/api/v1/tasks/{task['id']}/complete",
                                       json={"data": h.d.task_data[task["bpmn_id"]]}, headers=headers)
                if resp.status_code != 200:
                    raise RuntimeError(f"complete: {resp.status_code} {resp.get_data(as_text=True)}")
                h.check_tracer("HTTP-stack completion")
                n_complete += 1
            with c.counting("http_list"):
                resp = client.get(f"/api/v1/tasks?scope=all&process={h.d.key}&per_page=100", headers=headers)
            n_list += 1
            tasks = [t for t in resp.get_json()["items"] if t["instance_id"] == instance_id]
    return {"instances": instances, "sql_per_completion": c.counts["http_complete"] / n_complete,
            "sql_per_start": c.counts["http_start"] / instances, "sql_per_list": c.counts["http_list"] / n_list}


# --- HTTP against a real server -----------------------------------------------------------------------

SERVERS = {
    "gunicorn": "gunicorn -w 1 --threads 4",
    "werkzeug": "flask serve (werkzeug)",
}


class Server:
    def __init__(self, kind: str, d: Diagram, url: str, workdir: Path):
        self.kind, self.d, self.url, self.workdir = kind, d, url, workdir
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.log = None
        self.env = {**os.environ, "DATABASE_URL": url, "WUYI_ENV": "development", "SECRET_KEY": "bench-secret",
                    "DEMO_PASSWORD": PASSWORD, "FORMS_DIR": str(d.forms_dir), "PYTHONUNBUFFERED": "1"}
        self.env.pop("TEST_DATABASE_URL", None)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def flask(self, *args: str) -> None:
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=PROJECT, env=self.env,
                              capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            raise RuntimeError(f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")

    def prepare(self) -> None:
        if not is_sqlite(self.url):
            reset_postgres(self.url)
        self.flask("db", "upgrade")
        self.flask("seed", "demo")
        self.flask("bpmn", "deploy", str(self.d.path))

    def start(self) -> None:
        if self.kind == "gunicorn":
            cmd = [sys.executable, "-m", "gunicorn", "-w", "1", "--threads", "4", "-b", f"127.0.0.1:{self.port}",
                   "wsgi:app"]
        else:
            cmd = [sys.executable, "-m", "flask", "--app", "wsgi", "serve", "--port", str(self.port)]
        self.log = open(self.workdir / f"server-{self.kind}-{self.d.name}.log", "w")
        self.proc = subprocess.Popen(cmd, cwd=PROJECT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        import requests
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if requests.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        self.log.flush()
        raise RuntimeError(f"{self.kind} did not start:\n" + Path(self.log.name).read_text()[-3000:])

    def stop(self) -> None:
        """SIGTERM the server's own process group (gunicorn's master and worker), SIGKILL if it lingers."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self.log is not None:
            self.log.close()
            self.log = None


class HttpClient:
    def __init__(self, base: str, key: str):
        import requests
        self.base, self.key = base, key
        self.session = requests.Session()
        resp = self.session.post(base + "/api/v1/auth/token", json={"username": ACTOR, "password": PASSWORD},
                                 timeout=30)
        resp.raise_for_status()
        self.session.headers["Authorization"] = f"Bearer {resp.json()['token']}"

    def _call(self, method, path, expect, **kw):
        resp = self.session.request(method, self.base + path, timeout=60, **kw)
        if resp.status_code != expect:
            raise RuntimeError(f"{method} {path}: {resp.status_code} {resp.text[:500]}")
        return resp.json()

    def run_instance(self, d: Diagram, completion_times: list, start_times: list, list_times: list) -> None:
        t0 = perf_counter()
        body = self._call("POST", f"/api/v1/process-definitions/{d.key}/start", 201, json={"data": d.start_data})
        start_times.append(perf_counter() - t0)
        instance_id = body["instance"]["id"]
        tasks = body["tasks"]
        done = 0
        while tasks:
            for task in tasks:
                t1 = perf_counter()
                self._call("POST", f"/api/v1/tasks/{task['id']}/complete", 200,
                           json={"data": d.task_data[task["bpmn_id"]]})
                completion_times.append(perf_counter() - t1)
                done += 1
            t2 = perf_counter()
            page = self._call("GET", f"/api/v1/tasks?scope=all&process={d.key}&per_page=100", 200)
            list_times.append(perf_counter() - t2)
            tasks = [t for t in page["items"] if t["instance_id"] == instance_id]
        if done != d.user_tasks:
            raise RuntimeError(f"HTTP run of {d.name}: {done} completions, expected {d.user_tasks}")

    def close(self):
        self.session.close()


def run_http(kind: str, d: Diagram, n: int, url: str, workdir: Path) -> dict:
    """One server on its own database. SQLite: the CLI-prepared database of the first server of a diagram
    is copied for the next one (same bytes, saves three CLI runs); PostgreSQL is prepared every time."""
    server = Server(kind, d, url, workdir)
    t_setup = perf_counter()
    template = workdir / f"http-template-{d.name}.sqlite"
    if is_sqlite(url) and template.exists():
        shutil.copyfile(template, sqlite_path(url))
    else:
        server.prepare()
        if is_sqlite(url):
            db_size(url)    # checkpoint: the whole database is in the main file
            shutil.copyfile(sqlite_path(url), template)
    try:
        server.start()
        setup_s = perf_counter() - t_setup
        client = HttpClient(server.base, d.key)
        try:
            for _ in range(WARMUP):
                client.run_instance(d, [], [], [])
            before = db_size(url)
            completions, starts, lists = [], [], []
            t0 = perf_counter()
            for _ in range(n):
                client.run_instance(d, completions, starts, lists)
            wall = perf_counter() - t0
        finally:
            client.close()
    finally:
        server.stop()
    after = db_size(url)
    storage = size_delta(before, after, n)
    return {"server": SERVERS[kind], "instances": n, "completions": len(completions), "wall_s": wall,
            "instances_per_s": n / wall, "completions_per_s": len(completions) / sum(completions),
            "completion_ms": summary_ms(completions), "start_ms": summary_ms(starts), "list_ms": summary_ms(lists),
            "bytes_per_instance": storage["bytes_per_instance"], "setup_s": setup_s}


# --- profile -------------------------------------------------------------------------------------------

def run_profile(d: Diagram, completions: int, url: str, config_class, top: int) -> str:
    """cProfile only the complete_task calls of enough instances for ~`completions` completions."""
    from app.tasks.services import complete_task
    h = ServiceHarness(d, url, config_class)
    profiler = cProfile.Profile()
    try:
        for _ in range(WARMUP):
            h.run_instance([], [], [])
        done = 0
        while done < completions:
            instance_id, _ = h.start()
            while tasks := h.ready_tasks(instance_id):
                for task_id, bpmn_id in tasks:
                    with h.request() as user:
                        profiler.enable()
                        complete_task(task_id, d.task_data[bpmn_id], user)
                        profiler.disable()
                    done += 1
    finally:
        h.close()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"(/app/|SpiffWorkflow/|sqlalchemy/)", top)
    return f"{done} completions of {d.name} profiled (complete_task only, cumulative time)\n" + out.getvalue()


# --- report ----------------------------------------------------------------------------------------------

def fmt(value, spec=".1f", none="-"):
    return none if value is None else format(value, spec)


def mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report_diagram(r: dict) -> str:
    lines = []
    d = r["diagram"]
    lines.append(f"== {d['name']} ({d['key']}): {d['instances']} instances x {d['user_tasks']} user tasks "
                 f"(+{WARMUP} warm-up) ==")
    head = (f"{'run':<34}{'inst/s':>9}{'compl/s':>9}{'ms/compl':>10}{'p95':>8}{'ms/start':>10}"
            f"{'SQL/compl':>10}{'SQL/start':>10}{'bytes/inst':>11}")
    lines.append(head)
    lines.append("-" * len(head))

    def row(label, x, sql_c=None, sql_s=None, b=None):
        lines.append(f"{label:<34}{fmt(x['instances_per_s']):>9}{fmt(x['completions_per_s']):>9}"
                     f"{fmt(x['completion_ms']['p50'], '.2f'):>10}{fmt(x['completion_ms']['p95'], '.2f'):>8}"
                     f"{fmt(x['start_ms']['p50'], '.2f'):>10}{fmt(sql_c):>10}{fmt(sql_s):>10}{fmt(b, '.0f'):>11}")

    row("bare SpiffWorkflow, no save", r["bare_no_save"])
    row("bare SpiffWorkflow, save each step", r["bare_save"],
        b=r["bare_save"].get("final_state_json_bytes"))
    if r.get("bare_save_sqlite"):
        row("bare, save + sqlite3 write/commit", r["bare_save_sqlite"])
    s = r["service"]
    row("service layer (own app ctx/call)", s, s["sql_per_completion"], s["sql_per_start"],
        s["storage"]["bytes_per_instance"])
    hs = s["http_stack_sql"]
    for kind, x in r["http"].items():
        row(f"HTTP {SERVERS[kind]}"[:34], x, hs["sql_per_completion"], hs["sql_per_start"], x["bytes_per_instance"])
    lines.append("  (bare 'bytes/inst' = the final serialize_json size of one instance, not a database;"
                 " HTTP SQL = in-process count through the full HTTP stack incl. token auth)")
    ratios = r["ratios"]
    lines.append("ratios (instances/s): " + "   ".join(f"{k} = {fmt(v, '.3f')}" for k, v in ratios.items()))
    lines.append(f"ms per lookup (service list_tasks) p50 {fmt(s['lookup_ms']['p50'], '.2f')};  SQL per lookup "
                 f"{fmt(s['sql_per_lookup'])};  SQL kinds per completion "
                 + ", ".join(f"{k} {v:.1f}" for k, v in sorted(s["sql_kinds_per_completion"].items())))
    if s.get("sandbox_tracer_leaks"):
        lines.append(f"WARNING: the script sandbox left sys.settrace installed {len(s['sandbox_tracer_leaks'])} "
                     f"time(s) (reset by the bench): {s['sandbox_tracer_leaks'][0]}")
    per = s["storage"]["per_object_bytes_per_instance"]
    if per:
        lines.append("db bytes per completed instance, by table/index: "
                     + ", ".join(f"{k} {v:.0f}" for k, v in list(per.items())[:8]))
    lines.append("rows per completed instance: "
                 + ", ".join(f"{k} {v:g}" for k, v in s["storage"]["rows_per_instance"].items()))
    if r.get("targets"):
        lines.append("targets (the peer on the same library, divided by 5; a report, not an assertion):")
        for t in r["targets"]:
            lines.append(f"  [{mark(t['pass'])}] {t['what']:<52} ours {t['ours']:<14} target {t['target']:<10}"
                         f" (peer {t['peer']})")
    return "\n".join(lines)


def evaluate_targets(r: dict) -> list[dict]:
    t = targets()
    s, http = r["service"], r["http"]
    out = []

    def add(what, ours, spec, key, unit=""):
        goal = t[key]
        ok = ours is not None and (ours <= goal["max"] if "max" in goal else ours >= goal["min"])
        target = (f"<= {goal['max']:g}" if "max" in goal else f">= {goal['min']:g}") + unit
        out.append({"what": what, "ours": None if ours is None else format(ours, spec) + unit, "value": ours,
                    "target": target, "peer": goal["peer"], "pass": ok})

    for kind, x in http.items():
        add(f"HTTP ms per completion p50 ({kind})", x["completion_ms"]["p50"], ".2f", "http_p50_ms", " ms")
        add(f"HTTP ms per completion p95 ({kind})", x["completion_ms"]["p95"], ".2f", "http_p95_ms", " ms")
        p50, p95 = x["completion_ms"]["p50"], x["completion_ms"]["p95"]
        add(f"HTTP completion p95 / p50 ({kind})", p95 / p50 if p50 else None, ".2f", "http_p95_over_p50", "x")
        add(f"HTTP whole instances/s ({kind})", x["instances_per_s"], ".1f", "http_instances_per_s", "/s")
    add("SQL statements per completion (HTTP stack)", s["http_stack_sql"]["sql_per_completion"], ".1f",
        "sql_per_completion")
    add("SQL statements per completion (service call)", s["sql_per_completion"], ".1f", "sql_per_completion")
    add("db bytes per completed instance (service run)", s["storage"]["bytes_per_instance"], ".0f",
        "bytes_per_instance", " B")
    for kind, x in http.items():
        add(f"db bytes per completed instance (HTTP {kind})", x["bytes_per_instance"], ".0f",
            "bytes_per_instance", " B")
    add("service inst/s / bare-with-save inst/s", r["ratios"]["service/bare_save"], ".3f", "service_vs_bare_save")
    return out


def machine_info() -> dict:
    import sqlalchemy
    from importlib.metadata import version
    return {"platform": platform.platform(), "machine": platform.machine(), "processor": platform.processor(),
            "python": sys.version.split()[0], "implementation": platform.python_implementation(),
            "cpu_count": os.cpu_count(), "sqlite": sqlite3.sqlite_version,
            "SpiffWorkflow": version("SpiffWorkflow"), "SQLAlchemy": sqlalchemy.__version__,
            "Flask": version("Flask"), "gunicorn": version("gunicorn")}


# --- main ------------------------------------------------------------------------------------------------

def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="a quarter of the default instance counts")
    p.add_argument("-n", "--instances", type=int, help="instances per configuration (overrides the defaults)")
    p.add_argument("--diagram", choices=["three_user_tasks", "complaint"], action="append",
                   help="only this diagram (repeatable; default both)")
    p.add_argument("--no-http", action="store_true", help="skip the HTTP runs")
    p.add_argument("--servers", default="gunicorn,werkzeug", help="HTTP servers to run (default gunicorn,werkzeug)")
    p.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL") or None,
                   help="PostgreSQL URL to use instead of temporary SQLite files. ITS public SCHEMA IS DROPPED before "
                        "each configuration; the database name must contain 'bench' or 'test' unless --force-wipe")
    p.add_argument("--force-wipe", action="store_true", help="allow --database-url whatever its name")
    p.add_argument("--config", choices=["test", "dev"], default="test",
                   help="config class for the service layer: TestConfig (fast password hashes) or Config")
    p.add_argument("--http-sql-instances", type=int, default=5,
                   help="instances run in-process through the HTTP stack to count its SQL (default 5)")
    p.add_argument("--shared-dir", type=Path, default=SHARED_BENCH,
                   help="folder of three_user_tasks.bpmn and its forms (default ../shared/bench)")
    p.add_argument("--output", type=Path, default=RESULTS / "engine_bench.json")
    p.add_argument("--profile", type=int, metavar="N", nargs="?", const=100,
                   help="instead of the benchmark: cProfile ~N service-layer completions (default 100)")
    p.add_argument("--profile-top", type=int, default=40, help="lines of the profile to print")
    p.add_argument("--tmpdir", type=Path, help="where the temporary SQLite databases go (default: the system "
                   "temp folder; e.g. /dev/shm to take disk I/O out of the numbers)")
    p.add_argument("--keep", action="store_true", help="keep the temporary folder (databases, server logs)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.database_url:
        from sqlalchemy.engine import make_url
        u = make_url(_psycopg(args.database_url))
        if not u.drivername.startswith("postgresql"):
            sys.exit("--database-url takes a PostgreSQL URL (SQLite files are the default)")
        if not args.force_wipe and not any(w in (u.database or "") for w in ("bench", "test")):
            sys.exit(f"refusing to wipe database {u.database!r}: its name has no 'bench' or 'test' "
                     "(pass --force-wipe if you mean it)")
    from app.config import Config, TestConfig
    config_class = TestConfig if args.config == "test" else Config
    chosen = [d for d in diagrams(args.shared_dir) if not args.diagram or d.name in args.diagram]
    for d in chosen:
        if not d.path.exists():
            sys.exit(f"missing diagram {d.path}")
    servers = [] if args.no_http else [s.strip() for s in args.servers.split(",") if s.strip()]
    for s in servers:
        if s not in SERVERS:
            sys.exit(f"unknown server {s!r}; choose from {', '.join(SERVERS)}")
    workdir = Path(tempfile.mkdtemp(prefix="wuyi-bench-", dir=args.tmpdir))

    def url_for(name: str) -> str:
        return args.database_url or f"sqlite:///{workdir / (name + '.sqlite')}"

    try:
        if args.profile:
            d = chosen[0]
            text = run_profile(d, args.profile, url_for(f"profile-{d.name}"), config_class, args.profile_top)
            print(text)
            RESULTS.mkdir(parents=True, exist_ok=True)
            (RESULTS / "profile.txt").write_text(text)
            print(f"written {RESULTS / 'profile.txt'}")
            return 0

        started = datetime.now(timezone.utc)
        t_all = perf_counter()
        results = []
        for d in chosen:
            n = args.instances or (d.default_n // 4 if args.quick else d.default_n)
            r = {"diagram": {"name": d.name, "key": d.key, "file": str(d.path), "instances": n,
                             "user_tasks": d.user_tasks}}
            print(f"[{d.name}] bare SpiffWorkflow ...", file=sys.stderr, flush=True)
            r["bare_no_save"] = run_bare(d, n, save=False)
            r["bare_save"] = run_bare(d, n, save=True)
            r["bare_save_sqlite"] = run_bare(d, n, save=True, store=workdir / f"bare-{d.name}.sqlite")
            print(f"[{d.name}] service layer ...", file=sys.stderr, flush=True)
            r["service"] = run_service(d, n, url_for(f"service-{d.name}"), config_class, args.http_sql_instances)
            r["http"] = {}
            for kind in servers:
                print(f"[{d.name}] HTTP {kind} ...", file=sys.stderr, flush=True)
                r["http"][kind] = run_http(kind, d, n, url_for(f"http-{kind}-{d.name}"), workdir)
            svc = r["service"]["instances_per_s"]
            r["ratios"] = {"service/bare_save": svc / r["bare_save"]["instances_per_s"],
                           "service/bare_save_sqlite": svc / r["bare_save_sqlite"]["instances_per_s"],
                           "service/bare_no_save": svc / r["bare_no_save"]["instances_per_s"]}
            for kind, x in r["http"].items():
                r["ratios"][f"http_{kind}/service"] = x["instances_per_s"] / svc
                r["ratios"][f"http_{kind}/bare_save"] = x["instances_per_s"] / r["bare_save"]["instances_per_s"]
            if d.targets:
                r["targets"] = evaluate_targets(r)
            results.append(r)
        elapsed = perf_counter() - t_all

        print()
        print(f"Wuyi BPM engine benchmark  {started:%Y-%m-%d %H:%M:%S} UTC  "
              f"({'PostgreSQL' if args.database_url else 'SQLite files in ' + str(workdir.parent)}, "
              f"{config_class.__name__}, {elapsed:.0f} s)")
        info = machine_info()
        print(f"{info['platform']}, Python {info['python']}, {info['cpu_count']} CPUs, SQLite {info['sqlite']}, "
              f"SpiffWorkflow {info['SpiffWorkflow']}, SQLAlchemy {info['SQLAlchemy']}")
        print("inst/s = instances / wall time of the whole sequential loop (start, task lookups, completions);")
        print("compl/s = completions / time inside the completion calls; ms = per call, p50 and p95.")
        for r in results:
            print()
            print(report_diagram(r))
        args.output.parent.mkdir(parents=True, exist_ok=True)
        payload = {"timestamp": started.isoformat(), "elapsed_s": elapsed, "machine": info,
                   "settings": {"quick": args.quick, "warmup_instances": WARMUP, "actor": ACTOR,
                                "database": "postgresql" if args.database_url else "sqlite (temporary file)",
                                "config_class": config_class.__name__, "servers": servers,
                                "database_folder": None if args.database_url else str(workdir.parent)},
                   "peer": {k: list(v) if isinstance(v, tuple) else v for k, v in PEER.items()},
                   "targets": targets(), "results": results}
        args.output.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str))
        print()
        print(f"JSON written to {args.output}")
        return 0
    finally:
        if args.keep:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
