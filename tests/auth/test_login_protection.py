"""Login protection (#15): throttling per account and per IP, a temporary lockout, audited,
lifted by time or by an administrator; the same answer for an unknown user."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.audit.models import AuditAction, AuditEvent
from app.auth import lockout, services
from app.db import set_clock, utcnow
from app.extensions import limiter
from tests.web.helpers import PASSWORD, Browser

TOKEN = "/api/v1/auth/token"


@pytest.fixture
def strict(app, seeded):
    """Low limits, as an attack would meet them (the suite runs with high ones)."""
    saved = {k: app.config[k] for k in ("LOGIN_LIMIT_PER_ACCOUNT", "LOGIN_LIMIT_PER_IP",
                                        "LOGIN_LOCKOUT_THRESHOLD", "LOGIN_LOCKOUT_MINUTES")}
    app.config.update(LOGIN_LIMIT_PER_ACCOUNT="1000 per hour", LOGIN_LIMIT_PER_IP="1000 per hour",
                      LOGIN_LOCKOUT_THRESHOLD=5, LOGIN_LOCKOUT_MINUTES=15)
    limiter.reset()
    yield app
    app.config.update(saved)
    limiter.reset()
    set_clock(None)


def token_call(client, username, password, ip="10.0.0.1"):
    return client.post(TOKEN, json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": ip})


def user(name):
    return services.get_user_by_username(name)


def test_forty_wrong_passwords_then_the_right_one_is_refused(strict, client):
    for _ in range(40):
        assert token_call(client, "intake1", "wrong-password").status_code in (401, 429)
    right = token_call(client, "intake1", PASSWORD)
    assert right.status_code == 401
    assert right.get_json()["error"]["message"] == lockout.LOGIN_FAILED_MESSAGE
    assert lockout.is_locked(user("intake1"))


def test_a_few_wrong_passwords_do_not_lock_and_a_success_resets_the_count(strict, client):
    for _ in range(4):
        assert token_call(client, "intake1", "wrong-password").status_code == 401
    assert token_call(client, "intake1", PASSWORD).status_code == 200
    assert user("intake1").failed_login_count == 0
    for _ in range(4):
        token_call(client, "intake1", "wrong-password")
    assert not lockout.is_locked(user("intake1"))
    assert token_call(client, "intake1", PASSWORD).status_code == 200


def test_the_lockout_is_audited_and_listed_and_ends_by_time(strict, client):
    for _ in range(5):
        token_call(client, "intake1", "wrong-password")
    locked = user("intake1")
    assert lockout.is_locked(locked) and [u.username for u in lockout.locked_users()] == ["intake1"]
    events = lockout_events(AuditAction.LOCK)
    assert len(events) == 1 and events[0].data["username"] == "intake1" and events[0].actor_id is None
    assert token_call(client, "intake1", PASSWORD).status_code == 401   # locked: the right password too
    later = utcnow() + timedelta(minutes=16)
    set_clock(lambda: later)
    assert not lockout.is_locked(user("intake1")) and lockout.locked_users() == []
    assert token_call(client, "intake1", PASSWORD).status_code == 200


def test_an_administrator_lifts_the_lock_with_a_reason(strict, client):
    for _ in range(5):
        token_call(client, "intake1", "wrong-password")
    admin = user("admin")
    with pytest.raises(Exception) as refused:
        lockout.unlock(user("intake1"), admin, "  ")
    assert "原因" in str(refused.value)
    assert lockout.unlock(user("intake1"), admin, "本人电话确认") is True
    services.db.session.commit()
    assert token_call(client, "intake1", PASSWORD).status_code == 200
    events = lockout_events(AuditAction.UNLOCK)
    assert len(events) == 1 and events[0].actor_id == admin.id and events[0].data["reason"] == "本人电话确认"
    assert lockout.unlock(user("intake1"), admin, "again") is False   # nothing to lift: no audit entry
    assert len(lockout_events(AuditAction.UNLOCK)) == 1


def lockout_events(action):
    return list(services.db.session.execute(
        sa.select(AuditEvent).where(AuditEvent.action == action)).scalars())


def test_an_unknown_user_gets_the_same_answer_and_takes_as_long(strict, client):
    known = [token_call(client, "intake1", "wrong-password") for _ in range(7)]
    unknown = [token_call(client, "nobody-here", "wrong-password") for _ in range(7)]
    for a, b in zip(known, unknown):
        assert a.status_code == b.status_code and a.get_json() == b.get_json()
    assert known[-1].status_code == 401

    def timed(name):
        start = time.perf_counter()
        for _ in range(5):
            token_call(client, name, "wrong-password", ip="10.9.9.9")
        return time.perf_counter() - start
    strict.config["PASSWORD_HASH_METHOD"] = "pbkdf2:sha256:200000"   # hashing dominates, as in production
    try:
        services.create_or_update_user("slowhash", "a-slow-password", "慢哈希", [])
        services.db.session.commit()
        lockout._dummy_hashes.clear()
        timed("slowhash"), timed("nobody-else")   # warm up
        known_t, unknown_t = timed("slowhash"), timed("nobody-else")
    finally:
        strict.config["PASSWORD_HASH_METHOD"] = "pbkdf2:sha256:1000"
    assert unknown_t > known_t * 0.5 and known_t > unknown_t * 0.5, (known_t, unknown_t)


def test_the_per_account_limit_throttles_known_and_unknown_names_alike(strict, client):
    strict.config.update(LOGIN_LIMIT_PER_ACCOUNT="3 per minute", LOGIN_LOCKOUT_THRESHOLD=100)
    for name in ("intake1", "nobody-here"):
        answers = [token_call(client, name, "wrong", ip=f"10.1.0.{i}").status_code for i in range(4)]
        assert answers == [401, 401, 401, 429], (name, answers)
    throttled = token_call(client, "intake1", PASSWORD, ip="10.1.1.1")
    assert throttled.status_code == 429
    assert throttled.get_json()["error"] == {"code": "rate_limited", "message": "登录失败次数过多，请稍后再试"}
    assert "Retry-After" in throttled.headers
    assert token_call(client, "dispatch1", PASSWORD, ip="10.1.1.1").status_code == 200   # another account


def test_the_per_ip_limit_throttles_one_address_not_the_others(strict, client):
    strict.config.update(LOGIN_LIMIT_PER_IP="5 per minute", LOGIN_LOCKOUT_THRESHOLD=100)
    for i in range(5):   # a different name each time: only the address is the same
        assert token_call(client, f"guess{i}", "wrong", ip="10.2.0.1").status_code == 401
    assert token_call(client, "intake1", PASSWORD, ip="10.2.0.1").status_code == 429
    assert token_call(client, "intake1", PASSWORD, ip="10.2.0.2").status_code == 200


def test_successful_logins_are_never_throttled(strict, client):
    strict.config.update(LOGIN_LIMIT_PER_ACCOUNT="3 per minute", LOGIN_LIMIT_PER_IP="3 per minute")
    for _ in range(10):
        assert token_call(client, "intake1", PASSWORD).status_code == 200


def test_the_login_page_locks_and_throttles_too(strict):
    page = Browser(strict)
    strict.config["WTF_CSRF_ENABLED"] = True
    try:
        for _ in range(5):
            wrong = page.post("/login", {"username": "intake1", "password": "wrong-password"})
            assert wrong.status_code == 401 and lockout.LOGIN_FAILED_MESSAGE in page.text(wrong)
        right = page.post("/login", {"username": "intake1", "password": PASSWORD})
        assert right.status_code == 401 and lockout.LOGIN_FAILED_MESSAGE in page.text(right)
        assert lockout.is_locked(user("intake1"))
        strict.config.update(LOGIN_LIMIT_PER_ACCOUNT="2 per minute")
        limiter.reset()
        for _ in range(2):
            page.post("/login", {"username": "nobody", "password": "x"})
        throttled = page.post("/login", {"username": "nobody", "password": "x"})
        assert throttled.status_code == 429
        assert "登录失败次数过多" in page.text(throttled) and 'value="nobody"' in page.text(throttled)
    finally:
        strict.config["WTF_CSRF_ENABLED"] = False


def test_cli_unlock(strict, client):
    for _ in range(5):
        token_call(client, "intake1", "wrong-password")
    runner = strict.test_cli_runner()
    listed = runner.invoke(args=["users", "locked"])
    assert listed.exit_code == 0 and "intake1" in listed.output
    done = runner.invoke(args=["users", "unlock", "intake1", "--reason", "核实身份"])
    assert done.exit_code == 0 and "unlocked user intake1" in done.output, done.output
    services.db.session.expire_all()
    assert not lockout.is_locked(user("intake1"))
    assert lockout_events(AuditAction.UNLOCK)[0].data["reason"] == "核实身份"
    again = runner.invoke(args=["users", "unlock", "intake1"])
    assert again.exit_code == 0 and "was not locked" in again.output
    missing = runner.invoke(args=["users", "unlock", "no-such-user"])
    assert missing.exit_code != 0 and "不存在" in missing.output
