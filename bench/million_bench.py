"""One million tasks (issue #16, part 3): 1,000,000 human_task rows and 200,000 cases bulk-loaded into
PostgreSQL with COPY, then the inbox (mine, group, all, filtered, searched, page 50; the service call
the API lists with and the query the inbox page lists with, and GET /api/v1/tasks over the whole
HTTP stack), the case search, the 已办 list and a completion are timed. Target: each under 50 ms
median; one PASS/FAIL line each, and the exit status is 1 when one fails.

    BENCH_DATABASE_URL=postgresql+psycopg://user@host/wuyi_million_bench .venv/bin/python bench/million_bench.py
    .venv/bin/python bench/million_bench.py --database-url ... --skip-load     # the data of the last run
    .venv/bin/python bench/million_bench.py --database-url ... --tasks 100000 --cases 20000   # smaller

PostgreSQL only (COPY); `make bench` runs it when BENCH_DATABASE_URL is set. The database's public
schema is dropped first, so its name must contain `bench` or `test`. The rows come from
dashboard_bench's generator (a year of complaints, one-thing applications and disputes with their
steps, open, due-soon and overdue work), topped up with earlier completed steps of the closed cases
to the task count. Users: `admin`; `worker`, a caseworker of unit u00 (candidate of that unit's
steps, 300 of them assigned to them); `caller`, the 回访员 who completed every call-back (a long
已办); 200 colleagues who completed the rest. The completion is a real one: a few instances of the
three-user-task diagram are started through the service layer among the million rows and their
tasks completed, each call in its own app context.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from dashboard_bench import NOW, ROOT, UNITS, Builder, Capture, measure, scans, vacuum_analyze  # noqa: E402

TARGET_MS = 50
STAFF = 200
CHUNK = 20_000          # cases generated and copied at a time
PASSWORD = "bench-million-12345"
KEYS = ["complaint", "one_thing_transport", "dispute_escalation"]


# --- loading -------------------------------------------------------------------------------------------

def _copy(cur, table: sa.Table, rows: list[dict]) -> None:
    """COPY rows (dicts with the same keys) into a table; JSON values as text, which COPY parses."""
    if not rows:
        return
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    json_columns = {c for c in columns if isinstance(table.c[c].type, sa.JSON) or "JSON" in type(table.c[c].type).__name__}
    with cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(tuple(json.dumps(row[c], ensure_ascii=False) if c in json_columns and row[c] is not None
                                 else row[c] for c in columns))


def load(db, cases: int, tasks: int, seed: int) -> dict:
    """Users, groups and definitions by INSERT; cases, instances, tasks, candidates and audit rows by COPY."""
    from werkzeug.security import generate_password_hash

    from app.audit.models import AuditEvent
    from app.auth.models import Group, User, user_group
    from app.cases.models import Case
    from app.processes.models import ProcessDefinition, ProcessInstance
    from app.tasks.models import HumanTask, HumanTaskCandidate
    session = db.session
    conn = session.connection()
    groups = [{"id": 1, "name": "admin", "title": "系统管理员", "kind": "role"},
              {"id": 2, "name": "supervisor", "title": "督办员", "kind": "role"},
              {"id": 3, "name": "callback", "title": "回访员", "kind": "lane"}]
    groups += [{"id": 4 + i, "name": u, "title": f"单位{u}", "kind": "unit"} for i, u in enumerate(UNITS)]
    conn.execute(sa.insert(Group.__table__), groups)
    password = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    people = [("admin", "管理员"), ("sup", "督办员（两个单位）"), ("worker", "经办人（u00）"), ("caller", "回访员")]
    people += [(f"staff{i:03d}", f"经办人{i}") for i in range(STAFF)]
    conn.execute(sa.insert(User.__table__), [
        {"id": i + 1, "username": u, "display_name": n, "password_hash": password, "email": None,
         "is_active_user": True, "created_at": NOW} for i, (u, n) in enumerate(people)])
    ids = {u: i + 1 for i, (u, _) in enumerate(people)}
    unit_id = {g["name"]: g["id"] for g in groups}
    conn.execute(sa.insert(user_group), [
        {"user_id": ids["admin"], "group_id": 1}, {"user_id": ids["sup"], "group_id": 2},
        {"user_id": ids["sup"], "group_id": unit_id["u00"]}, {"user_id": ids["sup"], "group_id": unit_id["u01"]},
        {"user_id": ids["worker"], "group_id": unit_id["u00"]}, {"user_id": ids["caller"], "group_id": 3}])
    conn.execute(sa.insert(ProcessDefinition.__table__), [
        {"id": i + 1, "key": k, "version": 1, "name": k, "content_hash": "0" * 64, "source_file": f"{k}.bpmn",
         "bpmn_xml": "<definitions/>", "dmn_xml": {}, "forms": {}, "meta": {}, "message": None,
         "deployed_at": NOW, "deployed_by_id": None} for i, k in enumerate(KEYS)])
    session.commit()

    raw = db.engine.raw_connection()
    builder = Builder(seed)
    mine = 0
    closed: list[dict] = []
    sizes = {"cases": 0, "human_tasks": 0, "candidates": 0, "audit_events": 0}
    per_chunk_tasks = tasks / cases

    def assign(batch: list[dict]) -> None:
        """Who did the completed steps (and who holds some open ones): as completing would set them."""
        nonlocal mine
        groups_of = {}
        for c in builder.candidates:
            groups_of.setdefault(c["task_id"], []).append(c["group_name"])
        for t in batch:
            g = groups_of.get(t["id"], [])
            if t["status"] == "completed":
                who = (ids["worker"] if "u00" in g else ids["caller"] if "callback" in g
                       else ids[f"staff{t['id'] % STAFF:03d}"])
                t["completed_by_id"] = t["assignee_id"] = who
            elif "u00" in g and mine < 300:
                t["assignee_id"], t["claimed_at"] = ids["worker"], t["created_at"]
                mine += 1

    def flush(target_tasks: int) -> None:
        # top up with earlier completed steps of this chunk's closed cases, to keep tasks/cases on target
        while len(builder.tasks) < target_tasks and closed:
            case = closed[builder.rnd.randrange(len(closed))]
            at = case["created_at"] + timedelta(hours=builder.rnd.uniform(0.5, 10))
            builder.task(case, "supplement_note", ["u%02d" % builder.rnd.randrange(len(UNITS))], at,
                         timedelta(hours=24), at + timedelta(hours=1), {})
        assign(builder.tasks)
        with raw.cursor() as cur:
            for table, batch in ((Case.__table__, builder.cases), (ProcessInstance.__table__, builder.instances),
                                 (HumanTask.__table__, builder.tasks),
                                 (HumanTaskCandidate.__table__, builder.candidates),
                                 (AuditEvent.__table__, builder.audits)):
                _copy(cur, table, batch)
        raw.commit()
        sizes["cases"] += len(builder.cases)
        sizes["human_tasks"] += len(builder.tasks)
        sizes["candidates"] += len(builder.candidates)
        sizes["audit_events"] += len(builder.audits)
        for rows in (builder.cases, builder.instances, builder.tasks, builder.candidates, builder.audits):
            rows.clear()
        closed.clear()

    try:
        for case_id in range(1, cases + 1):
            key = builder.rnd.choices(KEYS, [70, 15, 15])[0]
            case = builder.case(case_id, key, KEYS.index(key) + 1)
            if case["closed_at"] is not None:
                closed.append(case)
            if case_id % CHUNK == 0 or case_id == cases:
                flush(round(case_id * per_chunk_tasks) - sizes["human_tasks"])
        # the explicit ids above did not move the sequences the app's own inserts will use
        with raw.cursor() as cur:
            for table in ("group", "user", "process_definition", "case", "process_instance", "human_task",
                          "audit_event"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                            f"(SELECT COALESCE(MAX(id), 1) FROM \"{table}\"))")
        raw.commit()
    finally:
        raw.close()
    sizes["assigned_to_worker"] = mine
    return sizes


# --- the completion ----------------------------------------------------------------------------------------

def completions(app, db, instances: int) -> tuple[list[float], int]:
    """Deploy the three-user-task diagram, start `instances` of it as admin and complete every task,
    each call in its own app context (as a request): the times of the complete_task calls."""
    from engine_bench import SHARED_BENCH, diagrams   # the diagram and data of make bench

    from app.auth.models import User
    from app.processes.deploy import deploy_file
    from app.processes.running import start_process
    from app.tasks.models import HumanTask, TaskStatus
    from app.tasks.services import complete_task
    d = diagrams(SHARED_BENCH)[0]
    with app.app_context():
        problems = [p for o in deploy_file(d.path, forms_dir=str(d.forms_dir)) for p in o.problems]
        if problems:
            raise RuntimeError(f"deploy of {d.path.name}: {[str(p) for p in problems]}")
        admin_id = db.session.execute(sa.select(User.id).where(User.username == "admin")).scalar_one()
    times = []
    for i in range(instances):
        with app.app_context():
            user = db.session.get(User, admin_id)
            instance, _ = start_process(d.key, d.start_data, user)
            instance_id = instance.id
            db.session.remove()
        while True:
            with app.app_context():
                ready = db.session.execute(sa.select(HumanTask.id, HumanTask.bpmn_id).where(
                    HumanTask.instance_id == instance_id, HumanTask.status == TaskStatus.READY)).all()
                db.session.remove()
            if not ready:
                break
            for task_id, bpmn_id in ready:
                with app.app_context():
                    user = db.session.get(User, admin_id)
                    t0 = time.perf_counter()
                    complete_task(task_id, d.task_data[bpmn_id], user)
                    if i >= 2:        # the first instances warm the spec, bundle and validator caches
                        times.append((time.perf_counter() - t0) * 1000)
                    db.session.remove()
    return times, instances


# --- what is timed -------------------------------------------------------------------------------------------

def timed(users, client, headers) -> list[tuple[str, callable]]:
    from app.cases.search import CaseFilters, search_cases
    from app.tasks.queries import DoneFilters, list_completed_tasks
    from app.tasks.services import list_tasks
    from app.web.queries import InboxFilters, list_inbox
    now = NOW
    first = datetime(2025, 6, 1).date()
    worker, admin, caller, sup = users["worker"], users["admin"], users["caller"], users["sup"]

    def http(path, admin=False):
        def run():
            # in an app context of its own, as a served request has: inside the bench's, the request
            # would reuse that context's `g`, where Flask-Login keeps the first request's user (the
            # admin's page 50 was the worker's 235 rows, read without the token lookup)
            with client.application.app_context():
                resp = client.get(path, headers=headers["admin" if admin else "worker"])
            assert resp.status_code == 200, (path, resp.status_code, resp.get_data(as_text=True)[:300])
            return f"{resp.get_json()['pagination']['total']} rows, page of {len(resp.get_json()['items'])}"
        return run

    number = "JM-B-0012345"
    return [
        ("inbox mine, worker (API list)", lambda: list_tasks(worker, "mine", now=now)),
        ("inbox group, worker (API list)", lambda: list_tasks(worker, "group", now=now)),
        ("inbox all, worker (API list)", lambda: list_tasks(worker, "all", now=now)),
        ("inbox all, admin (API list)", lambda: list_tasks(admin, "all", now=now)),
        ("inbox all, admin, overdue + process (API)", lambda: list_tasks(admin, "all", overdue=True,
                                                                        process_key="complaint", now=now)),
        ("inbox all, admin, page 50 (API list)", lambda: list_tasks(admin, "all", page=50, now=now)),
        ("inbox mine, worker (page)", lambda: list_inbox(worker, InboxFilters(scope="mine"), now=now)),
        ("inbox group, worker (page)", lambda: list_inbox(worker, InboxFilters(scope="group"), now=now)),
        ("inbox all, worker (page)", lambda: list_inbox(worker, InboxFilters(), now=now)),
        ("inbox all, admin (page)", lambda: list_inbox(admin, InboxFilters(), now=now)),
        ("inbox, worker, filtered district+process", lambda: list_inbox(worker, InboxFilters(
            process="complaint", district="江海区"), now=now)),
        ("inbox, admin, filtered overdue (sla red)", lambda: list_inbox(admin, InboxFilters(sla="red"), now=now)),
        ("inbox, worker, searched by number", lambda: list_inbox(worker, InboxFilters(q=number), now=now)),
        ("inbox, admin, searched by number", lambda: list_inbox(admin, InboxFilters(q=number), now=now)),
        ("inbox, admin, page 50 (page)", lambda: list_inbox(admin, InboxFilters(page=50), now=now)),
        ("inbox, admin, sort -number", lambda: list_inbox(admin, InboxFilters(sort="-number"), now=now)),
        ("GET /api/v1/tasks?scope=mine (HTTP, worker)", http("/api/v1/tasks?scope=mine")),
        ("GET /api/v1/tasks?scope=group (HTTP, worker)", http("/api/v1/tasks?scope=group")),
        ("GET /api/v1/tasks?scope=all&page=50 (HTTP, admin)", http("/api/v1/tasks?scope=all&page=50", admin=True)),
        ("case search, admin", lambda: search_cases(admin, CaseFilters())),
        ("case search, admin, number", lambda: search_cases(admin, CaseFilters(q=number))),
        ("case search, admin, district + dates", lambda: search_cases(admin, CaseFilters(
            district="江海区", date_from=first, date_to=first + timedelta(days=30)))),
        ("case search, worker", lambda: search_cases(worker, CaseFilters())),
        ("case search, worker, number", lambda: search_cases(worker, CaseFilters(q=number))),
        ("case search, supervisor (2 units)", lambda: search_cases(sup, CaseFilters())),
        ("已办, worker", lambda: list_completed_tasks(worker, DoneFilters())),
        ("已办, caller (long history)", lambda: list_completed_tasks(caller, DoneFilters())),
        ("已办, caller, page 50", lambda: list_completed_tasks(caller, DoneFilters(page=50))),
        ("已办, caller, searched", lambda: list_completed_tasks(caller, DoneFilters(q=number))),
    ]


def _summary(outcome) -> str:
    if isinstance(outcome, str):
        return outcome
    rows = getattr(outcome, "rows", None)
    if rows is None:
        rows = getattr(outcome, "items", [])
    return f"{outcome.total} rows, page of {len(rows)}"


# --- main ------------------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="PostgreSQL (default $BENCH_DATABASE_URL); its public schema is dropped first")
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--instances", type=int, default=12, help="real instances whose tasks are completed")
    parser.add_argument("--skip-load", action="store_true", help="reuse the rows a previous run left")
    parser.add_argument("--plans", action="store_true", help="print every plan, not only those with a table scan")
    parser.add_argument("--only", action="append", default=[],
                        help="time only what contains this text (repeatable; the completion needs 'completion')")
    parser.add_argument("--force-wipe", action="store_true", help="allow a database name without bench/test")
    args = parser.parse_args(argv)
    if not args.database_url:
        print("million_bench: PostgreSQL only; set BENCH_DATABASE_URL or pass --database-url", file=sys.stderr)
        return 2
    from sqlalchemy.engine import make_url
    url = make_url(args.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
                   if args.database_url.startswith("postgresql://") else args.database_url)
    if not url.drivername.startswith("postgresql"):
        print("million_bench: PostgreSQL only (COPY)", file=sys.stderr)
        return 2
    if not args.force_wipe and not any(w in (url.database or "") for w in ("bench", "test")):
        print(f"million_bench: refusing to wipe {url.database!r} (its name has no bench/test; --force-wipe)",
              file=sys.stderr)
        return 2

    from flask_migrate import upgrade

    from app import create_app
    from app.auth.models import User
    from app.auth.services import issue_token
    from app.config import TestConfig
    from app.extensions import db
    from tests.conftest import reset_schema
    app = create_app({"SQLALCHEMY_DATABASE_URI": url.render_as_string(hide_password=False)}, config_class=TestConfig)
    with app.app_context():
        t0 = time.perf_counter()
        if args.skip_load:
            sizes = {"human_tasks": db.session.execute(sa.text("SELECT count(*) FROM human_task")).scalar_one(),
                     "cases": db.session.execute(sa.text('SELECT count(*) FROM "case"')).scalar_one()}
        else:
            reset_schema(db.engine)
            upgrade()
            sizes = load(db, args.cases, args.tasks, args.seed)
        load_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        vacuum_analyze(db.session)
        vacuum_s = time.perf_counter() - t1
        print(f"database: postgresql ({url.render_as_string(hide_password=True)})")
        print(f"loaded in {load_s:.1f} s (COPY), VACUUM ANALYZE {vacuum_s:.1f} s: "
              + ", ".join(f"{k} {v}" for k, v in sizes.items()))
        tokens = {name: issue_token(name, PASSWORD)[0] for name in ("worker", "admin")}
        db.session.remove()

    results = []
    client = app.test_client()
    headers = {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
    with app.app_context():
        capture = Capture(db.engine)
        users = {n: db.session.execute(sa.select(User).where(User.username == n)).scalar_one()
                 for n in ("admin", "sup", "worker", "caller")}
        for user in users.values():
            user.groups  # noqa: B018  (loaded once, as the request loader does)
        for label, run in timed(users, client, headers):
            if args.only and not any(o in label for o in args.only):
                continue
            timings, outcome, plans = measure(run, args.repeat, capture, db.session)
            results.append({"what": label, "median_ms": statistics.median(timings), "min_ms": min(timings),
                            "max_ms": max(timings), "statements": len(plans), "result": _summary(outcome),
                            "plans": [{"sql": " ".join(s.split()), "plan": p, "scans": scans(p)} for s, p, *_ in plans]})
        db.session.remove()
    if not args.only or any("completion" in o for o in args.only):
        times, n = completions(app, db, args.instances)
        results.append({"what": f"completion (complete_task, {len(times)} of {n} instances x 3)",
                        "median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times),
                        "statements": None, "result": "", "plans": []})

    print()
    print(f"{'what (first page unless said)':46} {'median ms':>10} {'min':>8} {'max':>8} {'SQL':>4}  result")
    failed = 0
    for r in results:
        ok = r["median_ms"] < TARGET_MS
        failed += not ok
        r["pass"] = ok
        sql = "" if r["statements"] is None else r["statements"]
        print(f"[{'PASS' if ok else 'FAIL'}] {r['what']:39} {r['median_ms']:10.1f} {r['min_ms']:8.1f} "
              f"{r['max_ms']:8.1f} {sql:>4}  {r['result']}")
    print()
    for r in results:
        shown = [p for p in r["plans"] if args.plans or p["scans"]]
        if shown:
            print(f"== {r['what']}")
            for p in shown:
                print(f"-- {p['sql'][:200]}{'…' if len(p['sql']) > 200 else ''}")
                for line in p["plan"]:
                    print("   " + line)
    all_scans = sorted({s for r in results for p in r["plans"] for s in p["scans"]})
    print("table scans:", all_scans or "none")
    out = ROOT / "bench" / "results" / "million_bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"when": datetime.now(timezone.utc).isoformat(), "sizes": sizes, "load_s": load_s,
                               "vacuum_s": vacuum_s, "repeat": args.repeat, "target_ms": TARGET_MS,
                               "results": results, "machine": {"platform": platform.platform(),
                                                               "python": platform.python_version(),
                                                               "cpus": os.cpu_count()}},
                              ensure_ascii=False, indent=1, default=str))
    print(f"wrote {out.relative_to(ROOT)}")
    print(f"million bench: {len(results) - failed} of {len(results)} under {TARGET_MS} ms median"
          + ("" if not failed else f"; FAIL: {failed} over"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
