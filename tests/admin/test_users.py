"""Users: create, edit, groups, disable, unlock, reset a password (then the forced change); every bad
input gets its error beside its field and keeps what was typed; every change audited with who and why."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.auth.models import Group
from app.db import utcnow
from app.extensions import db
from tests.admin.conftest import audit_rows, user_row


def _group_id(name):
    return db.session.execute(sa.select(Group.id).where(Group.name == name)).scalar_one()


NEW = {"username": "zhang.san", "display_name": "张三", "phone": "0750-3201234", "email": "zhang.san@jiangmen.gov.cn",
       "password": "Jm-handler-2026", "reason": "新入职的经办人"}


def test_create_a_user_with_groups(admin):
    data = {**NEW, "groups": [str(_group_id("jm_scjgj")), str(_group_id("intake"))]}
    resp = admin.post("/admin/users/new", data)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    user = user_row("zhang.san")
    assert user.display_name == "张三" and user.phone == "0750-3201234" and user.must_change_password
    assert user.group_names == {"jm_scjgj", "intake"}
    event, = audit_rows("user_create")
    assert event.actor_id == user_row("admin").id and event.data["reason"] == "新入职的经办人"
    assert event.data["groups"] == sorted(["江门市市场监督管理局", "受理员"])
    page = admin.get(resp.headers["Location"]).get_data(as_text=True)
    assert "首次登录时须修改初始密码" in page and "下次登录须修改密码" in page


@pytest.mark.parametrize("change, field, message", [
    ({"username": "a b"}, "username", "用户名为 2–80 位字母"),
    ({"username": "handler1"}, "username", "该用户名已被使用"),
    ({"display_name": ""}, "display_name", "请填写姓名"),
    ({"display_name": "张" * 101}, "display_name", "姓名不超过 100 个字符"),
    ({"password": "Aa-9" * 51}, "password", "密码不能超过 200 位"),
    ({"email": "not-an-email"}, "email", "电子邮箱格式不正确"),
    ({"phone": "call me"}, "phone", "电话号码只能包含数字"),
    ({"password": "short1"}, "password", "密码至少 8 位"),
    ({"password": "zhang.san2026"}, "password", "不能与用户名相同，也不能包含用户名"),
    ({"password": "password123"}, "password", "过于常见"),
    ({"password": "12345678"}, "password", "过于常见"),
    ({"reason": " "}, "reason", "请填写操作理由"),
    ({"reason": "理" * 501}, "reason", "理由不超过 500 字"),
    ({"groups": ["999999"]}, "groups", "所选用户组不存在"),
])
def test_each_bad_input_is_named_and_the_form_keeps_what_was_typed(admin, change, field, message):
    resp = admin.post("/admin/users/new", {**NEW, **change})
    text = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert f'id="f_{field}-error"' in text and message in text
    if field != "display_name":
        assert 'value="张三"' in text
    if field != "phone":
        assert "0750-3201234" in text
    assert user_row("zhang.san") is None and audit_rows("user_create") == []


def test_edit_name_phone_email(admin):
    user = user_row("qa1")
    resp = admin.post(f"/admin/users/{user.id}/profile", {"display_name": "审核员 苏审核", "phone": "13800000001",
                                                          "email": "qa1@jiangmen.gov.cn", "reason": "补录联系方式"})
    assert resp.status_code == 302
    after = user_row("qa1")
    assert after.phone == "13800000001" and after.email == "qa1@jiangmen.gov.cn"
    event, = audit_rows("user_update")
    assert event.data["changes"]["phone"] == [None, "13800000001"] and event.data["reason"] == "补录联系方式"
    bad = admin.post(f"/admin/users/{user.id}/profile", {"display_name": "", "phone": "x", "reason": ""})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "请填写姓名" in text and "电话号码只能包含数字" in text and "请填写操作理由" in text
    assert 'value="x"' in text


def test_put_in_groups_and_units(admin):
    user = user_row("handler2")
    resp = admin.post(f"/admin/users/{user.id}/groups", {"groups": [str(_group_id("jm_rsj")), str(_group_id("qa"))],
                                                         "reason": "兼任审核员"})
    assert resp.status_code == 302
    assert user_row("handler2").group_names == {"jm_rsj", "qa"}
    event, = audit_rows("user_groups")
    assert event.data["before"] == ["江门市人力资源和社会保障局"] and "审核员" in event.data["after"]
    assert admin.post(f"/admin/users/{user.id}/groups", {"groups": [], "reason": ""}).status_code == 422
    assert user_row("handler2").group_names == {"jm_rsj", "qa"}


def test_an_admin_cannot_remove_their_own_admin_role_or_disable_themselves(admin):
    me = user_row("admin")
    resp = admin.post(f"/admin/users/{me.id}/groups", {"groups": [], "reason": "误操作"})
    assert resp.status_code == 422 and "不能取消自己的系统管理员身份" in resp.get_data(as_text=True)
    resp = admin.post(f"/admin/users/{me.id}/active", {"active": "0", "reason": "误操作"})
    assert resp.status_code == 422 and "不能停用自己的账号" in resp.get_data(as_text=True)
    assert user_row("admin").is_admin and user_row("admin").is_active_user


def test_disable_stops_login_and_tokens_then_enable(admin, browser, api):
    token_ok = api.get("/api/v1/tasks", user="qa1")
    assert token_ok.status_code == 200
    user = user_row("qa1")
    assert admin.post(f"/admin/users/{user.id}/active", {"active": "0", "reason": ""}).status_code == 422
    assert user_row("qa1").is_active_user
    assert admin.post(f"/admin/users/{user.id}/active", {"active": "0", "reason": "离职"}).status_code == 302
    assert not user_row("qa1").is_active_user
    with api.app.app_context():
        assert api.client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {api.tokens['qa1']}"}).status_code == 401
    assert browser().post("/login", {"username": "qa1", "password": "demo12345"}).status_code == 401
    assert "已停用" in admin.get("/admin/users").get_data(as_text=True)
    assert admin.post(f"/admin/users/{user.id}/active", {"active": "1", "reason": "返岗"}).status_code == 302
    assert browser().post("/login", {"username": "qa1", "password": "demo12345"}).status_code == 302
    assert [e.data["reason"] for e in audit_rows("user_disable") + audit_rows("user_enable")] == ["离职", "返岗"]


def test_a_locked_user_shows_locked_and_is_unlocked_with_a_reason(admin):
    user = user_row("callback1")
    user.failed_login_count, user.locked_until = 10, utcnow() + timedelta(minutes=15)
    db.session.commit()
    listing = admin.get("/admin/users?q=callback1").get_data(as_text=True)
    assert "已锁定" in listing
    assert admin.post(f"/admin/users/{user.id}/unlock", {"reason": ""}).status_code == 422
    assert user_row("callback1").locked_until is not None
    assert admin.post(f"/admin/users/{user.id}/unlock", {"reason": "本人来电核实"}).status_code == 302
    after = user_row("callback1")
    assert after.locked_until is None and after.failed_login_count == 0
    assert "已锁定" not in admin.get("/admin/users?q=callback1").get_data(as_text=True)
    event, = audit_rows("user_unlock")
    assert event.data["reason"] == "本人来电核实"
    # not locked any more: a second unlock says so
    again = admin.post(f"/admin/users/{user.id}/unlock", {"reason": "再试"}, follow_redirects=True)
    assert "该用户未被锁定" in again.get_data(as_text=True)


def test_a_lockout_in_the_past_is_not_shown_as_locked(admin):
    user = user_row("callback1")
    user.locked_until = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert "已锁定" not in admin.get("/admin/users?q=callback1").get_data(as_text=True)


def test_the_api_unlocks_too(admin, api):
    user = user_row("callback1")
    user.failed_login_count, user.locked_until = 10, utcnow() + timedelta(minutes=15)
    db.session.commit()
    listed = next(u for u in api.get("/api/v1/admin/users?q=callback1", user="admin").get_json()["items"])
    assert listed["locked"] is True and listed["failed_login_count"] == 10
    resp = api.post(f"/api/v1/admin/users/{user.id}/unlock", user="admin", json={"reason": "核实身份"})
    assert resp.status_code == 200 and resp.get_json()["locked"] is False
    again = api.post(f"/api/v1/admin/users/{user.id}/unlock", user="admin", json={"reason": "核实身份"})
    assert again.status_code == 409
    assert api.post(f"/api/v1/admin/users/{user.id}/unlock", user="admin", json={}).status_code == 422


def test_reset_password_forces_a_change_at_next_login(admin, browser, api):
    user = user_row("qa1")
    weak = admin.post(f"/admin/users/{user.id}/password", {"password": "qa1qa1qa1", "reason": "忘记密码"})
    assert weak.status_code == 422 and "不能与用户名相同" in weak.get_data(as_text=True)
    assert admin.post(f"/admin/users/{user.id}/password", {"password": "Temp-pass-2026", "reason": "忘记密码"}
                      ).status_code == 302
    assert user_row("qa1").must_change_password
    # the API refuses work with a clear JSON error until the password is changed
    api.password = "Temp-pass-2026"
    resp = api.get("/api/v1/tasks", user="qa1")
    assert resp.status_code == 403
    assert resp.get_json()["error"] == {"code": "password_change_required",
                                        "message": "您的密码由系统管理员设置（新建账号或重置密码），请先修改为只有您知道的密码（请在网页上登录并修改密码）"}
    # the login leads to the change page, and every page leads back there
    person = browser("qa1", "Temp-pass-2026")
    resp = person.get("/tasks")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/password/change?next=/tasks")
    page = person.get("/password/change").get_data(as_text=True)
    assert "您的密码由系统管理员设置" in page and "不能是常见密码" in page
    for form, field, message in [
        ({"current_password": "wrong", "new_password": "Fresh-pass-2026", "confirm_password": "Fresh-pass-2026"},
         "current_password", "当前密码不正确"),
        ({"current_password": "Temp-pass-2026", "new_password": "password1", "confirm_password": "password1"},
         "new_password", "过于常见"),
        ({"current_password": "Temp-pass-2026", "new_password": "Temp-pass-2026", "confirm_password": "Temp-pass-2026"},
         "new_password", "不能与当前密码相同"),
        ({"current_password": "Temp-pass-2026", "new_password": "Fresh-pass-2026", "confirm_password": "Fresh-pass-2027"},
         "confirm_password", "两次输入的新密码不一致"),
    ]:
        bad = person.post("/password/change", form)
        assert bad.status_code == 422 and f'id="f_{field}-error"' in bad.get_data(as_text=True), field
        assert message in bad.get_data(as_text=True)
    assert user_row("qa1").must_change_password
    done = person.post("/password/change?next=/tasks", {"current_password": "Temp-pass-2026",
                                                        "new_password": "Fresh-pass-2026",
                                                        "confirm_password": "Fresh-pass-2026"})
    assert done.status_code == 302 and done.headers["Location"] == "/tasks"
    assert not user_row("qa1").must_change_password
    assert person.get("/tasks").status_code == 200
    assert api.get("/api/v1/tasks", user="qa1").status_code == 200
    assert [e.action for e in audit_rows("password_reset") + audit_rows("password_change")] == \
        ["password_reset", "password_change"]


def test_user_list_search(admin):
    text = admin.get("/admin/users?q=审核").get_data(as_text=True)
    assert "qa1" in text and "handler1" not in text
