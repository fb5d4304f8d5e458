"""The case search lists for supervisors what the case page opens for them (the supervision rule),
case by case, on rows built for each corner of the rule."""
from __future__ import annotations

import sqlalchemy as sa

from tests.supervision.conftest import cst


def test_search_and_case_page_agree_on_every_corner_of_the_supervision_rule(people, rows, db):
    from app.cases.search import CaseFilters, search_cases
    from app.processes.models import ProcessInstance
    from app.processes.instances import instance_access
    t = cst(2025, 3, 3, 9)
    dispatched_a = rows.case("complaint", t, unit="unit_a")                      # case.unit only
    rows.task(dispatched_a, "handle", status="ready", groups=("unit_b",))
    head_task = rows.case("complaint", t, unit="unit_b")                         # a task offered to unit_a_head
    rows.task(head_task, "extension_unit", status="ready", groups=("unit_a_head",))
    unassigned = rows.case("complaint", t)                                       # no unit yet, task for unit_a
    rows.task(unassigned, "sign_in", status="ready", groups=("unit_a",))
    closed_b = rows.case("complaint", t, t.replace(day=4), unit="unit_b")
    rows.task(closed_b, "handle", status="completed", groups=("unit_b",), done=t.replace(day=4),
              done_by=people["worker_a"])                                        # completed by a unit_a worker
    intake_only = rows.case("complaint", t)
    rows.task(intake_only, "register", status="ready", groups=("intake",))
    db.session.commit()
    instances = db.session.execute(sa.select(ProcessInstance)).scalars().all()
    for name, user in people.items():
        found = {row.case.id for row in search_cases(user, CaseFilters(), per_page=100).rows}
        opens = {i.case_id for i in instances if instance_access(user, i)}
        assert found == opens, name
    found = {row.case.id for row in search_cases(people["sup_a"], CaseFilters(), per_page=100).rows}
    assert found == {dispatched_a.id, head_task.id, unassigned.id}
    assert closed_b.id in {r.case.id for r in search_cases(people["worker_a"], CaseFilters()).rows}
