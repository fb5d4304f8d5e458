"""流程实例 (/instances and GET /api/v1/process-instances) and cancelling an instance with a reason:
the service (audited, open tasks and their deadline jobs cancelled, the case marked), the pages and
the API, each refusing caseworkers and supervisors of another unit."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.auth.services import get_user_by_username
from app.cases.models import Case
from app.deadlines.models import Incident, JobStatus, TimerJob
from app.errors import Conflict, Forbidden, FormInvalid
from app.processes.cancel import cancel_instance
from app.processes.models import ProcessInstance
from app.tasks.models import HumanTask
from tests.web.helpers import PASSWORD, START, complete_register, fresh, open_task, start_case


@pytest.fixture
def routed(units, db):
    """Supervisors of unit A and unit B; one case routed to unit A (handle_a, due in 10 WD) and one
    still at registration for unit B: {"a": (instance, case), "b": (instance, case)}."""
    from app.auth import services as auth
    from app.auth.models import GroupKind
    role = auth.ensure_group("supervisor", "督办员", GroupKind.ROLE)
    for username, unit, title in (("sup_ua", "unit_a", "甲单位"), ("sup_ub", "unit_b", "乙单位")):
        auth.create_or_update_user(username, PASSWORD, f"督办员 {title}",
                                   [role, auth.ensure_group(unit, title, GroupKind.UNIT)])
    db.session.commit()
    a = start_case()
    complete_register(a)
    b = start_case({**START, "unit": "unit_b", "title": "乙单位的件"})
    complete_register(b)
    return {"a": a, "b": b}


def _pending_jobs(instance_id):
    from app.extensions import db
    return db.session.execute(sa.select(sa.func.count()).select_from(TimerJob).where(
        TimerJob.instance_id == instance_id, TimerJob.status == JobStatus.PENDING)).scalar_one()


# --- the service ------------------------------------------------------------------------------------

def test_cancelling_cancels_the_open_tasks_and_their_jobs_marks_the_case_and_is_audited(routed, db):
    instance, case = routed["a"]
    task = open_task(instance.id, "handle_a")
    assert task.due_at is not None and _pending_jobs(instance.id) >= 1
    db.session.add(Incident(kind="overdue", instance_id=instance.id, human_task_id=task.id, message="发送失败"))
    db.session.commit()

    done = cancel_instance(instance.id, get_user_by_username("sup_ua"), "  企业已撤回申请  ")

    assert done.cancelled_tasks == ["甲单位处置"]
    assert fresh(ProcessInstance, instance.id).status == "cancelled"
    assert fresh(ProcessInstance, instance.id).ended_at is not None
    assert fresh(HumanTask, task.id).status == "cancelled"
    assert _pending_jobs(instance.id) == 0
    assert fresh(Case, case.id).status == "cancelled" and fresh(Case, case.id).closed_at is None   # not 办结
    assert fresh(Incident, db.session.execute(sa.select(Incident.id)).scalar_one()).resolved_at is not None
    event = db.session.execute(sa.select(AuditEvent).where(AuditEvent.instance_id == instance.id,
                                                           AuditEvent.action == "cancel")).scalar_one()
    assert event.actor_id == get_user_by_username("sup_ua").id and event.case_id == case.id
    assert event.data == {"reason": "企业已撤回申请", "cancelled_tasks": ["甲单位处置"]}
    with pytest.raises(Conflict):                                     # once only
        cancel_instance(instance.id, get_user_by_username("admin"), "再撤销一次")


@pytest.mark.parametrize("reason", ["", "   ", None, "长" * 501])
def test_a_reason_is_required_and_bounded(routed, reason):
    instance, _ = routed["a"]
    with pytest.raises(FormInvalid) as caught:
        cancel_instance(instance.id, get_user_by_username("admin"), reason)
    assert caught.value.fields["reason"][0].startswith(("必填", "不超过"))
    assert fresh(ProcessInstance, instance.id).status == "running"


@pytest.mark.parametrize("username", ["ua1", "intake1", "sup_ub"])
def test_caseworkers_and_other_units_supervisors_may_not_cancel(routed, username):
    instance, _ = routed["a"]
    with pytest.raises(Forbidden):
        cancel_instance(instance.id, get_user_by_username(username), "越权撤销")
    assert fresh(ProcessInstance, instance.id).status == "running"
    assert open_task(instance.id, "handle_a").status == "ready"


# --- the pages --------------------------------------------------------------------------------------

def _rows(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-instance="(\d+)"', html)]


def test_the_list_page_shows_titles_and_the_scope(routed, make_browser):
    (a, case_a), (b, case_b) = routed["a"], routed["b"]
    admin = make_browser()
    admin.login("admin")
    html = admin.text(admin.get("/instances"))
    assert _rows(html) == [b.id, a.id]                                  # newest first
    assert case_a.number in html and "甲单位处置" in html and "乙单位处置" in html
    assert "第 1 版" in html and "handle_a" not in html and ">运行中<" in html
    assert 'href="/instances"' in html and "流程实例</a>" in html       # in the top bar

    sup = make_browser()
    sup.login("sup_ua")
    html = sup.text(sup.get("/instances"))
    assert _rows(html) == [a.id] and case_b.number not in html
    other = make_browser()
    other.login("sup_ub")
    assert _rows(other.text(other.get("/instances"))) == [b.id]

    worker = make_browser()
    worker.login("ua1")
    refused = worker.get("/instances")
    assert refused.status_code == 403 and "督办员" in worker.text(refused)
    assert 'href="/instances"' not in worker.text(worker.get("/tasks"))


def test_the_list_page_filters_and_says_what_is_wrong_in_chinese(routed, browser):
    (a, case_a), (b, _) = routed["a"], routed["b"]
    browser.login("admin")
    assert _rows(browser.text(browser.get(f"/instances?q={case_a.number}&process=&version="))) == [a.id]
    assert _rows(browser.text(browser.get("/instances?process=web_case&version=1&status=running"))) == [b.id, a.id]
    assert _rows(browser.text(browser.get("/instances?status=completed"))) == []
    assert _rows(browser.text(browser.get("/instances?sort=started_at"))) == [a.id, b.id]
    for query, message in (("status=done", "状态：取值无效"), ("started_from=2026-02-30", "日期格式应为 YYYY-MM-DD"),
                           ("version=2", "按版本筛选须同时选择流程"), ("process=web_case&version=x", "应为整数"),
                           ("started_from=2026-03-02&started_to=2026-03-01", "结束日期不能早于开始日期"),
                           ("started_from=1900-01-01", "日期须在 2000 至 2100 年之间"), ("sort=name", "排序：取值无效")):
        resp = browser.get("/instances?" + query)
        html = browser.text(resp)
        assert resp.status_code == 422 and message in html and _rows(html) == [], query
        assert "Traceback" not in html


def test_cancelling_on_the_page_needs_a_reason_keeps_it_and_goes_back(routed, browser, db):
    instance, case = routed["a"]
    browser.login("sup_ua")
    form = browser.text(browser.get(f"/instances/{instance.id}/cancel?next=/instances%3Fstatus%3Drunning"))
    assert case.number in form and "甲单位处置" in form and 'name="reason"' in form

    refused = browser.post(f"/instances/{instance.id}/cancel", {"reason": "   ", "next": "/instances?status=running"})
    assert refused.status_code == 422 and "必填：请说明撤销该流程实例的理由" in browser.text(refused)
    assert fresh(ProcessInstance, instance.id).status == "running"
    too_long = browser.post(f"/instances/{instance.id}/cancel", {"reason": "重" * 501})
    assert too_long.status_code == 422 and ("重" * 501) in browser.text(too_long)   # what was typed stays

    done = browser.post(f"/instances/{instance.id}/cancel", {"reason": "重复立案", "next": "/instances?status=running"})
    assert done.status_code == 303 and done.headers["Location"] == "/instances?status=running"
    listed = browser.text(browser.get("/instances?status=cancelled"))
    assert f"已撤销 {case.number}" in listed and "已取消的待办环节：甲单位处置" in listed
    assert _rows(listed) == [instance.id]
    timeline = browser.text(browser.get(f"/cases/{case.id}"))
    assert "撤销流程" in timeline and "重复立案" in timeline

    ended = browser.text(browser.get(f"/instances/{instance.id}/cancel"))
    assert "该流程实例已撤销，不能再撤销" in ended and 'name="reason"' not in ended
    again = browser.post(f"/instances/{instance.id}/cancel", {"reason": "再来一次"})
    assert again.status_code == 303
    assert "流程实例已结束" in browser.text(browser.get(again.headers["Location"]))


@pytest.mark.parametrize("username,status", [("ua1", 403), ("sup_ub", 403)])
def test_the_cancel_page_refuses_caseworkers_and_other_units(routed, browser, username, status):
    instance, _ = routed["a"]
    browser.login(username)
    assert browser.get(f"/instances/{instance.id}/cancel").status_code == status
    assert browser.post(f"/instances/{instance.id}/cancel", {"reason": "越权"}).status_code == status
    assert fresh(ProcessInstance, instance.id).status == "running"
    assert browser.get("/instances/999999/cancel").status_code in (403, 404)


def test_the_cancel_form_needs_its_csrf_token(routed, browser):
    instance, _ = routed["a"]
    browser.login("admin")
    assert browser.post(f"/instances/{instance.id}/cancel", {"reason": "无令牌"}, csrf=False).status_code == 400
    assert fresh(ProcessInstance, instance.id).status == "running"


# --- the API ----------------------------------------------------------------------------------------

def test_the_api_lists_filters_pages_and_refuses_the_same_way(routed, api):
    (a, case_a), (b, _) = routed["a"], routed["b"]
    body = api.get("/api/v1/process-instances?per_page=1", user="admin").get_json()
    assert body["pagination"] == {"page": 1, "per_page": 1, "total": 2, "pages": 2}
    row = body["items"][0]
    assert row["id"] == b.id and row["process_name"] and row["version"] == 1 and row["status"] == "running"
    assert [s["name"] for s in row["current_steps"]] == ["乙单位处置"]
    assert [i["id"] for i in api.get("/api/v1/process-instances?page=2&per_page=1", user="admin")
            .get_json()["items"]] == [a.id]
    mine = api.get("/api/v1/process-instances", user="sup_ua").get_json()["items"]
    assert [i["case_number"] for i in mine] == [case_a.number]
    for user in ("ua1", "intake1"):
        resp = api.get("/api/v1/process-instances", user=user)
        assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
    bad = api.get("/api/v1/process-instances?status=x&started_to=tomorrow&per_page=500", user="admin")
    assert bad.status_code == 422
    fields = bad.get_json()["error"]["fields"]
    assert set(fields) == {"status", "started_to", "per_page"} and "日期格式" in fields["started_to"][0]
    assert api.get("/api/v1/process-instances", user=None).status_code == 401


def test_the_api_cancels_with_a_reason(routed, api):
    instance, _ = routed["a"]
    missing = api.post(f"/api/v1/process-instances/{instance.id}/cancel", user="sup_ua", json={})
    assert missing.status_code == 422 and "必填" in missing.get_json()["error"]["fields"]["reason"][0]
    blank = api.post(f"/api/v1/process-instances/{instance.id}/cancel", user="sup_ua", json={"reason": " "})
    assert blank.status_code == 422 and blank.get_json()["error"]["fields"]["reason"]
    for user in ("ua1", "sup_ub"):
        assert api.post(f"/api/v1/process-instances/{instance.id}/cancel", user=user,
                        json={"reason": "越权"}).status_code == 403
    done = api.post(f"/api/v1/process-instances/{instance.id}/cancel", user="sup_ua", json={"reason": "重复立案"})
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["status"] == "cancelled" and body["open_tasks"] == []
    assert [h for h in body["history"] if h["action"] == "cancel"][0]["data"]["reason"] == "重复立案"
    again = api.post(f"/api/v1/process-instances/{instance.id}/cancel", user="admin", json={"reason": "再次"})
    assert again.status_code == 409
    assert api.post("/api/v1/process-instances/999999/cancel", user="admin",
                    json={"reason": "不存在"}).status_code == 404


def test_the_openapi_document_describes_both_calls(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    listing = spec["paths"]["/api/v1/process-instances"]["get"]
    assert {p["name"] for p in listing["parameters"]} >= {"process", "version", "status", "started_from",
                                                          "started_to", "q", "sort", "page", "per_page"}
    cancel = spec["paths"]["/api/v1/process-instances/{instance_id}/cancel"]["post"]
    assert "requestBody" in cancel and "200" in cancel["responses"]


def test_a_cancel_that_meets_a_concurrent_change_keeps_the_typed_reason(routed, browser, monkeypatch):
    from app.web import instances as pages
    instance, _ = routed["a"]
    browser.login("sup_ua")

    def moved_on(*args, **kwargs):
        raise Conflict("该流程实例刚被他人处理过，请刷新后重试")
    monkeypatch.setattr(pages, "cancel_instance", moved_on)
    resp = browser.post(f"/instances/{instance.id}/cancel", {"reason": "企业已撤回申请，材料退回"})
    html = browser.text(resp)
    assert resp.status_code == 409 and "刚被他人处理过" in html and "企业已撤回申请，材料退回" in html
    assert 'name="reason"' in html
