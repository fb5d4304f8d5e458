"""已办 (my completed steps), the inbox's column sorting and the follow-up date, in SQL."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app.demo import MARKET, SME

CST = timezone(timedelta(hours=8))


def _user(username):
    from app.auth.services import get_user_by_username
    return get_user_by_username(username)


@pytest.fixture
def driven(seeded, db):
    """Two complaints dispatched to 市场监管局 (the second one a day later) and one at 人社局."""
    from app.db import set_clock
    from app.demo import _complaint_to_unit
    start = datetime(2026, 11, 2, 10, 0, tzinfo=CST)
    made = [_complaint_to_unit({**MARKET}, start, unit="jm_scjgj"),
            _complaint_to_unit({**SME, "company_name": "江门市示例第二五金有限公司"}, start + timedelta(days=1),
                               unit="jm_scjgj"),
            _complaint_to_unit({**SME}, start + timedelta(days=2), unit="jm_rsj")]
    set_clock(None)
    return made


def test_done_lists_my_completed_steps_newest_first_with_the_cases_current_step(driven):
    from app.tasks.queries import DoneFilters, list_completed_tasks
    page = list_completed_tasks(_user("intake1"), DoneFilters())
    assert page.total == 3                                            # 登记建档 of each case
    assert [r.case.number for r in page.rows] == [d.case_number for d in reversed(driven)]
    assert {r.task.name for r in page.rows} == {"登记建档"}
    assert all(r.instance_status == "running" and r.current_steps == ["签收"] for r in page.rows)
    dispatch = list_completed_tasks(_user("dispatch1"), DoneFilters())
    assert dispatch.total == 6 and [r.task.bpmn_id for r in dispatch.rows[:2]] == ["dispatch", "assess"]
    assert list_completed_tasks(_user("handler1"), DoneFilters()).total == 0


def test_done_search_and_paging(driven):
    from app.tasks.queries import DoneFilters, list_completed_tasks
    user = _user("dispatch1")

    def numbers(**kw):
        return [r.case.number for r in list_completed_tasks(user, DoneFilters(**kw), per_page=100).rows]
    assert numbers(q=driven[0].case_number) == [driven[0].case_number] * 2
    assert numbers(q=driven[0].case_number.lower()[-6:]) == [driven[0].case_number] * 2
    assert set(numbers(q="第二五金")) == {driven[1].case_number}           # enterprise name
    assert set(numbers(q="强制搭售")) == {driven[0].case_number}           # the case's title
    assert numbers(q="派单") and set(numbers(q="派单")) == {d.case_number for d in driven}   # the step's name
    assert numbers(q="100%") == []
    second = list_completed_tasks(user, DoneFilters(page=2), per_page=4)
    assert second.total == 6 and second.pages == 2 and len(second.rows) == 2


def test_the_inbox_sorts_in_sql_by_each_column_both_ways(driven, db):
    from app.tasks.models import HumanTask
    from app.web.queries import InboxFilters, list_inbox
    user = _user("handler1")
    tasks = list_inbox(user, InboxFilters()).rows
    assert len(tasks) == 2
    first, second = sorted((r.task for r in tasks), key=lambda t: t.id)
    now = datetime.now(timezone.utc)
    db.session.execute(sa.update(HumanTask).where(HumanTask.id == first.id)
                       .values(priority=80, due_at=now + timedelta(days=5)))
    db.session.execute(sa.update(HumanTask).where(HumanTask.id == second.id).values(due_at=now + timedelta(days=1)))
    db.session.commit()

    def order(sort):
        return [r.task.id for r in list_inbox(user, InboxFilters(sort=sort)).rows]
    assert order("number") == [first.id, second.id] and order("-number") == [second.id, first.id]
    assert order("received") == [first.id, second.id] and order("-received") == [second.id, first.id]
    assert order("priority") == [second.id, first.id] and order("-priority") == [first.id, second.id]
    assert order("due") == [second.id, first.id] and order("-due") == [first.id, second.id]
    assert order("") == order("due")                                   # the default: soonest due first
    assert InboxFilters.from_args({"sort": "-priority"}).sort == "-priority"
    assert InboxFilters.from_args({"sort": "id; drop table"}).sort == ""       # unknown: the default order


def test_a_column_sort_pages_through_exactly_the_joined_order_with_ties_and_no_case(driven, db):
    """A column sort reads the page's task ids sorted alone, then their rows (app.web.queries.list_inbox),
    and the number sort reads the case number by a subquery: page by page the same rows in the same
    order as sorting every open task joined to its case: several tasks of one case (ties by id), a
    task without a case and a case without a number (last both ways), with and without a case filter."""
    from app.cases.models import Case
    from app.tasks.models import HumanTask, TaskStatus
    from app.web.queries import InboxFilters, list_inbox
    db.session.execute(sa.update(HumanTask).values(status=TaskStatus.READY))   # every step open: ties
    ids = db.session.execute(sa.select(HumanTask.id).order_by(HumanTask.id)).scalars().all()
    db.session.execute(sa.update(HumanTask).where(HumanTask.id == ids[1]).values(case_id=None))
    unnumbered = db.session.execute(sa.select(Case.id).order_by(Case.id)).scalars().first()
    db.session.execute(sa.update(Case).where(Case.id == unnumbered).values(number=None))
    db.session.commit()
    admin = _user("admin")
    tasks = db.session.execute(sa.select(HumanTask)).scalars().all()
    cases = {c.id: c for c in db.session.execute(sa.select(Case)).scalars()}
    assert len(tasks) > 8 and len({t.case_id for t in tasks}) < len(tasks)

    def expected(sort, district=""):
        keep = [t for t in tasks if not district or (t.case_id and cases[t.case_id].district == district)]
        value = {"number": lambda t: cases[t.case_id].number if t.case_id else None,
                 "received": lambda t: t.created_at, "priority": lambda t: t.priority}[sort.lstrip("-")]
        known = sorted((t for t in keep if value(t) is not None), key=lambda t: (value(t), t.id),
                       reverse=sort.startswith("-"))
        empty = sorted((t for t in keep if value(t) is None), key=lambda t: t.id, reverse=sort.startswith("-"))
        return [t.id for t in known + empty]

    for sort in ("number", "-number", "received", "-received", "priority", "-priority"):
        for district in ("", MARKET["district"]):
            want, got, page = expected(sort, district), [], 1
            while True:
                listed = list_inbox(admin, InboxFilters(sort=sort, district=district, page=page), per_page=3)
                assert listed.total == len(want), (sort, district)
                if not listed.rows:
                    break
                assert all(r.case is None if r.task.case_id is None else r.case.id == r.task.case_id
                           for r in listed.rows)
                got += [r.task.id for r in listed.rows]
                page += 1
            assert got == want, (sort, district)
    last = {t.id for t in tasks if t.case_id in (None, unnumbered)}          # no case, no number: last
    assert ids[1] in last and all(set(expected(s)[-len(last):]) == last for s in ("number", "-number"))


def test_follow_up_is_set_by_who_may_act_sorted_last_when_empty_and_filtered(driven, db):
    from app.errors import Conflict, Forbidden
    from app.tasks.follow_up import set_follow_up
    from app.tasks.queries import local_today
    from app.tasks.services import claim_task
    from app.web.queries import InboxFilters, list_inbox
    handler = _user("handler1")
    first, second = sorted((r.task for r in list_inbox(handler, InboxFilters()).rows), key=lambda t: t.id)
    today = local_today()
    set_follow_up(second.id, handler, today)
    assert [r.task.id for r in list_inbox(handler, InboxFilters(follow="today")).rows] == [second.id]
    set_follow_up(first.id, handler, today + timedelta(days=3))
    assert [r.task.id for r in list_inbox(handler, InboxFilters(follow="today")).rows] == [second.id]
    assert len(list_inbox(handler, InboxFilters(follow="set")).rows) == 2
    assert [r.task.id for r in list_inbox(handler, InboxFilters(sort="-follow_up")).rows] == [first.id, second.id]
    set_follow_up(first.id, handler, None)
    assert [r.task.id for r in list_inbox(handler, InboxFilters(sort="-follow_up")).rows] == [second.id, first.id]
    assert [r.task.id for r in list_inbox(handler, InboxFilters(sort="follow_up")).rows] == [second.id, first.id]
    with pytest.raises(Forbidden):
        set_follow_up(first.id, _user("handler2"), today)                 # not their unit's task
    claim_task(first.id, handler)
    other = _other_member(db)
    with pytest.raises(Conflict):
        set_follow_up(first.id, other, today)                             # claimed by handler1


def _other_member(db):
    """A second member of 市场监管局 (the task is claimed by handler1)."""
    from app.auth import services as auth
    from app.auth.models import Group
    unit = db.session.execute(sa.select(Group).where(Group.name == "jm_scjgj")).scalar_one()
    user, _ = auth.create_or_update_user("handler1b", "demo12345", "经办人 二号", [unit])
    db.session.commit()
    return user


def test_a_follow_up_date_is_validated_in_chinese():
    from app.errors import FormInvalid
    from app.tasks.follow_up import parse_follow_up
    today = date(2026, 12, 2)
    assert parse_follow_up("2026-12-05", today=today) == date(2026, 12, 5)
    assert parse_follow_up(" ", today=today) is None
    for text, message in [("2026-02-30", "请按“年-月-日”填写有效日期，例如 2026-12-05"),
                          ("明天", "请按“年-月-日”填写有效日期，例如 2026-12-05"),
                          ("2026-1-5", "请按“年-月-日”填写有效日期，例如 2026-12-05"),
                          ("2026-12-01", "跟进日期不能早于今天"), ("2028-01-01", "跟进日期不能晚于一年之后")]:
        with pytest.raises(FormInvalid) as bad:
            parse_follow_up(text, today=today)
        assert bad.value.fields == {"follow_up_on": [message]}, text
