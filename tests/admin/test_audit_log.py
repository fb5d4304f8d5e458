"""The audit log viewer: every action, filters (user, case, action, date), CSV, the identity-view tab."""
from __future__ import annotations

import csv
import re
import io
from datetime import datetime, timedelta, timezone

from app.audit.models import AuditEvent
from app.auth.services import get_user_by_username
from app.cases.models import Case
from app.extensions import db
from tests.conftest import deploy_fixture

CST = timezone(timedelta(hours=8))


def _rows(resp) -> str:
    """The result table only (the action filter lists every title)."""
    text = resp.get_data(as_text=True)
    found = re.search(r"<tbody>(.*?)</tbody>", text, re.S)
    return found.group(1) if found else ""


def _events(api):
    """A started case (a `start` event by intake1), an identity view by jw_letters1 and an admin change."""
    deploy_fixture("sla_task.bpmn")
    resp = api.post("/api/v1/process-definitions/sla_task/start", user="intake1", json={"data": {}})
    assert resp.status_code == 201
    body = resp.get_json()
    case = db.session.get(Case, body.get("case_id") or body["case"]["id"])
    viewer = get_user_by_username("jw_letters1")
    db.session.add(AuditEvent(at=datetime(2026, 3, 2, 10, 0, tzinfo=CST), actor_id=viewer.id, action="view_identity",
                              case_id=case.id, label="查看举报人身份信息"))
    db.session.add(AuditEvent(at=datetime(2026, 3, 5, 10, 0, tzinfo=CST), actor_id=get_user_by_username("admin").id,
                              action="user_unlock", label="=HYPERLINK(\"x\")", data={"reason": "本人来电"}))
    db.session.commit()
    return case


def test_every_action_with_titles_and_filters(admin, api):
    case = _events(api)
    text = _rows(admin.get("/admin/audit"))
    assert "发起流程" in text and "查阅身份信息" in text and "解除锁定" in text and "本人来电" in text
    assert case.number in text and "受理员 李受理" in text
    by_user = _rows(admin.get("/admin/audit?user=jw_letters1"))
    assert "查阅身份信息" in by_user and "发起流程" not in by_user
    by_name = _rows(admin.get("/admin/audit?user=受理员 李受理"))
    assert "发起流程" in by_name and "解除锁定" not in by_name
    by_case = _rows(admin.get(f"/admin/audit?case={case.number}"))
    assert "发起流程" in by_case and "解除锁定" not in by_case
    by_action = _rows(admin.get("/admin/audit?action=user_unlock"))
    assert "解除锁定" in by_action and "发起流程" not in by_action
    by_date = admin.get("/admin/audit?date_from=2026-03-01&date_to=2026-03-03").get_data(as_text=True)
    assert "共 1 条" in by_date and "查阅身份信息" in _rows(admin.get("/admin/audit?date_from=2026-03-01"
                                                                 "&date_to=2026-03-03"))


def test_details_are_in_words_not_codes(admin):
    user = get_user_by_username("qa1")
    admin.post(f"/admin/users/{user.id}/profile", {"display_name": user.display_name, "phone": "13800000001",
                                                   "reason": "补录"})
    rows = _rows(admin.get("/admin/audit?action=user_update"))
    assert "电话 — → 13800000001" in rows and "user_id" not in rows and "phone" not in rows


def test_bad_filters_are_named_and_kept(admin):
    resp = admin.get("/admin/audit?date_from=2026-02-30&user=someone")
    text = resp.get_data(as_text=True)
    assert resp.status_code == 422 and 'id="f_date_from-error"' in text and "YYYY-MM-DD" in text
    assert 'value="someone"' in text
    resp = admin.get("/admin/audit?date_from=2026-03-05&date_to=2026-03-01")
    assert resp.status_code == 422 and "结束日期不能早于开始日期" in resp.get_data(as_text=True)
    assert admin.get("/admin/audit?action=drop_tables").status_code == 422
    assert admin.get("/admin/audit.csv?date_from=x").status_code == 422


def test_identity_views_have_a_tab_of_their_own(admin, api):
    _events(api)
    resp = admin.get("/admin/audit/identity")
    text = _rows(resp)
    assert "查阅身份信息" in text and "发起流程" not in text and "解除锁定" not in text
    assert "信访工作条例第三十条" in resp.get_data(as_text=True) and "共 1 条" in resp.get_data(as_text=True)


def test_csv_export_follows_the_filters_and_defuses_formulas(admin, api):
    case = _events(api)
    resp = admin.get("/admin/audit.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:5] == ["编号", "时间（北京时间）", "操作人", "用户名", "操作"]
    actions = [r[4] for r in rows[1:]]
    assert "发起流程" in actions and "查阅身份信息" in actions and "解除锁定" in actions
    unlock = next(r for r in rows[1:] if r[4] == "解除锁定")
    assert unlock[1] == "2026-03-05 10:00:00" and unlock[6].startswith("'=") and unlock[7] == "本人来电"
    identity = admin.get("/admin/audit.csv?tab=identity").get_data(as_text=True)
    only = list(csv.reader(io.StringIO(identity.lstrip("\ufeff"))))[1:]
    assert [r[4] for r in only] == ["查阅身份信息"] and only[0][5] == case.number
