"""Fixtures: one app per session on a migrated database (SQLite, or PostgreSQL via TEST_DATABASE_URL)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.config import TestConfig
from app.extensions import db as _db

FIXTURES = Path(__file__).parent / "fixtures"
PROJECT = Path(__file__).resolve().parent.parent


def _database_url(tmp_path_factory) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "test.sqlite")


def reset_schema(engine) -> None:
    """An empty database: drop every table (PostgreSQL: the whole public schema)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        else:
            meta = sa.MetaData()
            meta.reflect(conn)
            meta.drop_all(conn)


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    from flask_migrate import upgrade
    app = create_app({"SQLALCHEMY_DATABASE_URI": _database_url(tmp_path_factory)}, config_class=TestConfig)
    with app.app_context():
        reset_schema(_db.engine)
        upgrade()
    yield app
    with app.app_context():
        _db.engine.dispose()   # close pooled connections before the interpreter does


def clear_caches() -> None:
    from app.deadlines.due import forget_calendar
    from app.engine import definitions, runtime
    from app.processes.versions import _bundles
    forget_calendar()   # a test that loaded a year's overrides must not leave them to the next
    _bundles.clear()
    definitions._cache.clear()
    runtime._live.clear()


@pytest.fixture(autouse=True)
def db(request):
    """Each test starts with empty tables and empty caches."""
    if "app" not in request.fixturenames:
        yield None
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        yield _db
        _db.session.rollback()
        _db.session.remove()
        with _db.engine.begin() as conn:
            for table in reversed(_db.metadata.sorted_tables):
                conn.execute(table.delete())
        clear_caches()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def seeded(app, db):
    """The demo groups and users, and bpmn/ deployed."""
    from app.processes.deploy import deploy_folder
    from app.seed import seed_demo_users
    seed_demo_users(app.config["DEMO_PASSWORD"])
    outcomes = deploy_folder(app.config["BPMN_DIR"])
    assert all(not o.problems for o in outcomes), [str(p) for o in outcomes for p in o.problems]
    return outcomes


class Api:
    """A JSON client that logs in as demo users by name.

    Each call runs in a fresh app context, as in production: otherwise the test's own context
    (with its `g`, where Flask-Login caches the user, and its session) would be shared by requests.
    """

    def __init__(self, client, password="demo12345"):
        self.client = client
        self.app = client.application
        self.password = password
        self.tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self.tokens:
            with self.app.app_context():
                resp = self.client.post("/api/v1/auth/token",
                                        json={"username": username, "password": self.password})
            assert resp.status_code == 200, resp.get_json()
            self.tokens[username] = resp.get_json()["token"]
        return self.tokens[username]

    def _headers(self, user):
        return {"Authorization": f"Bearer {self.token(user)}"} if user else {}

    def _call(self, method, path, user, **kw):
        for attempt in (1, 2):
            headers = self._headers(user)
            with self.app.app_context():
                resp = getattr(self.client, method)(path, headers=headers, **kw)
            if resp.status_code != 401 or not user or attempt == 2:
                return resp
            self.tokens.pop(user, None)   # an injected clock moved past the token's expiry: log in again
        return resp

    def get(self, path, user=None, **kw):
        return self._call("get", path, user, **kw)

    def post(self, path, user=None, json=None, **kw):
        return self._call("post", path, user, json=json if json is not None else {}, **kw)


@pytest.fixture
def api(client):
    return Api(client)


def deploy_fixture(name: str, forms_dir: Path | None = None):
    """Deploy tests/fixtures/bpmn/<name>; assert it deployed."""
    from app.processes.deploy import deploy_file
    outcomes = deploy_file(FIXTURES / "bpmn" / name, forms_dir=str(forms_dir or FIXTURES / "forms"))
    assert all(not o.problems for o in outcomes), [str(p) for o in outcomes for p in o.problems]
    return outcomes


@pytest.fixture
def clock():
    """The application clock, injected: clock.set(aware datetime) moves services, scripts and BPMN timers."""
    from datetime import timezone

    from app.db import set_clock

    class Clock:
        def set(self, when):
            set_clock(lambda: when.astimezone(timezone.utc))
    return Clock()


@pytest.fixture(autouse=True)
def _real_clock_after_each_test():
    """A test may inject the application clock (app.db.set_clock); the next test starts on real time."""
    yield
    from app.db import set_clock
    set_clock(None)
