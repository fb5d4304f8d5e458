"""Platform exchange benchmark: signed ticket intake (requests/s through the app, each one starting a
complaint), duplicate answers (the idempotent path), and outbox delivery (events/s POSTed by the
dispatcher to a local callback receiver, the reference client's).

    .venv/bin/python bench/integration_bench.py [-n 200] [--database-url URL]

Prints one table; writes bench/results/integration_bench.json (git-ignored). In-process (Flask test
client, no HTTP server for the intake): it measures the application's cost, not the network's.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=200, help="tickets (default 200)")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="wuyi-integration-bench-")
    url = args.database_url or f"sqlite:///{tmp}/bench.sqlite"

    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app import create_app
    from app.config import TestConfig
    from app.extensions import db
    from app.integration import outbox_backlog
    from app.integration.models import IntegrationClient, OutboxEvent
    from app.integration.signing import headers
    from tests.conftest import reset_schema
    from tests.integration.conftest import HOTLINE_TICKET
    from tests.integration.reference_client import Receiver

    app = create_app({"SQLALCHEMY_DATABASE_URI": url}, config_class=TestConfig)
    receiver = Receiver("bench-secret")
    with app.app_context():
        reset_schema(db.engine)
        upgrade()
        from app.processes.deploy import deploy_folder
        from app.seed import seed_demo_users
        seed_demo_users(app.config["DEMO_PASSWORD"])
        deploy_folder(app.config["BPMN_DIR"])
        db.session.add(IntegrationClient(name="hotline_12345", secret="bench-secret", callback_url=receiver.url))
        db.session.commit()
    client = app.test_client()

    def send(ticket_no: str, ts: int):
        body = json.dumps({**HOTLINE_TICKET, "ticket_no": ticket_no}, ensure_ascii=False).encode()
        with app.app_context():
            return client.post("/api/v1/integration/hotline_12345/tickets", data=body,
                               headers={"Content-Type": "application/json", **headers("bench-secret", ts, body)})

    now = int(time.time())
    for i in range(3):   # warm-up: caches, first connections
        send(f"WARM-{i:04d}", now)
    intake, dup = [], []
    for i in range(args.n):
        t0 = time.perf_counter()
        resp = send(f"BENCH-{i:06d}", now)
        intake.append(time.perf_counter() - t0)
        assert resp.status_code == 201, resp.get_json()
    for i in range(min(args.n, 100)):
        t0 = time.perf_counter()
        resp = send(f"BENCH-{i:06d}", now - 1)
        dup.append(time.perf_counter() - t0)
        assert resp.status_code == 200, resp.get_json()

    # outbox: one event per case (a 签收), then the dispatcher delivers them all
    with app.app_context():
        cases = db.session.execute(sa.text("select case_id from integration_ticket")).scalars().all()
        conn = db.session.connection()
        from app.db import utcnow
        from app.integration.outbox import _insert
        for case_id in cases:
            _insert(conn, 1, case_id, None, "signed_in", {"at": utcnow().isoformat()}, utcnow())
        db.session.commit()
        from app.deadlines.dispatcher import dispatch_due_jobs
        t0 = time.perf_counter()
        dispatch_due_jobs(utcnow())
        delivery = time.perf_counter() - t0
        delivered = db.session.execute(sa.select(sa.func.count(OutboxEvent.id))
                                       .where(OutboxEvent.delivered_at.is_not(None))).scalar_one()
        backlog = outbox_backlog()
    receiver.stop()

    def ms(values, q):
        return round(statistics.quantiles(values, n=100)[q - 1] * 1000, 1) if len(values) > 1 else None
    result = {
        "database": url.split(":", 1)[0], "tickets": args.n,
        "intake_per_s": round(args.n / sum(intake), 1), "intake_p50_ms": ms(intake, 50), "intake_p95_ms": ms(intake, 95),
        "duplicate_p50_ms": ms(dup, 50), "duplicate_p95_ms": ms(dup, 95),
        "events": len(cases), "delivered": delivered, "backlog_after": backlog,
        "delivery_per_s": round(delivered / delivery, 1) if delivery else None,
    }
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "integration_bench.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
