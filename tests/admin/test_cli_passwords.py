"""The password rules in the command line: `flask users create` and `flask users set-password`."""
from __future__ import annotations

import pytest

from tests.admin.conftest import audit_rows, user_row


@pytest.mark.parametrize("password, message", [
    ("short", "至少 8 位"),
    ("wangwu2026", "不能与用户名相同，也不能包含用户名"),
    ("12345678", "过于常见"),
    ("Password123", "过于常见"),
])
def test_users_create_refuses_a_password_that_breaks_a_rule(app, password, message):
    result = app.test_cli_runner().invoke(args=["users", "create", "wangwu", "--password", password])
    assert result.exit_code != 0 and message in result.output, result.output
    assert user_row("wangwu") is None


def test_users_create_accepts_a_good_password(app):
    result = app.test_cli_runner().invoke(args=["users", "create", "wangwu", "--password", "Ok-pass-2026"])
    assert result.exit_code == 0, result.output


def test_set_password_applies_the_rules_forces_a_change_and_audits(app, seeded):
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["users", "set-password", "qa1", "--password", "11111111"])
    assert bad.exit_code != 0 and "过于常见" in bad.output
    unknown = runner.invoke(args=["users", "set-password", "nobody", "--password", "Ok-pass-2026"])
    assert unknown.exit_code != 0 and "找不到用户 nobody" in unknown.output
    ok = runner.invoke(args=["users", "set-password", "qa1", "--password", "Ok-pass-2026"])
    assert ok.exit_code == 0 and "must change at next login: yes" in ok.output
    assert user_row("qa1").must_change_password
    event, = audit_rows("password_reset")
    assert event.actor_id is None and "flask users set-password" in event.data["reason"]
    keep = runner.invoke(args=["users", "set-password", "qa1", "--no-must-change", "--password", "Ok-pass-2027"])
    assert keep.exit_code == 0 and not user_row("qa1").must_change_password
