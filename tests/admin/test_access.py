"""Only administrators reach /admin: anonymous → the login page, everyone else → 403; nothing changes."""
from __future__ import annotations

import pytest

from tests.admin.conftest import user_row

PAGES = ["/admin", "/admin/users", "/admin/users/new", "/admin/users/1", "/admin/groups", "/admin/groups/1",
         "/admin/calendar", "/admin/calendar?year=2027", "/admin/audit", "/admin/audit/identity", "/admin/audit.csv"]
POSTS = ["/admin/users/new", "/admin/users/{id}/profile", "/admin/users/{id}/groups", "/admin/users/{id}/active",
         "/admin/users/{id}/unlock", "/admin/users/{id}/password", "/admin/groups/new", "/admin/groups/1",
         "/admin/calendar/2027/mark", "/admin/calendar/override", "/admin/calendar/load"]


def test_admin_sees_every_page(admin):
    for path in PAGES:
        resp = admin.get(path, follow_redirects=True)
        assert resp.status_code == 200, (path, resp.get_data(as_text=True)[:300])
    assert "系统管理" in admin.get("/admin/users").get_data(as_text=True)


def test_anonymous_is_sent_to_the_login_page(seeded, browser):
    anon = browser()
    for path in PAGES:
        resp = anon.get(path)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"], path


@pytest.mark.parametrize("username", ["handler1", "supervisor", "designer", "intake1", "applicant1"])
def test_everyone_else_is_refused_pages_and_changes(seeded, browser, username):
    other = browser(username)
    assert "系统管理" not in other.get("/tasks").get_data(as_text=True)    # no nav link either
    for path in PAGES:
        resp = other.get(path)
        assert resp.status_code == 403, path
        assert "只有系统管理员可以访问管理页面" in resp.get_data(as_text=True)
    target = user_row("qa1")
    for path in POSTS:
        resp = other.post(path.format(id=target.id), {"display_name": "改名", "reason": "试图越权",
                                                      "active": "0", "password": "Another-pass-9",
                                                      "username": "intruder", "title": "越权组", "name": "evil",
                                                      "kind": "lane", "official": "0", "day": "2027-01-04",
                                                      "is_working": "rest", "step": "save"})
        assert resp.status_code == 403, path
    after = user_row("qa1")
    assert after.display_name == target.display_name and after.is_active_user
    assert user_row("intruder") is None


def test_the_admin_api_is_refused_to_everyone_else(seeded, api):
    assert api.get("/api/v1/admin/users").status_code == 401
    for username in ("handler1", "supervisor", "designer"):
        resp = api.get("/api/v1/admin/users", user=username)
        assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
        resp = api.post(f"/api/v1/admin/users/{user_row('qa1').id}/unlock", user=username, json={"reason": "x"})
        assert resp.status_code == 403
    body = api.get("/api/v1/admin/users", user="admin").get_json()
    assert {"username": "qa1", "display_name": "审核员 苏审核"}.items() <= next(
        u for u in body["items"] if u["username"] == "qa1").items()
