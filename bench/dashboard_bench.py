"""Supervisor dashboard queries at scale: 100 000 cases bulk-inserted with a realistic spread of closed
cases and open, due-soon and overdue tasks; times the overdue list, the due-soon list and the KPI
computation (median of N runs) as an administrator and as a supervisor of two units, and prints the
query plan of every statement they run. Target: < 500 ms each. Writes bench/results/dashboard_bench.json.

    .venv/bin/python bench/dashboard_bench.py [--cases 100000] [--repeat 10] [--tmpdir /dev/shm]
    .venv/bin/python bench/dashboard_bench.py --database-url postgresql+psycopg://user@host/db
    .venv/bin/python bench/dashboard_bench.py --without-indexes     # the plans before migration 6c0c0e1d0003
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.tasks.models import outcome_of  # noqa: E402  (what completing a task records)

CST = timezone(timedelta(hours=8))
NOW = datetime(2025, 12, 15, 10, 0, tzinfo=CST)          # a Monday; chinese_calendar knows 2025
UNITS = [f"u{i:02d}" for i in range(30)]
CHANNELS = ["hotline_12345", "sme_platform", "yueshangtong", "letter", "visit", "email", "discipline"]
DISTRICTS = ["蓬江区", "江海区", "新会区", "台山市", "开平市", "鹤山市", "恩平市"]
TARGET_MS = 500


# --- the data set -----------------------------------------------------------------------------------

class Builder:
    """Rows for Core executemany inserts, with explicit ids."""

    def __init__(self, seed: int):
        self.rnd = random.Random(seed)
        self.cases, self.instances, self.tasks, self.candidates, self.audits = [], [], [], [], []
        self.task_id = 0
        self.audit_id = 0

    def task(self, case: dict, bpmn_id: str, groups: list[str], created: datetime, limit: timedelta,
             done: datetime | None, data: dict | None = None, *, status: str | None = None) -> None:
        self.task_id += 1
        due = created + limit
        status = status or ("completed" if done is not None else "ready")
        escalation = None
        if status == "ready" and due < NOW:
            late = NOW - due
            escalation = ("criticise" if late > timedelta(days=7) else "supervise" if late > timedelta(days=2)
                          else "notice" if late > timedelta(days=1) else "overdue")
        self.tasks.append({
            "id": self.task_id, "instance_id": case["id"], "case_id": case["id"], "process_key": case["process_key"],
            "spiff_task_id": str(uuid.UUID(int=self.rnd.getrandbits(128))), "bpmn_id": bpmn_id, "name": bpmn_id,
            "lane": None, "candidate_groups": groups, "form": None, "priority": 50, "status": status,
            "assignee_id": None, "created_at": created, "claimed_at": None,
            "completed_at": done if status != "ready" else None, "completed_by_id": None, "due_at": due,
            "warn_at": due - limit * 0.2, "sla_state": "red" if escalation else None, "deadline": None,
            "due_provisional": False, "paused_at": None, "escalation_step": escalation, "draft": None,
            "outcome": outcome_of(data) if status == "completed" else None})
        for group in groups:
            self.candidates.append({"group_name": group, "task_id": self.task_id})
        if status == "completed":
            self.audit_id += 1
            self.audits.append({"id": self.audit_id, "at": done, "actor_id": None, "action": "complete",
                                "case_id": case["id"], "instance_id": case["id"], "human_task_id": self.task_id,
                                "bpmn_id": bpmn_id, "label": bpmn_id, "data": data or {}})

    def timer(self, case: dict, bpmn_id: str, at: datetime) -> None:
        self.audit_id += 1
        self.audits.append({"id": self.audit_id, "at": at, "actor_id": None, "action": "timer", "case_id": case["id"],
                            "instance_id": case["id"], "human_task_id": None, "bpmn_id": bpmn_id, "label": bpmn_id,
                            "data": {"fired_at": at.isoformat()}})

    def case(self, case_id: int, process_key: str, definition_id: int) -> dict:
        rnd = self.rnd
        created = NOW - timedelta(seconds=rnd.uniform(0, 365 * 86400))
        case = {"id": case_id, "number": f"JM-B-{case_id:07d}", "process_key": process_key, "title": "基准工单",
                "status": "open", "channel": rnd.choice(CHANNELS), "district": rnd.choice(DISTRICTS),
                "company_name": "示例企业", "uscc": None, "unit": None, "is_confidential": rnd.random() < 0.05,
                "created_at": created, "created_by_id": None, "closed_at": None}
        stuck = rnd.random() < 0.06          # a few old cases stay open far past their due dates
        steps = {"complaint": self.complaint, "one_thing_transport": self.one_thing,
                 "dispute_escalation": self.dispute}[process_key](case, created, stuck)
        if steps is not None:
            case["status"], case["closed_at"] = "closed", steps
        self.cases.append(case)
        self.instances.append({"id": case_id, "definition_id": definition_id, "case_id": case_id,
                               "status": "completed" if case["closed_at"] else "running", "state": b"",
                               "serializer_version": "1", "rev": 1, "error_message": None, "error_element": None,
                               "error_line": None, "error_at": None, "started_at": created, "started_by_id": None,
                               "ended_at": case["closed_at"]})
        return case

    def _walk(self, case, created, stuck, stages) -> datetime | None:
        """stages: (bpmn_id, groups, limit, duration, data). Completed while in the past; the first
        stage that would end after NOW (or a stuck case's random stage) stays READY."""
        at = created
        stop_at = self.rnd.randrange(len(stages)) if stuck else None
        for index, (bpmn_id, groups, limit, took, data) in enumerate(stages):
            done = at + took
            if done > NOW or index == stop_at:
                self.task(case, bpmn_id, groups, at, limit, None)
                return None
            self.task(case, bpmn_id, groups, at, limit, done, data)
            at = done
        return at

    def complaint(self, case, created, stuck):
        rnd, h = self.rnd, timedelta(hours=1)
        if rnd.random() < 0.06:          # 不予受理 at the assessment: closed before any unit was dispatched
            return self._walk(case, created, stuck, [
                ("register", ["intake"], 8 * h, rnd.uniform(0.1, 6) * h, {}),
                ("assess", ["dispatch"], 8 * h, rnd.uniform(0.1, 6) * h, {"decision": "reject"})])
        unit = rnd.choice(UNITS)
        case["unit"] = unit
        handles = 2 if rnd.random() < 0.05 else 1
        stages = [("sign_in", [unit], 24 * h, rnd.uniform(0.2, 30) * h,
                   {"sign_action": "return" if rnd.random() < 0.05 else "sign"}),
                  ("first_contact", [unit], 24 * h, rnd.uniform(0.2, 30) * h, {})]
        for _ in range(handles):
            stages += [("handle", [unit], 240 * h, rnd.uniform(12, 300) * h,
                        {"need_extension": rnd.random() < 0.08}),
                       ("reply", [unit + "_head"], 48 * h, rnd.uniform(1, 60) * h, {"result_code": "solved"})]
        stages.append(("callback", ["callback"], 72 * h, rnd.uniform(2, 80) * h,
                       {"satisfaction": rnd.choices(["satisfied", "basically_satisfied", "dissatisfied"],
                                                    [80, 15, 5])[0], "complaint_reasonable": True}))
        return self._walk(case, created, stuck, stages)

    def one_thing(self, case, created, stuck):
        rnd, h = self.rnd, timedelta(hours=1)
        stages = [("precheck", ["onething_window"], 40 * h, rnd.uniform(0.1, 8) * h, {"materials_complete": True})]
        if rnd.random() < 0.15:
            stages.append(("supplement", ["applicant"], 120 * h, rnd.uniform(4, 72) * h, {}))
        stages += [("accept", ["onething_window"], 8 * h, rnd.uniform(0.1, 4) * h, {}),
                   ("handout", ["onething_window"], 40 * h, rnd.choice([0.5, 0.8, 3, 20, 60]) * h, {}),
                   ("rating", ["applicant"], 120 * h, rnd.uniform(1, 48) * h, {"rating": "满意"})]
        return self._walk(case, created, stuck, stages)

    def dispute(self, case, created, stuck):
        rnd, h = self.rnd, timedelta(hours=1)
        case["unit"] = rnd.choice(UNITS)
        stages = [("grade", ["dispute_intake"], 24 * h, rnd.uniform(1, 20) * h, {"complexity": "简单"})]
        levels = [("mediate_village", "village_mediator"), ("mediate_town", "town_center"),
                  ("mediate_county", "county_center"), ("mediate_city", "city_center")]
        settle_at = rnd.choices(range(5), [55, 25, 10, 5, 5])[0]       # 4 = never settles
        for index, (bpmn_id, group) in enumerate(levels):
            outcome = "成功" if index == settle_at else "失败"
            stages.append((bpmn_id, [group], 168 * h, rnd.uniform(20, 160) * h, {"outcome": outcome}))
            if outcome == "成功":
                stages += [("agreement", [group], 72 * h, rnd.uniform(2, 60) * h, {}),
                           ("follow_up", ["mediation_followup"], 720 * h, rnd.uniform(24, 700) * h,
                            {"performance": "已履行"})]
                break
        closed = self._walk(case, created, stuck, stages)
        if rnd.random() < 0.2 and closed is not None:
            self.timer(case, "timer_village", created + 170 * h)
        return closed


def build(session, cases: int, seed: int) -> dict:
    from app.auth.models import Group, User, user_group
    from app.audit.models import AuditEvent
    from app.cases.models import Case
    from app.processes.models import ProcessDefinition, ProcessInstance
    from app.tasks.models import HumanTask, HumanTaskCandidate
    conn = session.connection()
    groups = [{"id": 1, "name": "admin", "title": "系统管理员", "kind": "role"},
              {"id": 2, "name": "supervisor", "title": "督办员", "kind": "role"}]
    groups += [{"id": 3 + i, "name": u, "title": f"单位{u}", "kind": "unit"} for i, u in enumerate(UNITS)]
    conn.execute(sa.insert(Group.__table__), groups)
    conn.execute(sa.insert(User.__table__), [
        {"id": 1, "username": "admin", "display_name": "管理员", "password_hash": "x", "email": None,
         "is_active_user": True, "created_at": NOW},
        {"id": 2, "username": "sup", "display_name": "督办员（两个单位）", "password_hash": "x", "email": None,
         "is_active_user": True, "created_at": NOW}])
    conn.execute(sa.insert(user_group), [{"user_id": 1, "group_id": 1}, {"user_id": 2, "group_id": 2},
                                         {"user_id": 2, "group_id": 3}, {"user_id": 2, "group_id": 4}])
    keys = ["complaint", "one_thing_transport", "dispute_escalation"]
    conn.execute(sa.insert(ProcessDefinition.__table__), [
        {"id": i + 1, "key": k, "version": 1, "name": k, "content_hash": "0" * 64, "source_file": f"{k}.bpmn",
         "bpmn_xml": "<definitions/>", "dmn_xml": {}, "forms": {}, "meta": {}, "message": None,
         "deployed_at": NOW, "deployed_by_id": None} for i, k in enumerate(keys)])
    builder = Builder(seed)
    for case_id in range(1, cases + 1):
        key = builder.rnd.choices(keys, [70, 15, 15])[0]
        builder.case(case_id, key, keys.index(key) + 1)
    for table, batch in ((Case.__table__, builder.cases), (ProcessInstance.__table__, builder.instances),
                         (HumanTask.__table__, builder.tasks), (HumanTaskCandidate.__table__, builder.candidates),
                         (AuditEvent.__table__, builder.audits)):
        for start in range(0, len(batch), 20000):
            conn.execute(sa.insert(table), batch[start:start + 20000])
    session.commit()
    vacuum_analyze(session)
    ready = sum(1 for t in builder.tasks if t["status"] == "ready")
    overdue = sum(1 for t in builder.tasks if t["status"] == "ready" and t["due_at"] < NOW)
    return {"cases": len(builder.cases), "closed": sum(1 for c in builder.cases if c["closed_at"]),
            "human_tasks": len(builder.tasks), "open_tasks": ready, "overdue_tasks": overdue,
            "audit_events": len(builder.audits), "candidates": len(builder.candidates)}


def vacuum_analyze(session) -> None:
    """Planner statistics and, on PostgreSQL, the visibility map that index-only scans need: what
    autovacuum gives a live database soon after a bulk load."""
    session.commit()
    engine = session.get_bind()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        session.connection().exec_driver_sql("ANALYZE")
        session.commit()


# --- measuring ------------------------------------------------------------------------------------

class Capture:
    """The SELECTs of one run, and how long each took (`durations`, ms, in the same order)."""

    def __init__(self, engine):
        self.statements = []
        self.durations = []
        self.on = False
        self._t0 = None
        sa.event.listen(engine, "before_cursor_execute", self._hook)
        sa.event.listen(engine, "after_cursor_execute", self._after)

    def _hook(self, conn, cursor, statement, parameters, context, executemany):
        if self.on and statement.lstrip().upper().startswith(("SELECT", "WITH")):
            self.statements.append((statement, parameters))
            self._t0 = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        if self.on and self._t0 is not None:
            self.durations.append((time.perf_counter() - self._t0) * 1000)
            self._t0 = None


def explain(session, statement: str, parameters) -> list[str]:
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
        return [f"{'  ' * _depth(rows, r)}{r[3]}" for r in rows]
    rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).all()
    return [r[0] for r in rows]


def _depth(rows, row) -> int:
    parents = {r[0]: r[1] for r in rows}
    depth, parent = 0, row[1]
    while parent in parents:
        depth, parent = depth + 1, parents[parent]
    return depth


def scans(plan: list[str]) -> list[str]:
    """Plan lines that read a whole table (SQLite SCAN without an index; PostgreSQL Seq Scan)."""
    bad = []
    for line in plan:
        text = line.strip()
        if text.startswith("SCAN") and "INDEX" not in text and "CONSTANT ROW" not in text \
                and "SUBQUERY" not in text and " json_each" not in text:
            bad.append(text)
        if "Seq Scan" in text:
            bad.append(text)
    return bad


def measure(run, repeat: int, capture: Capture, session) -> tuple[list[float], object, list]:
    """`run()` once to warm up (calendar, caches, statement compilation), `repeat` timed runs (ms), then
    once more with its statements captured: (timings, that run's result, [(statement, plan)])."""
    run()
    timings = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run()
        timings.append((time.perf_counter() - t0) * 1000)
    capture.statements, capture.durations, capture.on = [], [], True
    outcome = run()
    capture.on = False
    durations = capture.durations + [None] * (len(capture.statements) - len(capture.durations))
    plans = [(stmt, explain(session, stmt, params), ms) for (stmt, params), ms in zip(capture.statements, durations)]
    session.rollback()
    return timings, outcome, plans


def kpi_breakdown(user, period, repeat: int) -> dict[str, float]:
    """Each KPI computed alone (compute_kpis with ids=[one], so a fresh cache): what a tile costs."""
    from app.supervision import kpis
    timings = {}
    for kpi in kpis.KPIS:
        runs = []
        for _ in range(max(repeat // 2, 3)):
            t0 = time.perf_counter()
            kpis.compute_kpis(user, *period, now=NOW, ids=[kpi.id])
            runs.append((time.perf_counter() - t0) * 1000)
        timings[kpi.id] = statistics.median(runs)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL") or None,
                        help="default: $BENCH_DATABASE_URL, else a fresh SQLite file in --tmpdir")
    parser.add_argument("--tmpdir", default=None)
    parser.add_argument("--without-indexes", action="store_true",
                        help="drop the supervision indexes of migration 6c0c0e1d0003 first (plans before it)")
    parser.add_argument("--skip-load", action="store_true",
                        help="reuse the data already in --database-url (a previous run's file)")
    parser.add_argument("--quiet-plans", action="store_true", help="print only the plans' table scans")
    args = parser.parse_args()

    from flask import g
    from flask_migrate import upgrade

    from app.db import set_clock

    from app import create_app
    from app.config import TestConfig
    from app.extensions import db
    url = args.database_url or "sqlite:///" + str(Path(tempfile.mkdtemp(prefix="wuyi-dash-", dir=args.tmpdir))
                                                 / "dashboard.sqlite")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url}, config_class=TestConfig)
    with app.app_context():
        if not args.skip_load:
            from tests.conftest import reset_schema
            reset_schema(db.engine)
        upgrade()
        from app.supervision.models import SUPERVISION_INDEXES
        existing = {(ix["name"]) for table in ("human_task", "case", "audit_event")
                    for ix in sa.inspect(db.engine).get_indexes(table)}
        for index in SUPERVISION_INDEXES:
            if args.without_indexes and index.name in existing:
                index.drop(db.engine)
            elif not args.without_indexes and index.name not in existing:
                print(f"note: {index.name} missing after upgrade; created for the bench")
                index.create(db.engine)
        t0 = time.perf_counter()
        if args.skip_load:
            from app.cases.models import Case
            sizes = {"cases": db.session.execute(sa.select(sa.func.count(Case.id))).scalar_one()}
            vacuum_analyze(db.session)
        else:
            sizes = build(db.session, args.cases, args.seed)
        load_seconds = time.perf_counter() - t0
        dialect = db.engine.dialect.name
        print(f"database: {dialect}  ({url})")
        print(f"loaded in {load_seconds:.1f} s: " + ", ".join(f"{k} {v}" for k, v in sizes.items()))

    from app.auth.models import User
    from app.supervision import kpis, queries
    month = ("2025-11-01", "2025-12-01")
    year = ("2024-12-15", "2025-12-16")
    cases = [
        ("overdue list, admin", lambda u: queries.list_tasks(u["admin"], "overdue", now=NOW)),
        ("overdue list, supervisor (2 units)", lambda u: queries.list_tasks(u["sup"], "overdue", now=NOW)),
        ("overdue list, admin, filter unit+process", lambda u: queries.list_tasks(
            u["admin"], "overdue", queries.Filters(unit="u05", process="complaint"), now=NOW)),
        ("due-soon list, admin", lambda u: queries.list_tasks(u["admin"], "due_soon", now=NOW)),
        ("due-soon list, supervisor (2 units)", lambda u: queries.list_tasks(u["sup"], "due_soon", now=NOW)),
        ("overdue counts by unit, admin", lambda u: queries.summarize(u["admin"], "overdue", "unit", now=NOW)),
        ("KPIs (19) one month, admin", lambda u: kpis.compute_kpis(u["admin"], *month, now=NOW)),
        ("KPIs (19) one month, supervisor", lambda u: kpis.compute_kpis(u["sup"], *month, now=NOW)),
        ("KPIs (19) one year, admin", lambda u: kpis.compute_kpis(u["admin"], *year, now=NOW)),
        # the whole page: KPIs, trend, overdue by unit, heat map, list and counts, rendered
        ("dashboard page, one month, admin", lambda u: page(u["admin"], month)),
        ("dashboard page, one month, supervisor", lambda u: page(u["sup"], month)),
        ("dashboard page, one year, admin", lambda u: page(u["admin"], year)),
    ]
    client = app.test_client()

    def page(user, period):
        """GET /supervision as this user (its session set directly: the bench users have no password)."""
        with client.session_transaction() as session:
            session["_user_id"], session["_fresh"] = str(user.id), True
        g.pop("_login_user", None)   # the requests share the bench's app context: forget the last user
        last = (datetime.fromisoformat(period[1]) - timedelta(days=1)).date().isoformat()   # the page's end is a day
        set_clock(lambda: NOW.astimezone(timezone.utc))   # the page's "now" is the data set's, as for the lists
        try:
            response = client.get(f"/supervision?start={period[0]}&end={last}")
        finally:
            set_clock(None)
        assert response.status_code == 200, response.status_code
        assert (b"\xe7\x9d\xa3\xe5\x8a\x9e\xe5\x8d\x95\xe4\xbd\x8d" in response.data) == (user.username == "sup")
        return f"page {len(response.data) // 1024} KB"
    results = []
    with app.app_context():
        capture = Capture(db.engine)
        users = {name: db.session.execute(sa.select(User).where(User.username == name)).scalar_one()
                 for name in ("admin", "sup")}
        # the first KPI request over a year computes the case facts of every case closed in it (once)
        from app.supervision.models import BundleFact, CaseFact
        db.session.execute(sa.delete(CaseFact))
        db.session.execute(sa.delete(BundleFact))
        db.session.commit()
        t0 = time.perf_counter()
        kpis.compute_kpis(users["admin"], *year, now=NOW)
        facts_fill = {"query": "KPIs one year, first request: fills case_fact", "seconds": time.perf_counter() - t0,
                      "facts": db.session.execute(sa.select(sa.func.count(CaseFact.case_id))).scalar_one()}
        vacuum_analyze(db.session)   # the new case_fact rows, as autovacuum would soon after
        print(f"first year of KPIs (fills case_fact, {facts_fill['facts']} closed cases): "
              f"{facts_fill['seconds']:.1f} s, once")
        for label, run in cases:
            timings, outcome, plans = measure(lambda: run(users), args.repeat, capture, db.session)
            summary = (outcome if isinstance(outcome, str) else
                       f"{outcome.total} rows" if hasattr(outcome, "total") else
                       f"{len(outcome['kpis'])} KPIs" if isinstance(outcome, dict) else f"{len(outcome)} groups")
            results.append({"query": label, "median_ms": statistics.median(timings), "min_ms": min(timings),
                            "max_ms": max(timings), "statements": len(plans), "result": summary,
                            "plans": [{"sql": " ".join(s.split()), "plan": p, "scans": scans(p), "ms": ms}
                                      for s, p, ms in plans]})
        breakdown = kpi_breakdown(users["admin"], year, args.repeat)
        db.session.remove()

    print()
    print(f"       {'query':44} {'median ms':>10} {'min':>8} {'max':>8} {'SQL':>4}  result")
    for r in results:
        r["pass"] = r["median_ms"] < TARGET_MS
        print(f"[{'PASS' if r['pass'] else 'FAIL'}] {r['query']:44} {r['median_ms']:10.1f} {r['min_ms']:8.1f} "
              f"{r['max_ms']:8.1f} {r['statements']:4}  {r['result']}")
    for r in results:
        if not r["pass"]:
            slow = sorted((p for p in r["plans"] if p["ms"] is not None), key=lambda p: -p["ms"])[:5]
            print(f"  slowest statements of {r['query']!r}: "
                  + "; ".join(f"{p['ms']:.0f} ms {p['sql'][:90]}" for p in slow))
    print()
    print("KPI by KPI, one year, admin (median ms):",
          ", ".join(f"{k} {v:.1f}" for k, v in sorted(breakdown.items(), key=lambda kv: -kv[1])))
    print()
    for r in results:
        print(f"== {r['query']}")
        for i, p in enumerate(r["plans"], 1):
            if args.quiet_plans and not p["scans"]:
                continue
            took = "" if p["ms"] is None else f" ({p['ms']:.1f} ms)"
            print(f"-- [{i}]{took} {p['sql'][:160]}{'…' if len(p['sql']) > 160 else ''}")
            for line in p["plan"]:
                print("   " + line)
        print()
    all_scans = sorted({s for r in results for p in r["plans"] for s in p["scans"]})
    print("table scans left:", all_scans or "none")
    out = ROOT / "bench" / "results" / "dashboard_bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"when": datetime.now(timezone.utc).isoformat(), "database": dialect,
                               "cases": args.cases, "repeat": args.repeat, "without_indexes": args.without_indexes,
                               "load_seconds": load_seconds, "sizes": sizes, "results": results,
                               "kpi_breakdown_ms": breakdown, "case_fact_fill": facts_fill,
                               "machine": {"platform": platform.platform(), "python": platform.python_version()}},
                              ensure_ascii=False, indent=1, default=str))
    print(f"wrote {out.relative_to(ROOT)}")
    failed = [r["query"] for r in results if not r["pass"]]
    if failed:
        print(f"dashboard bench: FAIL: {len(failed)} of {len(results)} views over {TARGET_MS} ms: " + ", ".join(failed))
        return 1
    print(f"dashboard bench: PASS: all {len(results)} views under {TARGET_MS} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
