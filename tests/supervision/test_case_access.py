"""Supervisors open the case pages the dashboard links to."""
from __future__ import annotations

from tests.supervision.conftest import cst


def test_a_supervisor_may_open_the_cases_of_their_units_only(people, rows, db):
    """The dashboard links to case pages: a unit's supervisor may open its cases (also those reached
    only through case.unit), not another unit's; a caseworker still needs a task of the case."""
    from app.processes.instances import can_read_instance
    case = rows.case("complaint", cst(2025, 3, 3, 9), unit="unit_a")
    rows.task(case, "handle", status="ready", groups=("unit_a_head",))
    db.session.commit()
    assert can_read_instance(people["sup_a"], case.instance)
    assert not can_read_instance(people["sup_b"], case.instance)
    assert not can_read_instance(people["sup_none"], case.instance)
    assert not can_read_instance(people["worker_b"], case.instance)
    assert can_read_instance(people["boss"], case.instance)


def test_a_case_of_another_unit_opens_when_one_of_its_tasks_is_offered_to_the_supervisors_unit(people, rows, db):
    """The lists' rule (a task offered to U or U_head counts for U) also opens the case its row links to."""
    from app.processes.instances import can_read_instance
    case = rows.case("complaint", cst(2025, 3, 3, 9), unit="unit_b")
    rows.task(case, "extension_unit", status="ready", groups=("unit_a_head",))
    db.session.commit()
    assert can_read_instance(people["sup_a"], case.instance)
    assert can_read_instance(people["sup_b"], case.instance)
    closed = rows.case("complaint", cst(2025, 3, 3, 9), unit="unit_b")
    rows.task(closed, "handle", status="completed", groups=("unit_b",), done=cst(2025, 3, 4, 9))
    db.session.commit()
    assert not can_read_instance(people["sup_a"], closed.instance)
