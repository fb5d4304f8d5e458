"""flask integration: add-client prints the secret once, rotate-secret replaces it (the old one stops
working), disable refuses the platform (and enable takes it back); bad input gets its message."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.integration.models import IntegrationClient
from tests.integration.conftest import HOTLINE_TICKET, Signed


def secret_of(output):
    return next(line.split(": ", 1)[1] for line in output.splitlines() if line.startswith("secret: "))


def test_a_platform_is_registered_rotated_and_disabled(app, seeded, client):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["integration", "add-client", "hotline_12345", "--callback", "https://12345.example/cb"])
    assert out.exit_code == 0, out.output
    secret = secret_of(out.output)
    assert len(secret) >= 40
    listed = runner.invoke(args=["integration", "list"])
    assert "hotline_12345" in listed.output and "https://12345.example/cb" in listed.output
    assert secret not in listed.output   # shown once, never again
    ticket = {**HOTLINE_TICKET}
    assert Signed(client, secret=secret).ticket(ticket).status_code == 201

    out = runner.invoke(args=["integration", "rotate-secret", "hotline_12345"])
    assert out.exit_code == 0
    new = secret_of(out.output)
    assert new != secret
    old = Signed(client, secret=secret).ticket({**ticket, "ticket_no": "JM-2025-0926-000200"})
    assert old.status_code == 401 and old.get_json()["error"]["code"] == "bad_signature"
    assert Signed(client, secret=new).ticket({**ticket, "ticket_no": "JM-2025-0926-000201"}).status_code == 201

    assert runner.invoke(args=["integration", "disable", "hotline_12345"]).exit_code == 0
    off = Signed(client, secret=new).ticket({**ticket, "ticket_no": "JM-2025-0926-000202"})
    assert off.status_code == 403 and off.get_json()["error"]["code"] == "platform_disabled"
    assert runner.invoke(args=["integration", "enable", "hotline_12345"]).exit_code == 0
    assert Signed(client, secret=new).ticket({**ticket, "ticket_no": "JM-2025-0926-000203"}).status_code == 201

    out = runner.invoke(args=["integration", "set-callback", "hotline_12345", "https://12345.example/v2"])
    assert out.exit_code == 0
    db.session.rollback()
    assert db.session.execute(sa.select(IntegrationClient.callback_url)).scalar_one() == "https://12345.example/v2"


def test_bad_registrations_are_refused_with_a_reason(app, db):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["integration", "add-client", "weibo", "--callback", "https://x.example/cb"])
    assert out.exit_code != 0 and "hotline_12345" in out.output   # names the platforms it knows
    out = runner.invoke(args=["integration", "add-client", "sme_platform", "--callback", "ftp://x"])
    assert out.exit_code != 0 and "回调地址应为 http:// 或 https://" in out.output
    assert runner.invoke(args=["integration", "add-client", "sme_platform", "--callback", "https://x.example"]
                         ).exit_code == 0
    out = runner.invoke(args=["integration", "add-client", "sme_platform", "--callback", "https://x.example"])
    assert out.exit_code != 0 and "已登记" in out.output
    out = runner.invoke(args=["integration", "rotate-secret", "jw_case"])
    assert out.exit_code != 0 and "尚未登记" in out.output
    assert db.session.execute(sa.select(sa.func.count(IntegrationClient.id))).scalar_one() == 1
