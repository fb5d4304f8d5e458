"""The instance list (app/supervision/instances.py): scope both ways, every filter, sorting and paging
done by the database, the current steps from human_task rows."""
from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from app.deadlines.models import Incident
from app.errors import Forbidden
from app.extensions import db
from app.processes.models import ProcessDefinition
from app.supervision.instances import InstanceFilters, list_instances
from tests.supervision.conftest import cst


@pytest.fixture
def world(people, rows):
    """Five instances: three of unit A (by case.unit, by a task offered to A, by A's head), one of
    unit B, one of no unit; two processes, the complaint one in two versions."""
    v2 = ProcessDefinition(key="complaint", version=2, name="企业诉求（第二版）", content_hash="1" * 64,
                           source_file="complaint.bpmn", bpmn_xml="<definitions/>", dmn_xml={}, forms={},
                           meta={"tasks": {}})
    db.session.add(v2)
    a_unit = rows.case("complaint", cst(2026, 11, 1, 9), unit="unit_a")
    rows.task(a_unit, "handle", status="ready", groups=("unit_a",), name="调查处置", due=cst(2026, 11, 20, 18))
    a_task = rows.case("complaint", cst(2026, 11, 2, 23, 30))       # 23:30 Beijing time on the 2nd
    rows.task(a_task, "sign_in", status="ready", groups=("unit_a",), name="签收")
    rows.task(a_task, "first_contact", status="ready", groups=("unit_a",), name="首次联系")
    a_head = rows.case("dispute_escalation", cst(2026, 11, 3, 10), closed=cst(2026, 11, 5, 10))
    rows.task(a_head, "sign_off", status="completed", groups=("unit_a_head",), name="审签")
    b_unit = rows.case("complaint", cst(2026, 11, 4, 10), unit="unit_b", instance_status="cancelled")
    rows.task(b_unit, "handle", status="cancelled", groups=("unit_b",), name="调查处置")
    nobody = rows.case("complaint", cst(2026, 11, 6, 10), instance_status="error")
    rows.task(nobody, "register", status="ready", groups=("intake",), name="登记建档")
    db.session.flush()
    a_task.instance.definition_id = v2.id   # the second version
    db.session.commit()
    return {"a_unit": a_unit, "a_task": a_task, "a_head": a_head, "b_unit": b_unit, "nobody": nobody}


def _numbers(user, **filters):
    sort = filters.pop("sort", "started_at")
    page = list_instances(user, InstanceFilters(sort=sort, **filters), per_page=100)
    return [item["case_number"] for item in page.items]


def _n(world, *names):
    return [world[name].number for name in names]


def test_an_administrator_sees_every_instance_a_supervisor_only_their_units(world, people):
    assert _numbers(people["boss"]) == _n(world, "a_unit", "a_task", "a_head", "b_unit", "nobody")
    assert _numbers(people["sup_a"]) == _n(world, "a_unit", "a_task", "a_head")
    assert _numbers(people["sup_b"]) == _n(world, "b_unit")
    assert _numbers(people["sup_none"]) == []


@pytest.mark.parametrize("username", ["worker_a", "clerk", "head_a"])
def test_caseworkers_are_refused(world, people, username):
    with pytest.raises(Forbidden):
        list_instances(people[username])


def test_filters_by_process_version_status_dates_and_case_number(world, people):
    boss = people["boss"]
    assert _numbers(boss, process="dispute_escalation") == _n(world, "a_head")
    assert _numbers(boss, process="complaint", version=2) == _n(world, "a_task")
    assert _numbers(boss, process="complaint", version=1) == _n(world, "a_unit", "b_unit", "nobody")
    assert _numbers(boss, status="running") == _n(world, "a_unit", "a_task")
    assert _numbers(boss, status="completed") == _n(world, "a_head")
    assert _numbers(boss, status="cancelled") == _n(world, "b_unit")
    assert _numbers(boss, status="error") == _n(world, "nobody")
    # local (Beijing) days, both ends included: 23:30 on the 2nd is the 2nd, not the 3rd (15:30 UTC)
    assert _numbers(boss, started_from=date(2026, 11, 2), started_to=date(2026, 11, 2)) == _n(world, "a_task")
    assert _numbers(boss, started_from=date(2026, 11, 3)) == _n(world, "a_head", "b_unit", "nobody")
    assert _numbers(boss, started_to=date(2026, 11, 1)) == _n(world, "a_unit")
    assert _numbers(boss, q=world["b_unit"].number.lower()) == _n(world, "b_unit")
    assert _numbers(boss, q="%") == []                                   # LIKE wildcards are text
    assert _numbers(people["sup_b"], status="running") == []             # the scope still applies


def test_the_incident_filter_finds_script_errors_and_open_incidents(world, people):
    boss = people["boss"]
    assert _numbers(boss, status="incident") == _n(world, "nobody")
    db.session.add(Incident(kind="overdue", instance_id=world["a_unit"].instance.id, message="邮件发送失败"))
    db.session.add(Incident(kind="overdue", instance_id=world["a_head"].instance.id, message="已处理",
                            resolved_at=cst(2026, 11, 6, 9)))
    db.session.commit()
    assert _numbers(boss, status="incident") == _n(world, "a_unit", "nobody")
    flagged = {i["case_number"]: i["has_incident"] for i in list_instances(boss, per_page=100).items}
    assert flagged == {world["a_unit"].number: True, world["a_task"].number: False,
                       world["a_head"].number: False, world["b_unit"].number: False, world["nobody"].number: True}


def test_sorting_and_paging_by_the_database(world, people):
    boss = people["boss"]
    assert _numbers(boss, sort="-started_at") == _n(world, "nobody", "b_unit", "a_head", "a_task", "a_unit")
    assert _numbers(boss, sort="-case") == sorted(_numbers(boss), reverse=True)
    # ended first by time, the running ones (no end) last
    assert _numbers(boss, sort="ended_at")[:1] == _n(world, "a_head")
    page = list_instances(boss, InstanceFilters(sort="started_at"), page=2, per_page=2)
    assert page.total == 5 and page.pages == 3
    assert [i["case_number"] for i in page.items] == _n(world, "a_head", "b_unit")


def test_one_page_is_a_constant_number_of_queries_with_order_and_limit(world, people, rows, app):
    for day in range(7, 27):
        rows.case("complaint", cst(2026, 11, day, 10), unit="unit_a")
    db.session.commit()
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)
    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        page = list_instances(people["sup_a"], InstanceFilters(), page=2, per_page=5)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert page.total == 23 and len(page.items) == 5
    assert len(statements) <= 4, statements   # count, the page, its steps, its incidents
    listing = [s for s in statements if "ORDER BY" in s and "process_instance.started_at DESC" in s]
    assert listing and "LIMIT" in listing[0] and "OFFSET" in listing[0]


def test_each_row_names_its_process_version_and_current_steps_from_the_task_rows(world, people):
    items = {i["case_number"]: i for i in list_instances(people["boss"], per_page=100).items}
    row = items[world["a_task"].number]
    assert row["process_name"] == "企业诉求（第二版）" and row["version"] == 2
    assert [s["name"] for s in row["current_steps"]] == ["签收", "首次联系"]
    assert row["status_title"] == "运行中" and row["ended_at"] is None
    assert items[world["a_head"].number]["current_steps"] == []            # completed steps are not current
    assert items[world["b_unit"].number]["status_title"] == "已撤销"
    assert items[world["a_unit"].number]["unit_title"] == "甲局"                # the title, not unit_a
    assert items[world["a_task"].number]["unit_title"] is None                  # not dispatched


def test_the_total_comes_with_the_page_and_a_page_past_the_end_still_counts(world, people):
    boss = people["boss"]
    assert list_instances(boss, InstanceFilters(), per_page=2).total == 5
    past = list_instances(boss, InstanceFilters(), page=9, per_page=2)
    assert past.total == 5 and past.items == []
    assert list_instances(boss, InstanceFilters(q="JM-0000-0000-999999")).total == 0
