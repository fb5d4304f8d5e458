"""Admin tests: clients logged in through the login form (sessions, as a browser), each request in
an app context of its own."""
from __future__ import annotations

import pytest


class Browser:
    def __init__(self, app, username=None, password="demo12345"):
        self.app = app
        self.client = app.test_client()
        if username:
            resp = self.post("/login", {"username": username, "password": password})
            assert resp.status_code == 302, resp.get_data(as_text=True)[:500]

    def get(self, path, **kw):
        with self.app.app_context():
            return self.client.get(path, **kw)

    def post(self, path, data=None, **kw):
        with self.app.app_context():
            return self.client.post(path, data=data or {}, **kw)


@pytest.fixture
def browser(app):
    return lambda username=None, password="demo12345": Browser(app, username, password)


@pytest.fixture
def admin(app, seeded):
    return Browser(app, "admin")


def user_row(username):
    import sqlalchemy as sa

    from app.auth.models import User
    from app.extensions import db
    return db.session.execute(sa.select(User).where(User.username == username)
                              .execution_options(populate_existing=True)).scalar_one_or_none()


def audit_rows(action):
    import sqlalchemy as sa

    from app.audit.models import AuditEvent
    from app.extensions import db
    return list(db.session.execute(sa.select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.id)).scalars())
