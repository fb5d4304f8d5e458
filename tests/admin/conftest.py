"""Admin tests: a browser-like client logged in by the login form (sessions, not tokens)."""
from __future__ import annotations

import pytest


def login(client, username, password="demo12345"):
    with client.application.app_context():
        return client.post("/login", data={"username": username, "password": password})


@pytest.fixture
def admin_client(app, seeded):
    client = app.test_client()
    resp = login(client, "admin")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return client
