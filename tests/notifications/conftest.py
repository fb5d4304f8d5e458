"""Fixtures: the notification tables, users, and a local SMTP sink wired into the app's MAIL_* settings.

The models are imported inside fixtures only: until their migration exists, importing them at
collection time would put tables on the metadata that the migrated test database lacks, and
tests/test_app.py's "migrations match the models" check would fail in runs without these tests.
"""
from __future__ import annotations

import socket

import pytest
import sqlalchemy as sa

from .smtp_sink import SmtpSink


@pytest.fixture(scope="session")
def notification_tables(app):
    """Create `notification` and `email_outbox` if the migrated database lacks them; at the end of the
    session drop only what was created here (once the migration exists this does nothing)."""
    from app.extensions import db
    from app.notifications.models import EmailMessage, Notification
    with app.app_context():
        inspector = sa.inspect(db.engine)
        created = [t for t in (Notification.__table__, EmailMessage.__table__) if not inspector.has_table(t.name)]
        for table in created:
            table.create(db.engine)
    yield
    with app.app_context():
        for table in reversed(created):
            table.drop(db.engine, checkfirst=True)


@pytest.fixture(autouse=True)
def _notification_tables(notification_tables, db):
    """Every test here has the tables; the root `db` fixture empties them after each test."""
    yield


@pytest.fixture
def make_user(db):
    from app.auth.models import Group, User
    counter = {"n": 0}

    def make(username: str | None = None, *, email: str | None = "", active: bool = True,
             groups: tuple[str, ...] = ()) -> User:
        counter["n"] += 1
        username = username or f"user{counter['n']}"
        if email == "":
            email = f"{username}@wuyi.test"
        user = User(username=username, display_name=username, password_hash="x", email=email,
                    is_active_user=active)
        for name in groups:
            group = db.session.execute(sa.select(Group).where(Group.name == name)).scalar_one_or_none()
            if group is None:
                group = Group(name=name, title=name)
                db.session.add(group)
            user.groups.append(group)
        db.session.add(user)
        db.session.flush()
        return user
    return make


@pytest.fixture
def mail_config(app, monkeypatch):
    """MAIL_ENABLED and a sender address; the server is set by `sink` (or by the test)."""
    for key, value in {"MAIL_ENABLED": True, "MAIL_FROM": "五邑流程 <noreply@wuyi.test>",
                       "MAIL_TIMEOUT": 5, "MAIL_MAX_ATTEMPTS": 5}.items():
        monkeypatch.setitem(app.config, key, value)
    return app.config


@pytest.fixture
def sink(app, monkeypatch, mail_config):
    with SmtpSink() as running:
        monkeypatch.setitem(app.config, "MAIL_SERVER", running.host)
        monkeypatch.setitem(app.config, "MAIL_PORT", running.port)
        yield running
    assert running.errors == [], running.errors


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
