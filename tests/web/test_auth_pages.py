"""Login, logout and CSRF on the pages."""
from __future__ import annotations

from tests.web.helpers import PASSWORD


def test_pages_need_a_login(units, browser):
    resp = browser.get("/tasks")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    page = browser.get(resp.headers["Location"])
    assert "请先登录" in browser.text(page)


def test_login_then_logout(units, browser):
    page = browser.get("/login")
    assert page.status_code == 200 and "用户名" in browser.text(page) and "密码" in browser.text(page)
    browser.login("intake1")
    inbox = browser.get("/tasks")
    assert inbox.status_code == 200
    assert "受理员 李受理" in browser.text(inbox) and "待办任务" in browser.text(inbox)
    out = browser.post("/logout")
    assert out.status_code == 302 and out.headers["Location"].endswith("/login")
    assert browser.get("/tasks").status_code == 302


def test_wrong_password_and_missing_fields_say_so_in_chinese(units, browser):
    wrong = browser.post("/login", {"username": "intake1", "password": "not-the-password"})
    assert wrong.status_code == 401
    assert "用户名或密码不正确" in browser.text(wrong)
    assert 'value="intake1"' in browser.text(wrong)          # the username is kept
    empty = browser.post("/login", {"username": "", "password": ""})
    assert empty.status_code == 400
    assert "请输入用户名" in browser.text(empty) and "请输入密码" in browser.text(empty)


def test_a_post_without_the_csrf_token_is_refused(units, browser):
    refused = browser.post("/login", {"username": "intake1", "password": PASSWORD}, csrf=False)
    assert refused.status_code == 400
    assert "安全校验" in browser.text(refused) and "Traceback" not in browser.text(refused)
    browser.login("intake1")
    assert browser.post("/logout", csrf=False).status_code == 400
    assert browser.post("/logout", {"csrf_token": "forged"}, csrf=False).status_code == 400
    assert browser.get("/tasks").status_code == 200           # still logged in


def test_login_never_redirects_off_site(units, browser):
    browser.get("/login")
    resp = browser.post("/login?next=https://evil.example/x", {"username": "intake1", "password": PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"] == "/tasks"
    browser.token = None                 # a new session at login: take the new token from a page
    browser.get("/tasks")
    assert browser.post("/logout").status_code == 302
    browser.get("/login")
    resp = browser.post("/login?next=/notifications", {"username": "intake1", "password": PASSWORD})
    assert resp.headers["Location"] == "/notifications"


def test_a_form_left_open_for_two_hours_still_submits(units, browser, monkeypatch):
    """The CSRF token lives as long as the session: a long form filled slowly is not lost."""
    import time as clock
    browser.login("intake1")
    token = browser.csrf()
    later = clock.time() + 2 * 3600
    monkeypatch.setattr(clock, "time", lambda: later)
    resp = browser.post("/notifications/read", {"csrf_token": token})
    assert resp.status_code == 303
