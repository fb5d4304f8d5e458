"""The inbox's default order (API list and page): soonest due first, no due date last, then the
higher priority, then the task id. Written NULLS LAST in SQL (so PostgreSQL walks the due_at
indexes instead of sorting every open task): the same order as before, checked here both ways."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app.demo import MARKET, SME

CST = timezone(timedelta(hours=8))


@pytest.fixture
def open_tasks(seeded, db):
    """Three complaints dispatched to units: three open 签收 tasks, re-dated here."""
    from app.db import set_clock
    from app.demo import _complaint_to_unit
    from app.tasks.models import HumanTask, TaskStatus
    start = datetime(2026, 11, 2, 10, 0, tzinfo=CST)
    for offset, data in enumerate(({**MARKET}, {**SME}, {**SME, "company_name": "江门市示例第二五金有限公司"})):
        _complaint_to_unit(data, start + timedelta(days=offset), unit="jm_scjgj")
    set_clock(None)
    ids = db.session.execute(sa.select(HumanTask.id).where(HumanTask.status == TaskStatus.READY)
                             .order_by(HumanTask.id)).scalars().all()
    assert len(ids) >= 3
    return ids


def _redate(db, task_id, due_at, priority):
    from app.tasks.models import HumanTask
    db.session.execute(sa.update(HumanTask).where(HumanTask.id == task_id).values(due_at=due_at, priority=priority))


def test_no_due_date_last_then_priority_then_id(open_tasks, db):
    from app.auth.services import get_user_by_username
    from app.tasks.services import list_tasks
    from app.web.queries import InboxFilters, list_inbox
    first, second, third = open_tasks[:3]
    rest = open_tasks[3:]
    soon = datetime(2026, 11, 5, 1, 0, tzinfo=timezone.utc)
    _redate(db, first, None, 90)                 # no due date: last, whatever its priority
    _redate(db, second, soon, 10)                # same due date as third, lower priority
    _redate(db, third, soon, 80)
    for task_id in rest:
        _redate(db, task_id, soon + timedelta(days=1), 50)
    db.session.commit()
    admin = get_user_by_username("admin")
    expected = [third, second, *rest, first]
    assert [t.id for t in list_tasks(admin, "all", per_page=100).items] == expected
    assert [r.task.id for r in list_inbox(admin, InboxFilters(), per_page=100).rows] == expected
    # the same priority and due date: the lower id first
    _redate(db, third, soon, 10)
    db.session.commit()
    assert [t.id for t in list_tasks(admin, "all", per_page=100).items][:2] == [second, third]
