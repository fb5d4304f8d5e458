"""An administrator in a real browser: creates an account (first with a common password: the message
at the field, nothing typed lost), puts it in a unit, resets its password; the new user logs in and is
led to the change-password page; the organisation tree, the calendar with a preview of an override, and
the audit log with the changes. A caseworker is refused every admin page (and the nav has no link)."""
from __future__ import annotations

import re

from tests.browser.conftest import ARTIFACTS


def _shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _login(page, base: str, username: str, password: str = "demo12345") -> None:
    page.goto(base + "/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]:has-text('登录')")
    page.wait_for_load_state()


def _logout(page) -> None:
    page.click("button:has-text('退出')")
    page.wait_for_url(re.compile(r"/login"))


def test_an_administrator_manages_an_account_and_a_caseworker_is_refused(live_server, page):
    base = live_server.url
    _login(page, base, "admin")
    page.click("nav.mainnav a:has-text('系统管理')")
    page.wait_for_url(re.compile(r"/admin/users"))
    assert "handler1" in page.inner_text("table.list")
    _shot(page, "a01-admin-users")

    page.click("a:has-text('新建用户')")
    page.fill("#f_username", "zhao.liu")
    page.fill("#f_display_name", "经办人 赵六（台山市政府）")
    page.fill("#f_phone", "0750-5501234")
    page.fill("#f_email", "zhao.liu@jiangmen.gov.cn")
    page.fill("#f_password", "12345678")
    page.get_by_label("台山市人民政府", exact=True).check()
    page.fill("#f_reason", "新入职")
    page.click("button:has-text('新建用户')")
    assert "过于常见" in page.inner_text("#f_password-error")
    assert page.input_value("#f_display_name") == "经办人 赵六（台山市政府）"
    assert page.get_by_label("台山市人民政府", exact=True).is_checked()
    _shot(page, "a02-admin-new-user-refused")
    page.fill("#f_password", "Taishan-2026")
    page.click("button:has-text('新建用户')")
    page.wait_for_url(re.compile(r"/admin/users/\d+$"))
    assert "首次登录时须修改初始密码" in page.inner_text(".alert.success")
    assert page.get_by_label("台山市人民政府", exact=True).is_checked()
    _shot(page, "a03-admin-user-edit")

    page.click("a:has-text('用户组与单位')")
    assert "台山市人民政府负责人" in page.inner_text(".org-tree")
    _shot(page, "a04-admin-groups")

    page.click("nav.tabs a:has-text('工作日历')")
    page.click("a:has-text('→')")
    page.wait_for_url(re.compile(r"year=\d+"))
    page.fill("#o_day", "2027-01-04")
    page.check("input[name=is_working][value=rest]")
    page.fill("#o_reason", "台风停工")
    page.click("button:has-text('预览影响')")
    assert "保存后将调整的办理时限" in page.inner_text(".preview")
    _shot(page, "a05-admin-calendar-preview")
    page.click("button:has-text('确认保存')")
    assert "已将 2027-01-04 设为休息日" in page.inner_text(".alert.success")

    page.click("nav.tabs a:has-text('审计日志')")
    table = page.inner_text("table.list")
    assert "新建用户" in table and "调整工作日" in table and "台风停工" in table
    _shot(page, "a06-admin-audit")
    page.click("nav.tabs a:has-text('身份信息查阅')")
    assert "身份信息查阅" in page.inner_text("nav[aria-label=审计日志] [aria-current=page]")
    assert page.errors == []
    _logout(page)

    # the new user must change the initial password before anything else
    _login(page, base, "zhao.liu", "Taishan-2026")
    page.wait_for_url(re.compile(r"/password/change"))
    assert "您的密码由系统管理员设置" in page.inner_text(".alert.info")
    page.fill("#f_current_password", "Taishan-2026")
    page.fill("#f_new_password", "Taishan-2027-new")
    page.fill("#f_confirm_password", "Taishan-2027-new")
    _shot(page, "a07-change-password")
    page.click("button:has-text('修改密码')")
    assert "密码已修改" in page.inner_text(".alert.success")
    assert "/password/change" not in page.url
    _logout(page)

    # a caseworker: no link, and every admin page refused
    _login(page, base, "handler1")
    assert page.locator("nav.mainnav a:has-text('系统管理')").count() == 0
    for path in ("/admin/users", "/admin/groups", "/admin/calendar", "/admin/audit"):
        response = page.goto(base + path)
        assert response.status == 403
        assert "只有系统管理员可以访问管理页面" in page.inner_text("main")
    _shot(page, "a08-admin-refused")
