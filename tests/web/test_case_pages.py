"""The case page: summary, masking of a reporter's identity, timeline, comments, diagram, and the
isolation of handling units from each other's cases and tasks."""
from __future__ import annotations

import io
import json
import re

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.auth.services import get_user_by_username
from app.cases.records import Comment
from tests.web.helpers import START, complete_register, open_task, start_case

IDENTITY = ("梁志强", "13800000001", "440703197211142916")


@pytest.fixture
def routed(units):
    """A confidential case registered and routed to unit A: (instance, case, handle_a task)."""
    started = start_case()
    complete_register(started)
    instance, case = started
    return instance, case, open_task(instance.id, "handle_a")


def _identity_views(db, case_id, username):
    user = get_user_by_username(username)
    return db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent).where(
        AuditEvent.case_id == case_id, AuditEvent.action == "view_identity",
        AuditEvent.actor_id == user.id)).scalar_one()


def test_a_handling_unit_sees_the_reporter_masked_everywhere(routed, browser, db):
    instance, case, task = routed
    browser.login("ua1")
    pages = [browser.get(f"/cases/{case.id}"), browser.get(f"/tasks/{task.id}"),
             browser.get(f"/cases/{case.id}/diagram.json"), browser.get("/tasks")]
    assert [p.status_code for p in pages] == [200, 200, 200, 200]
    case_html = browser.text(pages[0])
    assert "（已保密）" in case_html and "138****0001" in case_html and "身份保密" in case_html
    assert "已对您隐藏" in case_html
    for page in pages:
        text = browser.text(page)
        for secret in IDENTITY:
            assert secret not in text, (page.request.path, secret)
    assert "诉求人：（已保密），电话 138****0001" in browser.text(pages[1])      # instructions, masked
    assert _identity_views(db, case.id, "ua1") == 0


def test_an_intake_user_sees_the_identity_and_the_view_is_audited(routed, browser, db):
    _, case, _ = routed
    browser.login("intake1")
    before = _identity_views(db, case.id, "intake1")
    html = browser.text(browser.get(f"/cases/{case.id}"))
    assert all(secret in html for secret in IDENTITY)
    assert "本次查阅已记录" in html
    assert _identity_views(db, case.id, "intake1") == before + 1
    assert "查阅身份信息" not in html.split('id="timeline-h"', 1)[1]       # audited, not in the process history


def test_summary_timeline_and_open_tasks(routed, browser):
    _, case, task = routed
    browser.login("intake1")
    html = browser.text(browser.get(f"/cases/{case.id}"))
    assert case.number in html and "网页测试流程（第 1 版）" in html and "办理中" in html
    assert "12345政务服务便民热线" in html and "蓬江区" in html and START["company_name"] in html
    timeline = html.split('id="timeline-h"', 1)[1]
    assert timeline.index("发起流程") < timeline.index("办理完成")
    assert "登记核实" in timeline and "受理员 李受理" in timeline
    assert "答复方式" in timeline and "电话" in timeline                     # completed form data, with titles
    assert "甲单位处置" in html and "待认领" in html                          # the open task, not linked for intake
    assert f'href="/tasks/{task.id}"' not in html


def test_comments(routed, browser, db):
    _, case, _ = routed
    browser.login("intake1")
    resp = browser.post(f"/cases/{case.id}/comments", {"body": "已电话联系企业。<b>注意</b>"})
    assert resp.status_code == 303
    html = browser.text(browser.get(resp.headers["Location"]))
    assert "意见已添加" in html and "已电话联系企业。&lt;b&gt;注意&lt;/b&gt;" in html
    empty = browser.post(f"/cases/{case.id}/comments", {"body": "   "})
    assert empty.status_code == 400 and "请填写意见内容" in browser.text(empty)
    assert db.session.execute(sa.select(sa.func.count()).select_from(Comment)).scalar_one() == 1


def test_diagram_data_has_completed_and_current_steps(routed, browser):
    _, case, _ = routed
    browser.login("ua1")
    data = json.loads(browser.text(browser.get(f"/cases/{case.id}/diagram.json")))
    assert data["xml"].startswith("<?xml") and 'id="web_case"' in data["xml"]
    assert {"start", "register", "gw_unit"} <= set(data["completed"])
    assert data["current"] == ["handle_a"] and data["error"] is None


def test_the_page_works_without_the_vendor_files(routed, browser, app, monkeypatch):
    _, case, _ = routed
    monkeypatch.setitem(app.jinja_env.globals, "has_vendor", lambda path: False)
    browser.login("intake1")
    html = browser.text(browser.get(f"/cases/{case.id}"))
    assert "流程图组件未安装" in html and "vendor/bpmn-js" not in html and "办理记录" in html


@pytest.mark.parametrize("owner,outsider,handle", [("ua1", "ub1", "handle_a"), ("ub1", "ua1", "handle_b")])
def test_units_never_see_each_others_cases_or_tasks(units, make_browser, owner, outsider, handle):
    started = start_case({**START, "unit": "unit_a" if handle == "handle_a" else "unit_b"})
    complete_register(started)
    instance, case = started
    task = open_task(instance.id, handle)
    mine = make_browser()
    mine.login(owner)
    assert mine.get(f"/cases/{case.id}").status_code == 200
    assert mine.get(f"/tasks/{task.id}").status_code == 200
    upload = mine.post(f"/cases/{case.id}/attachments",
                       {"file": (io.BytesIO(b"plain text note"), "note.txt")},
                       content_type="multipart/form-data")
    assert upload.status_code == 303
    attachment_id = int(mine.text(mine.get(f"/cases/{case.id}")).split('href="/attachments/', 1)[1].split('"')[0])

    other = make_browser()
    other.login(outsider)
    assert f"/tasks/{task.id}" not in other.text(other.get("/tasks"))
    for path in (f"/cases/{case.id}", f"/cases/{case.id}/diagram.json", f"/tasks/{task.id}",
                 f"/attachments/{attachment_id}"):
        resp = other.get(path)
        assert resp.status_code in (403, 404), path
        assert "Traceback" not in other.text(resp)
    for path, data in ((f"/tasks/{task.id}/claim", {}), (f"/tasks/{task.id}/unclaim", {}),
                       (f"/tasks/{task.id}", {"result": "越权提交", "action": "complete"}),
                       (f"/tasks/{task.id}", {"result": "越权草稿", "action": "save"}),
                       (f"/cases/{case.id}/comments", {"body": "越权意见"})):
        assert other.post(path, data).status_code in (403, 404), path
    assert open_task(instance.id, handle).assignee_id is None
    assert open_task(instance.id, handle).draft is None



def test_a_supervisor_who_only_watches_the_case_reads_it_but_does_not_write_to_it(routed, make_browser, db):
    """The dashboard links to the case. The case was dispatched to unit B (case.unit) while its task is
    offered to unit A: B's supervisor opens it (masked) without the comment and upload forms, and a
    comment posted anyway is refused; A's supervisor, a member of the task's group, may write; a
    supervisor of neither unit gets 403."""
    from app.auth import services as auth
    from app.auth.models import GroupKind
    from app.cases.models import Case
    role = auth.ensure_group("supervisor", "督办员", GroupKind.ROLE)
    for username, unit in (("sup_ua", "unit_a"), ("sup_ub", "unit_b"), ("sup_uc", "unit_c")):
        auth.create_or_update_user(username, "demo12345", f"督办员 {unit}",
                                   [role, auth.ensure_group(unit, unit, GroupKind.UNIT)])
    _, case, _ = routed
    db.session.execute(sa.update(Case).where(Case.id == case.id).values(unit="unit_b"))
    db.session.commit()

    watcher = make_browser()
    watcher.login("sup_ub")
    page = watcher.get(f"/cases/{case.id}")
    html = watcher.text(page)
    assert page.status_code == 200 and case.number in html
    assert "督办查看：只读" in html and "提交意见" not in html and 'name="file"' not in html
    assert not any(value in html for value in IDENTITY)
    refused = watcher.post(f"/cases/{case.id}/comments", {"body": "请尽快办理"})
    assert refused.status_code == 403 and "只读" in watcher.text(refused)
    upload = watcher.post(f"/cases/{case.id}/attachments", {"file": (io.BytesIO(b"%PDF-1.4 x"), "a.pdf")},
                          content_type="multipart/form-data")
    assert upload.status_code == 403
    assert db.session.execute(sa.select(sa.func.count()).select_from(Comment)).scalar_one() == 0

    member = make_browser()
    member.login("sup_ua")
    assert "提交意见" in member.text(member.get(f"/cases/{case.id}"))
    outsider = make_browser()
    outsider.login("sup_uc")
    assert outsider.get(f"/cases/{case.id}").status_code == 403


def _main_top(html: str) -> str:
    """The page from its start up to the case summary: what a person sees first."""
    return html.split('id="summary-h"', 1)[0]


def test_a_refused_comment_or_upload_is_reported_where_the_eye_is_and_the_text_is_kept(routed, browser):
    _, case, _ = routed
    browser.login("intake1")
    page = browser.text(browser.get(f"/cases/{case.id}"))
    # after the POST the browser shows the section of the form it sent, not the top of a long page
    assert f'action="/cases/{case.id}/comments#comments"' in page
    assert f'action="/cases/{case.id}/attachments#attachments"' in page
    long_text = "已电话联系企业。" * 700            # over the 5,000-character limit
    refused = browser.post(f"/cases/{case.id}/comments", {"body": long_text})
    html = browser.text(refused)
    assert refused.status_code == 400
    top = _main_top(html)
    assert 'role="alert"' in top and "意见未添加" in top and 'href="#comment-body"' in top
    assert re.search(r'<textarea id="comment-body"[^>]* autofocus', html)
    assert long_text in html                          # what was typed is still there to shorten
    empty = browser.text(browser.post(f"/cases/{case.id}/attachments", {}))
    top = _main_top(empty)
    assert 'role="alert"' in top and "附件未上传" in top and "请选择要上传的文件" in top
    assert re.search(r'<input type="file" id="upload-file"[^>]* autofocus', empty)
