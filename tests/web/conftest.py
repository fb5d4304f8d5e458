"""Fixtures for the caseworker pages: CSRF on, a browser-like client, a small fixture process with
two handling units (unit_a, unit_b) beside the demo users and the shipped diagrams."""
from __future__ import annotations

import pytest

from tests.web.helpers import FIXTURE_BPMN, FIXTURE_FORMS, PASSWORD, Browser


@pytest.fixture(autouse=True)
def csrf_on(app):
    """The pages as in production: every POST needs its CSRF token (TestConfig turns it off for the API)."""
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


@pytest.fixture
def browser(app):
    return Browser(app)


@pytest.fixture
def make_browser(app):
    return lambda: Browser(app)


@pytest.fixture
def units(app, db):
    """Demo users and groups, two handling units with one user each, the fixture process deployed."""
    from app.auth import services as auth
    from app.auth.models import GroupKind
    from app.processes.deploy import deploy_file
    from app.seed import seed_demo_users
    seed_demo_users(PASSWORD)
    unit_a = auth.ensure_group("unit_a", "甲单位", GroupKind.UNIT)
    unit_b = auth.ensure_group("unit_b", "乙单位", GroupKind.UNIT)
    auth.create_or_update_user("ua1", PASSWORD, "甲单位 经办人", [unit_a])
    auth.create_or_update_user("ub1", PASSWORD, "乙单位 经办人", [unit_b])
    db.session.commit()
    outcomes = [o for path in FIXTURE_BPMN for o in deploy_file(path, forms_dir=str(FIXTURE_FORMS))]
    assert all(not o.problems for o in outcomes), [str(p) for o in outcomes for p in o.problems]
    return outcomes
