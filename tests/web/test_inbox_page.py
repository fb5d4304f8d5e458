"""The inbox page: same visibility as the API, filters, search, SLA colours, pagination, claim/unclaim."""
from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import unquote

import pytest
import sqlalchemy as sa

from app.db import utcnow
from app.tasks.models import HumanTask
from tests.web.helpers import START, fresh, open_task, start_case


def _task_ids(html: str) -> list[int]:
    return [int(i) for i in dict.fromkeys(re.findall(r'href="/tasks/(\d+)" class="task-link"', html))]


@pytest.fixture
def three_cases(units):
    """Three registered-for cases: 蓬江区/12345, 江海区/SME platform, 新会区/12345 with another company."""
    first = start_case()
    second = start_case({**START, "district": "江海区", "channel": "sme_platform", "hide_identity": False})
    third = start_case({**START, "district": "新会区", "company_name": "台山市另一家物流有限公司", "title": "第三件"})
    return [open_task(instance.id, "register") for instance, _ in (first, second, third)], \
        [case for _, case in (first, second, third)]


def test_the_inbox_shows_what_the_api_shows_scope_by_scope(three_cases, browser, make_browser):
    from app.auth.services import get_user_by_username
    from app.tasks.services import claim_task, list_tasks
    tasks, _ = three_cases
    claim_task(tasks[0].id, get_user_by_username("intake1"))
    browser.login("intake1")
    user = get_user_by_username("intake1")
    for scope in ("all", "mine", "group"):
        html = browser.text(browser.get(f"/tasks?scope={scope}"))
        assert _task_ids(html) == [t.id for t in list_tasks(user, scope).items], scope
    assert _task_ids(browser.text(browser.get("/tasks?scope=mine"))) == [tasks[0].id]
    other = make_browser()
    other.login("ua1")
    assert _task_ids(other.text(other.get("/tasks"))) == []                     # not offered to unit A


def test_filters_by_process_district_channel_and_search(three_cases, browser):
    tasks, cases = three_cases
    browser.login("intake1")

    def ids(query):
        return _task_ids(browser.text(browser.get("/tasks?" + query)))
    assert sorted(ids("")) == sorted(t.id for t in tasks)
    assert ids("district=江海区") == [tasks[1].id]
    assert sorted(ids("channel=hotline_12345")) == sorted([tasks[0].id, tasks[2].id])
    assert ids("process=complaint") == [] and len(ids("process=web_case")) == 3
    assert ids(f"q={cases[2].number}") == [tasks[2].id]                               # case number
    assert ids(f"q={cases[2].number.lower()}") == [tasks[2].id]                        # any case
    assert ids("q=另一家物流") == [tasks[2].id]                                          # enterprise name
    assert sorted(ids(f"q={START['uscc'][:10].lower()}")) == sorted(t.id for t in tasks)   # USCC
    assert ids("q=100%25") == []                                                       # LIKE wildcards are text
    html = browser.text(browser.get("/tasks?district=江海区&channel=sme_platform"))
    assert 'value="江海区" selected' in html or "<option selected>江海区</option>" in html
    assert "中小微企业诉求快速响应平台" in html and "清除条件" in html


def test_sla_colours_provisional_mark_and_the_sla_filter(three_cases, browser, db):
    tasks, _ = three_cases
    now = utcnow()
    updates = {tasks[0].id: {"due_at": now - timedelta(hours=2), "warn_at": now - timedelta(days=1)},
               tasks[1].id: {"due_at": now + timedelta(hours=3), "warn_at": now - timedelta(hours=1),
                             "due_provisional": True},
               tasks[2].id: {"due_at": now + timedelta(days=5), "warn_at": now + timedelta(days=4)}}
    for task_id, values in updates.items():
        db.session.execute(sa.update(HumanTask).where(HumanTask.id == task_id).values(**values))
    db.session.commit()
    browser.login("intake1")
    html = browser.text(browser.get("/tasks"))
    assert _task_ids(html) == [tasks[0].id, tasks[1].id, tasks[2].id]              # soonest due first
    assert 'class="sla sla-red"' in html and ">超期<" in html
    assert 'class="sla sla-yellow"' in html and ">预警<" in html
    assert 'class="sla sla-green"' in html and "暂定" in html
    assert _task_ids(browser.text(browser.get("/tasks?sla=red"))) == [tasks[0].id]
    assert _task_ids(browser.text(browser.get("/tasks?sla=yellow"))) == [tasks[1].id]
    assert _task_ids(browser.text(browser.get("/tasks?sla=green"))) == [tasks[2].id]
    db.session.execute(sa.update(HumanTask).where(HumanTask.id == tasks[2].id).values(sla_state="orange"))
    db.session.commit()
    orange = browser.text(browser.get("/tasks?sla=orange"))
    assert _task_ids(orange) == [tasks[2].id] and 'class="sla sla-orange"' in orange
    assert _task_ids(browser.text(browser.get("/tasks?sla=none"))) == []
    assert browser.get("/tasks?sla=purple&scope=nonsense&page=x").status_code == 200   # bad input: defaults


def test_pagination(three_cases, browser, app):
    tasks, _ = three_cases
    app.config["INBOX_PER_PAGE"] = 2
    try:
        browser.login("intake1")
        first = browser.text(browser.get("/tasks"))
        second = browser.text(browser.get("/tasks?page=2"))
    finally:
        app.config["INBOX_PER_PAGE"] = 20
    assert len(_task_ids(first)) == 2 and len(_task_ids(second)) == 1
    assert set(_task_ids(first)) | set(_task_ids(second)) == {t.id for t in tasks}
    assert "第 1 / 2 页" in first and 'href="/tasks?page=2"' in first
    assert "第 2 / 2 页" in second and "上一页" in second


def test_claim_and_unclaim_from_the_list(three_cases, browser, make_browser):
    tasks, _ = three_cases
    browser.login("intake1")
    resp = browser.post(f"/tasks/{tasks[0].id}/claim", {"next": "/tasks?district=蓬江区"})
    assert resp.status_code == 303 and unquote(resp.headers["Location"]) == "/tasks?district=蓬江区"
    assert fresh(HumanTask, tasks[0].id).assignee_id is not None
    html = browser.text(browser.get(resp.headers["Location"]))
    assert "已认领任务“登记核实”" in html and "受理员 李受理" in html and ">退回<" in html

    other = make_browser()
    other.login("admin")
    taken = other.post(f"/tasks/{tasks[0].id}/claim", {"next": "/tasks"})
    assert taken.status_code == 303
    assert "任务已由 受理员 李受理 认领" in other.text(other.get("/tasks"))

    back = browser.post(f"/tasks/{tasks[0].id}/unclaim", {"next": "https://evil.example/"})
    assert back.status_code == 303 and back.headers["Location"] == "/tasks"      # off-site next ignored
    assert fresh(HumanTask, tasks[0].id).assignee_id is None
    assert browser.post(f"/tasks/{tasks[0].id}/claim", csrf=False).status_code == 400


def test_notifications_count_and_page(units, browser, db):
    from app.auth.services import get_user_by_username
    from app.notifications.services import notify
    user = get_user_by_username("intake1")
    notify(user.id, "remind", "催办：登记核实即将到期", "请尽快办理。", email=False)
    notify(user.id, "overdue", "超期：登记核实", "", email=False)
    db.session.commit()
    browser.login("intake1")
    inbox = browser.text(browser.get("/tasks"))
    assert 'class="badge-count" title="2 条未读">2<' in inbox
    page = browser.text(browser.get("/notifications"))
    assert "催办：登记核实即将到期" in page and "超期：登记核实" in page and "2 条未读" in page
    resp = browser.post("/notifications/read", {})
    assert resp.status_code == 303
    after = browser.text(browser.get("/notifications"))
    assert "0 条未读" in after and "badge-count" not in after
