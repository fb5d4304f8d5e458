"""The JSON API with a browser session: reading works, a change needs the page's CSRF token (another
site could otherwise make a logged-in browser act), a bearer token needs none."""
from __future__ import annotations

from tests.web.helpers import PASSWORD

XML = "<definitions/>"


def test_a_change_through_the_api_with_the_session_alone_is_refused(browser, units):
    browser.login("designer")
    assert browser.get("/api/v1/notifications").status_code == 200          # reading: fine
    for path, kw in [("/api/v1/notifications/read", {"json": {}}),
                     ("/api/v1/designer/deploy?message=x", {"data": XML, "content_type": "application/xml"})]:
        resp = browser._call("post", path, **kw)
        assert resp.status_code == 403, (path, resp.status_code)
        assert resp.get_json()["error"]["code"] == "csrf_failed"
        assert "X-CSRFToken" in resp.get_json()["error"]["message"]
        wrong = browser._call("post", path, headers={"X-CSRFToken": "forged"}, **kw)
        assert wrong.status_code == 403, path
        junk = browser._call("post", path, headers={"Authorization": "Bearer junk"}, **kw)   # not a way round
        assert junk.status_code == 401, path


def test_the_pages_token_or_a_bearer_token_lets_the_change_through(browser, units, app):
    browser.login("designer")
    resp = browser._call("post", "/api/v1/notifications/read", json={}, headers={"X-CSRFToken": browser.csrf()})
    assert resp.status_code == 200, resp.get_json()
    token = app.test_client().post("/api/v1/auth/token", json={"username": "designer", "password": PASSWORD}
                                   ).get_json()["token"]
    with app.app_context():
        resp = app.test_client().post("/api/v1/notifications/read", json={},
                                      headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.get_json()


def test_a_page_fetch_with_an_expired_token_gets_json_and_a_form_gets_the_page(browser, units):
    browser.login("designer")
    resp = browser._call("post", "/designer/forms/preview", json={"schema": "{}"},
                         headers={"Accept": "application/json", "X-CSRFToken": "expired"})
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "csrf_failed"
    assert "刷新页面" in resp.get_json()["error"]["message"]
    page = browser.post("/cases/1/comments", {"body": "x", "csrf_token": "expired"})
    assert page.status_code == 400 and page.mimetype == "text/html" and "刷新页面" in browser.text(page)


def test_a_valid_token_beside_the_session_cookie_is_used(browser, units, app):
    """A script run from a logged-in browser sends both: the token decides, no CSRF token needed."""
    browser.login("designer")
    token = app.test_client().post("/api/v1/auth/token", json={"username": "intake1", "password": PASSWORD}
                                   ).get_json()["token"]
    resp = browser._call("post", "/api/v1/notifications/read", json={}, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.get_json()
