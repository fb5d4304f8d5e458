"""The bearer-token check: one statement per request, and revocation, expiry and deactivation seen
at once (nothing is cached between requests, so every node refuses a revoked token immediately)."""
from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.auth.models import ApiToken, User
from app.auth.services import user_for_token
from app.db import utcnow


def _token(api, username="admin") -> str:
    return api.token(username)


def _row(db, token: str) -> ApiToken:
    from app.auth.services import _hash_token
    return db.session.execute(sa.select(ApiToken).where(ApiToken.token_hash == _hash_token(token))).scalar_one()


class _Count:
    def __init__(self, engine):
        self.engine, self.n = engine, 0

    def _on(self, *args, **kw):
        self.n += 1

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._on)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._on)


def test_the_token_check_is_one_statement_with_the_users_groups(app, seeded, api, db):
    token = _token(api)
    with app.app_context():
        with _Count(db.engine) as count:
            user = user_for_token(token)
            assert user is not None and user.username == "admin"
            assert user.is_admin                      # the groups came with it
            names = user.group_names
        assert count.n == 1
        assert "admin" in names


def test_a_request_with_a_token_is_authenticated(seeded, api):
    assert api.get("/api/v1/tasks", "admin").status_code == 200


def test_a_revoked_token_is_refused_on_the_next_request(app, seeded, api, db):
    token = _token(api)
    headers = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/api/v1/tasks", headers=headers).status_code == 200
    with app.app_context():
        _row(db, token).revoked_at = utcnow()
        db.session.commit()
    with app.app_context():
        assert api.client.get("/api/v1/tasks", headers=headers).status_code == 401
        assert user_for_token(token) is None


def test_an_expired_token_is_refused(app, seeded, api, db):
    token = _token(api)
    with app.app_context():
        _row(db, token).expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    with app.app_context():
        assert user_for_token(token) is None
        assert api.client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_deactivated_users_token_is_refused(app, seeded, api, db):
    token = _token(api, "admin")
    with app.app_context():
        db.session.execute(sa.update(User).where(User.username == "admin").values(is_active_user=False))
        db.session.commit()
    with app.app_context():
        assert user_for_token(token) is None


def test_a_wrong_or_empty_token_is_refused(app, seeded, api):
    _token(api)
    with app.app_context():
        assert user_for_token("") is None
        assert user_for_token("not-a-token") is None
        assert api.client.get("/api/v1/tasks", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_group_change_is_seen_on_the_next_request(app, seeded, api, db):
    """No user or group cache outlives a request: a removed role is gone at once."""
    from app.auth.models import Group, user_group
    token = _token(api, "admin")
    with app.app_context():
        assert user_for_token(token).is_admin
        admin_id = db.session.execute(sa.select(User.id).where(User.username == "admin")).scalar_one()
        role_id = db.session.execute(sa.select(Group.id).where(Group.name == "admin")).scalar_one()
        db.session.execute(sa.delete(user_group).where(user_group.c.user_id == admin_id,
                                                       user_group.c.group_id == role_id))
        db.session.commit()
    with app.app_context():
        user = user_for_token(token)
        assert user is not None and not user.is_admin
