"""The lists of issue #12 at scale: the first page of the inbox (sorted, 今天需跟进), of 已办, of the
case search, of the instance list (administrators, supervisors) and of 我的申请, on N cases bulk-loaded by dashboard_bench's loader (the same spread of
closed and open cases, tasks and audit events). Prints median/min/max of N runs, the statements and
any table scan in their plans; writes bench/results/lists_bench.json.

    .venv/bin/python bench/lists_bench.py                        # 5 000 cases: a quick run
    .venv/bin/python bench/lists_bench.py --cases 100000 --tmpdir /dev/shm
    BENCH_DATABASE_URL=postgresql+psycopg://user@host/db .venv/bin/python bench/lists_bench.py --cases 100000
    BENCH_DATABASE_URL=... .venv/bin/python bench/lists_bench.py --skip-load     # the same data, new queries

Users beside the loader's `admin` and `sup` (a supervisor of units u00 and u01): `worker`, a
caseworker of unit u00, who completed that unit's completed steps; `caller`, the 回访员 who completed
every call-back (the longest personal history: a large 已办); 200 colleagues completed the rest;
`applicant`, who started one one-thing application in 500 (a company's own few), and `agency`, a 代办
机构 that started all the others (the longest 我的申请).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

# the loader and the plan helpers (importing it also puts the project on sys.path)
from dashboard_bench import NOW, ROOT, Capture, build, measure, scans, vacuum_analyze  # noqa: E402

TARGET_MS = 100   # issue #12: a page of each new list under 100 ms at 100,000 cases
STAFF = 200   # colleagues who completed the other steps


def add_caseworkers(session) -> dict:
    """`worker` (unit u00) and `caller` (回访员), with the completed steps they would have done."""
    from app.auth.models import Group, User, user_group
    from app.processes.models import ProcessDefinition
    from app.tasks.models import HumanTask, HumanTaskCandidate
    conn = session.connection()
    unit = conn.execute(sa.select(Group.id).where(Group.name == "u00")).scalar_one()
    # explicit ids, as the loader's: its inserts did not move PostgreSQL's sequences
    callback = conn.execute(sa.select(sa.func.max(Group.id))).scalar_one() + 1
    conn.execute(sa.insert(Group.__table__).values(id=callback, name="callback", title="回访员", kind="lane"))
    next_user = conn.execute(sa.select(sa.func.max(User.id))).scalar_one() + 1
    ids = {}
    for offset, (username, name, group) in enumerate((("worker", "经办人（u00）", unit), ("caller", "回访员", callback))):
        ids[username] = next_user + offset
        conn.execute(sa.insert(User.__table__).values(
            id=ids[username], username=username, display_name=name, password_hash="x", email=None,
            is_active_user=True, created_at=NOW))
        conn.execute(sa.insert(user_group), [{"user_id": ids[username], "group_id": group}])
    ht = HumanTask.__table__
    for username, group in (("worker", "u00"), ("caller", "callback")):
        offered = sa.select(HumanTaskCandidate.task_id).where(HumanTaskCandidate.group_name == group)
        conn.execute(sa.update(ht).where(ht.c.status == "completed", ht.c.id.in_(offered))
                     .values(completed_by_id=ids[username], assignee_id=ids[username]))
    # every other completed step by one of STAFF colleagues, and kept assigned to them, as completing
    # does (processes.running.apply_result): the planner sees assignee and completer spread as in life
    first = next_user + len(ids)
    conn.execute(sa.insert(User.__table__), [
        {"id": first + i, "username": f"staff{i:03d}", "display_name": f"经办人{i}", "password_hash": "x",
         "email": None, "is_active_user": True, "created_at": NOW} for i in range(STAFF)])
    staff = first + ht.c.id % STAFF
    conn.execute(sa.update(ht).where(ht.c.status == "completed", ht.c.completed_by_id.is_(None))
                 .values(completed_by_id=staff, assignee_id=staff))
    # a few follow-up dates on the worker's open tasks, for the 今天需跟进 filter
    today = NOW.date()
    open_ids = conn.execute(sa.select(HumanTaskCandidate.task_id).join(
        HumanTask, HumanTask.id == HumanTaskCandidate.task_id).where(
        HumanTaskCandidate.group_name == "u00", HumanTask.status == "ready").limit(40)).scalars().all()
    for offset, task_id in enumerate(open_ids):
        conn.execute(sa.update(HumanTask.__table__).where(HumanTask.__table__.c.id == task_id)
                     .values(follow_up_on=today + timedelta(days=offset % 5 - 2)))
    # who started the one-thing applications: `applicant` a few, `agency` (代办机构) the rest
    from app.processes.models import ProcessInstance
    pi = ProcessInstance.__table__
    applicant_group = conn.execute(sa.select(Group.id).where(Group.name == "applicant")).scalar_one_or_none()
    if applicant_group is None:
        applicant_group = callback + 1
        conn.execute(sa.insert(Group.__table__).values(id=applicant_group, name="applicant", title="申请人",
                                                        kind="lane"))
    starter = first + STAFF
    for offset, (username, name) in enumerate((("applicant", "申请人"), ("agency", "代办机构"))):
        ids[username] = starter + offset
        conn.execute(sa.insert(User.__table__).values(
            id=ids[username], username=username, display_name=name, password_hash="x", email=None,
            is_active_user=True, created_at=NOW))
        conn.execute(sa.insert(user_group), [{"user_id": ids[username], "group_id": applicant_group}])
    one_thing = pi.c.definition_id == sa.select(ProcessDefinition.id).where(
        ProcessDefinition.key == "one_thing_transport").scalar_subquery()
    conn.execute(sa.update(pi).where(one_thing, pi.c.id % 500 == 0).values(started_by_id=ids["applicant"]))
    conn.execute(sa.update(pi).where(one_thing, pi.c.started_by_id.is_(None)).values(started_by_id=ids["agency"]))
    session.commit()
    started = {name: session.execute(sa.select(sa.func.count()).select_from(pi)
                                     .where(pi.c.started_by_id == ids[name])).scalar_one()
               for name in ("applicant", "agency")}
    done = {name: session.execute(sa.select(sa.func.count()).select_from(HumanTask)
                               .where(HumanTask.completed_by_id == user_id)).scalar_one()
            for name, user_id in ids.items()}
    return {"completed_by_worker": done["worker"], "completed_by_caller": done["caller"],
            "started_by_applicant": started["applicant"], "started_by_agency": started["agency"]}


def lists(users) -> list[tuple[str, callable]]:
    from app.cases.search import CaseFilters, search_cases
    from app.processes.applications import ApplicationFilters, list_applications
    from app.supervision.instances import InstanceFilters, list_instances
    from app.tasks.queries import DoneFilters, list_completed_tasks
    from app.web.queries import InboxFilters, list_inbox
    now = NOW
    first = datetime(2025, 6, 1).date()
    return [
        ("inbox, worker, default order", lambda: list_inbox(users["worker"], InboxFilters(), now=now)),
        ("inbox, worker, sort -number", lambda: list_inbox(users["worker"], InboxFilters(sort="-number"), now=now)),
        ("inbox, worker, sort received", lambda: list_inbox(users["worker"], InboxFilters(sort="received"), now=now)),
        ("inbox, worker, sort -priority", lambda: list_inbox(users["worker"], InboxFilters(sort="-priority"),
                                                              now=now)),
        ("inbox, worker, 今天需跟进", lambda: list_inbox(users["worker"], InboxFilters(follow="today"), now=now)),
        ("inbox, admin, sort -number", lambda: list_inbox(users["admin"], InboxFilters(sort="-number"), now=now)),
        ("done, worker", lambda: list_completed_tasks(users["worker"], DoneFilters())),
        ("done, caller (large history)", lambda: list_completed_tasks(users["caller"], DoneFilters())),
        ("done, caller, page 50", lambda: list_completed_tasks(users["caller"], DoneFilters(page=50))),
        ("done, caller, search", lambda: list_completed_tasks(users["caller"], DoneFilters(q="JM-B-00012"))),
        ("cases, admin", lambda: search_cases(users["admin"], CaseFilters())),
        ("cases, admin, district + dates", lambda: search_cases(users["admin"], CaseFilters(
            district="江海区", date_from=first, date_to=first + timedelta(days=30)))),
        ("cases, worker", lambda: search_cases(users["worker"], CaseFilters())),
        ("cases, worker, number", lambda: search_cases(users["worker"], CaseFilters(q="JM-B-00012"))),
        ("cases, worker, phone", lambda: search_cases(users["worker"], CaseFilters(phone="13800000001"))),
        ("cases, supervisor (2 units)", lambda: search_cases(users["sup"], CaseFilters())),
        ("cases, supervisor, status completed", lambda: search_cases(users["sup"], CaseFilters(status="completed"))),
        ("instances, admin", lambda: list_instances(users["admin"], InstanceFilters())),
        ("instances, admin, process + status", lambda: list_instances(users["admin"], InstanceFilters(
            process="complaint", status="running"))),
        ("instances, admin, dates, oldest first", lambda: list_instances(users["admin"], InstanceFilters(
            started_from=first, started_to=first + timedelta(days=30), sort="started_at"))),
        ("instances, admin, case number", lambda: list_instances(users["admin"], InstanceFilters(q="JM-B-00012"))),
        ("instances, admin, page 50", lambda: list_instances(users["admin"], InstanceFilters(), page=50)),
        ("instances, supervisor (2 units)", lambda: list_instances(users["sup"], InstanceFilters())),
        ("instances, supervisor, incidents", lambda: list_instances(users["sup"], InstanceFilters(status="incident"))),
        ("我的申请, applicant", lambda: list_applications(users["applicant"], ApplicationFilters())),
        ("我的申请, agency (large)", lambda: list_applications(users["agency"], ApplicationFilters())),
        ("我的申请, agency, 待我办理", lambda: list_applications(users["agency"], ApplicationFilters(state="todo"))),
    ]


def _rows(page) -> list:
    """A page's rows: the caseworker lists call them rows, the supervision ones items."""
    return page.rows if hasattr(page, "rows") else page.items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="default: $BENCH_DATABASE_URL, else a fresh SQLite file in --tmpdir")
    parser.add_argument("--tmpdir", default=None)
    parser.add_argument("--plans", action="store_true", help="print every plan, not only the table scans")
    parser.add_argument("--skip-load", action="store_true",
                        help="reuse the data a previous run left in --database-url (after a change to the queries)")
    args = parser.parse_args()

    from flask_migrate import upgrade

    from app import create_app
    from app.auth.models import User
    from app.config import TestConfig
    from app.extensions import db
    from tests.conftest import reset_schema
    url = args.database_url or "sqlite:///" + str(Path(tempfile.mkdtemp(prefix="wuyi-lists-", dir=args.tmpdir))
                                                 / "lists.sqlite")
    app = create_app({"SQLALCHEMY_DATABASE_URI": url}, config_class=TestConfig)
    results = []
    with app.app_context():
        t0 = time.perf_counter()
        if args.skip_load:
            from app.cases.models import Case
            sizes = {"cases": db.session.execute(sa.select(sa.func.count(Case.id))).scalar_one()}
        else:
            reset_schema(db.engine)
            upgrade()
            sizes = build(db.session, args.cases, args.seed)
            sizes.update(add_caseworkers(db.session))
        vacuum_analyze(db.session)
        load_seconds = time.perf_counter() - t0
        dialect = db.engine.dialect.name
        print(f"database: {dialect}  ({db.engine.url.render_as_string(hide_password=True)})")
        print(f"loaded in {load_seconds:.1f} s: " + ", ".join(f"{k} {v}" for k, v in sizes.items()))
        capture = Capture(db.engine)
        users = {name: db.session.execute(sa.select(User).where(User.username == name)).scalar_one()
                 for name in ("admin", "sup", "worker", "caller", "applicant", "agency")}
        for label, run in lists(users):
            timings, outcome, plans = measure(run, args.repeat, capture, db.session)
            results.append({"list": label, "median_ms": statistics.median(timings), "min_ms": min(timings),
                            "max_ms": max(timings), "statements": len(plans),
                            "result": f"{outcome.total} rows, page of {len(_rows(outcome))}",
                            "plans": [{"sql": " ".join(s.split()), "plan": p, "scans": scans(p)} for s, p, *_ in plans]})
        db.session.remove()

    print()
    print(f"{'list (first page unless said)':40} {'median ms':>10} {'min':>8} {'max':>8} {'SQL':>4}  result")
    for r in results:
        flag = "" if r["median_ms"] < TARGET_MS else f"  > {TARGET_MS} ms"
        print(f"{r['list']:40} {r['median_ms']:10.1f} {r['min_ms']:8.1f} {r['max_ms']:8.1f} {r['statements']:4}  "
              f"{r['result']}{flag}")
    print()
    for r in results:
        shown = [p for p in r["plans"] if args.plans or p["scans"]]
        if not shown:
            continue
        print(f"== {r['list']}")
        for p in shown:
            print(f"-- {p['sql'][:200]}{'…' if len(p['sql']) > 200 else ''}")
            for line in p["plan"]:
                print("   " + line)
    all_scans = sorted({s for r in results for p in r["plans"] for s in p["scans"]})
    print("table scans:", all_scans or "none")
    out = ROOT / "bench" / "results" / "lists_bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"when": datetime.now(timezone.utc).isoformat(), "database": dialect,
                               "cases": sizes["cases"], "repeat": args.repeat, "load_seconds": load_seconds,
                               "sizes": sizes, "results": results,
                               "machine": {"platform": platform.platform(), "python": platform.python_version()}},
                              ensure_ascii=False, indent=1, default=str))
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
