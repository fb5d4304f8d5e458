"""The outbox sender against a local SMTP sink: after commit only, once only, retries, failures, claims."""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from .conftest import closed_port

T0 = datetime(2025, 9, 29, 2, 0, tzinfo=timezone.utc)
NOTHING = {"sent": 0, "failed": 0, "retried": 0}


def _outbox(db):
    from app.notifications.models import EmailMessage
    db.session.expire_all()
    return db.session.execute(sa.select(EmailMessage).order_by(EmailMessage.id)).scalars().all()


def _queue(db, make_user, *names, title="催办：请尽快办理", body="您有一件企业诉求即将超期，请及时处理。"):
    from app.notifications.services import notify
    users = [make_user(n) for n in names]
    notify([u.id for u in users], "remind", title, body, now=T0)
    db.session.commit()
    return users


def test_delivers_utf8_subject_body_and_sender_name_intact(db, make_user, sink):
    from app.notifications.services import send_pending_emails
    _queue(db, make_user, "zhang", title="催办通知书：JM-2025-0929-000123 超期未办结", body="张三同志：\n请于今日办结。\n——五邑流程")
    stats = send_pending_emails(now=T0)
    assert stats == {"sent": 1, "failed": 0, "retried": 0}
    [got] = sink.messages
    assert got.rcpt_tos == ["zhang@wuyi.test"] and got.mail_from == "noreply@wuyi.test"
    assert got.message["Subject"] == "催办通知书：JM-2025-0929-000123 超期未办结"
    assert got.message["From"].addresses[0].display_name == "五邑流程"
    assert got.message.get_content_charset() == "utf-8"
    assert got.message.get_content().rstrip("\n") == "张三同志：\n请于今日办结。\n——五邑流程"
    assert got.data.isascii(), "headers and body are encoded for a 7-bit server (no SMTPUTF8 advertised)"
    [row] = _outbox(db)
    assert (row.status, row.attempts, row.sent_at, row.claim_token) == ("sent", 1, T0, None)
    assert got.message["Message-ID"] == f"<outbox-{row.id}.20250929020000@wuyi.test>"


def test_dot_lines_survive_the_smtp_transparency_rule(db, make_user, sink):
    from app.notifications.services import send_pending_emails
    body = ".hidden\n..two dots\n.\nend"
    _queue(db, make_user, "li", title="ascii body", body=body)
    send_pending_emails(now=T0)
    assert sink.messages[0].message.get_content().rstrip("\n") == body


def test_a_rolled_back_transaction_sends_nothing_a_committed_one_does(db, make_user, sink):
    from app.notifications.services import notify, send_pending_emails
    user = make_user("zhang")
    db.session.commit()
    notify([user.id], "overdue", "超期：这封不应发出")
    db.session.rollback()
    assert send_pending_emails(now=T0) == NOTHING and sink.messages == []
    notify([user.id], "overdue", "超期：这封应发出")
    db.session.commit()
    assert send_pending_emails(now=T0)["sent"] == 1
    assert [m.message["Subject"] for m in sink.messages] == ["超期：这封应发出"]


def test_running_the_sender_twice_sends_each_message_once(db, make_user, sink):
    from app.notifications.services import send_pending_emails, send_pending_emails_job
    _queue(db, make_user, "a", "b", "c")
    assert send_pending_emails(now=T0)["sent"] == 3
    assert send_pending_emails(now=T0) == NOTHING
    assert send_pending_emails(now=T0 + timedelta(days=1)) == NOTHING
    assert send_pending_emails_job() == NOTHING
    assert sorted(r.rcpt_tos[0] for r in sink.messages) == ["a@wuyi.test", "b@wuyi.test", "c@wuyi.test"]


def test_the_job_sends_with_the_real_clock(db, make_user, sink):
    from app.notifications.services import send_pending_emails_job
    _queue(db, make_user, "a")
    assert send_pending_emails_job() == {"sent": 1, "failed": 0, "retried": 0}
    assert len(sink.messages) == 1


def test_limit_bounds_one_batch(db, make_user, sink):
    from app.notifications.services import send_pending_emails
    _queue(db, make_user, "a", "b", "c")
    assert send_pending_emails(now=T0, limit=2)["sent"] == 2
    assert [m.status for m in _outbox(db)] == ["sent", "sent", "pending"]   # oldest first
    assert send_pending_emails(now=T0, limit=2)["sent"] == 1


def test_a_refused_recipient_is_retried_with_backoff_then_failed_others_still_go(db, make_user, sink, app,
                                                                                   monkeypatch):
    from app.notifications.services import notify, send_pending_emails
    monkeypatch.setitem(app.config, "MAIL_MAX_ATTEMPTS", 3)
    sink.refuse["bad@wuyi.test"] = 451
    _queue(db, make_user, "good", "bad", "late")
    assert send_pending_emails(now=T0) == {"sent": 2, "failed": 0, "retried": 1}
    good, bad, late = _outbox(db)
    assert (good.status, late.status) == ("sent", "sent")
    assert (bad.status, bad.attempts, bad.next_attempt_at) == ("pending", 1, T0 + timedelta(minutes=1))
    assert "451" in bad.last_error and "bad@wuyi.test" in bad.last_error

    # not due yet: nothing happens
    assert send_pending_emails(now=T0 + timedelta(seconds=59)) == NOTHING
    # a mail queued meanwhile is not held up by the failing one
    notify([make_user("new").id], "info", "新消息", now=T0)
    db.session.commit()
    t1 = T0 + timedelta(minutes=1)
    assert send_pending_emails(now=t1) == {"sent": 1, "failed": 0, "retried": 1}
    bad = _outbox(db)[1]
    assert (bad.status, bad.attempts, bad.next_attempt_at) == ("pending", 2, t1 + timedelta(minutes=5))

    assert send_pending_emails(now=t1 + timedelta(minutes=4)) == NOTHING
    t2 = t1 + timedelta(minutes=5)
    assert send_pending_emails(now=t2) == {"sent": 0, "failed": 1, "retried": 0}
    bad = _outbox(db)[1]
    assert (bad.status, bad.attempts, bad.next_attempt_at) == ("failed", 3, None)
    assert "451" in bad.last_error
    assert send_pending_emails(now=t2 + timedelta(days=30)) == NOTHING      # failed is final
    assert sorted(r.rcpt_tos[0] for r in sink.messages) == ["good@wuyi.test", "late@wuyi.test", "new@wuyi.test"]


def test_backoff_schedule():
    from app.notifications.services import retry_delay
    assert [retry_delay(n) for n in (1, 2, 3, 4, 5, 9)] == [
        timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
        timedelta(hours=6), timedelta(hours=6)]


def test_a_permanently_refused_recipient_fails_at_once(db, make_user, sink):
    from app.notifications.services import send_pending_emails
    sink.refuse["nobody@wuyi.test"] = 550
    _queue(db, make_user, "nobody", "somebody")
    assert send_pending_emails(now=T0) == {"sent": 1, "failed": 1, "retried": 0}
    nobody, somebody = _outbox(db)
    assert (nobody.status, nobody.attempts) == ("failed", 1) and "550" in nobody.last_error
    assert somebody.status == "sent"


def test_a_server_that_refuses_everything_then_recovers(db, make_user, sink):
    from app.notifications.services import send_pending_emails
    sink.fail_all = 451
    _queue(db, make_user, "a", "b")
    assert send_pending_emails(now=T0) == {"sent": 0, "failed": 0, "retried": 2}
    assert sink.messages == []
    sink.fail_all = None
    assert send_pending_emails(now=T0 + timedelta(minutes=1)) == {"sent": 2, "failed": 0, "retried": 0}
    assert [(m.status, m.attempts) for m in _outbox(db)] == [("sent", 2), ("sent", 2)]


def test_an_unreachable_server_counts_one_attempt_per_message_and_raises_nothing(db, make_user, app,
                                                                                  monkeypatch, mail_config):
    from app.notifications.services import send_pending_emails
    monkeypatch.setitem(app.config, "MAIL_SERVER", "127.0.0.1")
    monkeypatch.setitem(app.config, "MAIL_PORT", closed_port())
    _queue(db, make_user, "a", "b")
    assert send_pending_emails(now=T0) == {"sent": 0, "failed": 0, "retried": 2}
    rows = _outbox(db)
    assert all(r.status == "pending" and r.attempts == 1 and r.claim_token is None for r in rows)
    assert all("ConnectionRefusedError" in r.last_error for r in rows)


def test_smtp_login_uses_the_configured_credentials(db, make_user, sink, app, monkeypatch):
    from app.notifications.services import send_pending_emails
    sink.credentials = ("wuyi", "s3cret-pass")
    monkeypatch.setitem(app.config, "MAIL_USERNAME", "wuyi")
    monkeypatch.setitem(app.config, "MAIL_PASSWORD", "wrong")
    _queue(db, make_user, "a")
    assert send_pending_emails(now=T0) == {"sent": 0, "failed": 0, "retried": 1}
    assert "535" in _outbox(db)[0].last_error and sink.messages == []
    monkeypatch.setitem(app.config, "MAIL_PASSWORD", "s3cret-pass")
    assert send_pending_emails(now=T0 + timedelta(minutes=1))["sent"] == 1
    assert len(sink.messages) == 1


def test_a_bad_address_in_the_outbox_fails_without_retrying(db, sink):
    from app.notifications.models import EmailMessage
    from app.notifications.services import send_pending_emails
    db.session.add_all([EmailMessage(to_addr="x@wuyi.test\nBcc: y@wuyi.test", subject="s", body="b", created_at=T0),
                        EmailMessage(to_addr="ok@wuyi.test", subject="s", body="b", created_at=T0)])
    db.session.commit()
    assert send_pending_emails(now=T0) == {"sent": 1, "failed": 1, "retried": 0}
    assert [m.rcpt_tos for m in sink.messages] == [["ok@wuyi.test"]]


def test_a_claim_left_by_a_crashed_sender_is_taken_over_after_ten_minutes(db, make_user, sink):
    from app.notifications.models import EmailMessage
    from app.notifications.services import send_pending_emails
    _queue(db, make_user, "old", "recent")
    old, recent = _outbox(db)
    db.session.execute(sa.update(EmailMessage).where(EmailMessage.id == old.id)
                       .values(status="sending", claim_token="dead-sender", claimed_at=T0 - timedelta(minutes=11)))
    db.session.execute(sa.update(EmailMessage).where(EmailMessage.id == recent.id)
                       .values(status="sending", claim_token="busy-sender", claimed_at=T0 - timedelta(minutes=5)))
    db.session.commit()
    assert send_pending_emails(now=T0) == {"sent": 1, "failed": 0, "retried": 0}
    old, recent = _outbox(db)
    assert old.status == "sent" and (recent.status, recent.claim_token) == ("sending", "busy-sender")
    assert [m.rcpt_tos for m in sink.messages] == [["old@wuyi.test"]]


def test_a_sender_that_loses_its_claim_does_not_overwrite_the_new_owner(db, make_user, sink):
    """If another sender took the message over meanwhile, the late finisher writes nothing."""
    from app.notifications.models import EmailMessage
    from app.notifications.services import send_pending_emails

    class Hijacked:
        """Sends, then (as if this sender stalled past the stale limit) another sender re-claims the row."""
        def __init__(self, real):
            self.real = real

        def send_message(self, msg, **kw):
            self.real.send_message(msg, **kw)
            db.session.execute(sa.update(EmailMessage).values(claim_token="other-sender"))
            db.session.commit()

        def quit(self):
            self.real.quit()

    from app.notifications.services import connect_smtp
    _queue(db, make_user, "a")
    assert send_pending_emails(now=T0, smtp_factory=lambda: Hijacked(connect_smtp())) == NOTHING
    [row] = _outbox(db)
    assert (row.status, row.claim_token, row.attempts) == ("sending", "other-sender", 0)


def test_an_unexpected_error_hands_the_claimed_messages_back(db, make_user, sink):
    from app.notifications.services import send_pending_emails

    class Stop(BaseException):
        """Not an SMTP problem (think KeyboardInterrupt): it propagates."""

    class Exploding:
        def send_message(self, msg, **kw):
            raise Stop

        def quit(self):
            pass

    _queue(db, make_user, "a", "b")
    with pytest.raises(Stop):
        send_pending_emails(now=T0, smtp_factory=Exploding)
    assert [(m.status, m.claim_token, m.attempts) for m in _outbox(db)] == [("pending", None, 0)] * 2
    assert send_pending_emails(now=T0)["sent"] == 2


def test_two_concurrent_senders_never_send_one_message_twice(app, db, make_user, sink):
    """Two threads, each with its own app context and session, drain one outbox on the same database."""
    from app.notifications.services import connect_smtp, send_pending_emails
    if db.engine.dialect.name == "sqlite":
        assert db.engine.url.database and db.engine.url.database != ":memory:", "needs a file database"
    names = [f"u{i:03d}" for i in range(60)]
    _queue(db, make_user, *names)
    barrier = threading.Barrier(2)
    results: dict[str, list[dict]] = {"A": [], "B": []}
    errors: list[BaseException] = []

    class Slow:
        """Widens the window between claim and finish, where a double claim would show."""
        def __init__(self):
            self.real = connect_smtp()

        def send_message(self, msg, **kw):
            time.sleep(0.002)
            self.real.send_message(msg, **kw)

        def quit(self):
            self.real.quit()

    def sender(name):
        try:
            with app.app_context():
                barrier.wait(10)
                while True:
                    stats = send_pending_emails(now=T0, limit=4, smtp_factory=Slow)
                    results[name].append(stats)
                    if not any(stats.values()):
                        break
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(n,)) for n in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and not any(t.is_alive() for t in threads)

    received = [r.rcpt_tos[0] for r in sink.messages]
    assert len(received) == 60 and sorted(received) == sorted(f"{n}@wuyi.test" for n in names)
    assert len({r.message["Message-ID"] for r in sink.messages}) == 60
    assert sum(s["sent"] for runs in results.values() for s in runs) == 60
    assert all((m.status, m.attempts) == ("sent", 1) for m in _outbox(db))
