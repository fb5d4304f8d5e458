"""Read side of the task lists beside the inbox: 已办 (the steps I completed) and the inbox's column
sorting and follow-up filter. Paging, sorting and filtering happen in SQL over human_task (+ case,
process_instance); the current steps of the page's cases come from one more query, never from the
engine.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.auth.models import User
from app.calendar.calendar import SHANGHAI
from app.cases.models import Case
from app.db import utcnow
from app.extensions import db
from app.numbers import page_number
from app.processes.models import ProcessDefinition, ProcessInstance
from app.tasks.models import HumanTask, TaskStatus

SEARCH_LENGTH = 100


@dataclass
class ListPage:
    """One page of a list: `rows` for the pages, `items` for app.api.common.paginate."""

    rows: list
    page: int
    per_page: int
    total: int

    @property
    def items(self) -> list:
        return self.rows

    @property
    def pages(self) -> int:
        return (self.total + self.per_page - 1) // self.per_page if self.total else 1


def local_today(now: datetime | None = None) -> date:
    """Today in Jiangmen (follow-up dates and date filters are local days)."""
    return (now or utcnow()).astimezone(SHANGHAI).date()


def text_search_clause(text: str, *extra):
    """Case number, USCC (both stored upper-case), enterprise name, and any `extra` text columns;
    LIKE wildcards typed by people are matched as text."""
    upper = text.upper()
    return sa.or_(Case.number.contains(upper, autoescape=True), Case.uscc.contains(upper, autoescape=True),
                  Case.company_name.contains(text, autoescape=True),
                  *(column.contains(text, autoescape=True) for column in extra))


def current_steps(instance_ids) -> dict[int, list[str]]:
    """The titles of the open steps of these instances, in the order they opened (one query)."""
    ids = sorted({i for i in instance_ids if i is not None})
    if not ids:
        return {}
    steps: dict[int, list[str]] = {}
    for instance_id, name in db.session.execute(
            sa.select(HumanTask.instance_id, HumanTask.name)
            .where(HumanTask.instance_id.in_(ids), HumanTask.status == TaskStatus.READY)
            .order_by(HumanTask.instance_id, HumanTask.id)).all():
        names = steps.setdefault(instance_id, [])
        if name not in names:
            names.append(name)
    return steps


# --- 已办: the steps I completed ---------------------------------------------------------------------

@dataclass
class DoneFilters:
    q: str = ""
    page: int = 1

    @classmethod
    def from_args(cls, args) -> "DoneFilters":
        return cls(q=(args.get("q") or "").strip()[:SEARCH_LENGTH], page=page_number(args.get("page")))

    def args(self, **changes) -> dict:
        values = {"q": self.q, "page": self.page, **changes}
        return {k: v for k, v in values.items() if v not in ("", None) and not (k == "page" and v == 1)}


@dataclass
class DoneRow:
    task: HumanTask
    case: Case | None
    instance_status: str
    current_steps: list[str] = field(default_factory=list)


def completed_statement(user: User, q: str = ""):
    """My completed steps (human_task.completed_by_id, read from its index), with their case and the
    instance's status."""
    stmt = (sa.select(HumanTask, Case, ProcessInstance.status)
            .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .outerjoin(Case, Case.id == HumanTask.case_id)
            .where(HumanTask.completed_by_id == user.id, HumanTask.status == TaskStatus.COMPLETED))
    if q:
        stmt = stmt.where(_done_search_clause(q))
    return stmt


def _done_search_clause(q: str):
    """text_search_clause(q, Case.title, HumanTask.name) as sets: the matching cases (a scan of the
    narrow case table) and the matching step names (from the deployed versions' task metadata), so
    the search reads my steps of those cases by index instead of joining every step I ever completed
    to its case (a 60,000-step history: 195 ms on PostgreSQL before)."""
    cases = HumanTask.case_id.in_(sa.select(Case.id).where(text_search_clause(q, Case.title)))
    names = sorted({task.get("name") for meta in db.session.execute(sa.select(ProcessDefinition.meta)).scalars()
                    for task in ((meta or {}).get("tasks") or {}).values()
                    if isinstance(task, dict) and isinstance(task.get("name"), str) and q in task["name"]})
    return sa.or_(cases, HumanTask.name.in_(names)) if names else cases


def list_completed_tasks(user: User, filters: DoneFilters, per_page: int = 20) -> ListPage:
    """One page of 已办, newest completion first, each row with its case's current state."""
    stmt = completed_statement(user, filters.q)
    if filters.q:
        total = db.session.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()
    else:   # every task has its instance: counted inside ix_human_task_completed_by_id_status, no join
        total = db.session.execute(sa.select(sa.func.count()).select_from(HumanTask).where(
            HumanTask.completed_by_id == user.id, HumanTask.status == TaskStatus.COMPLETED)).scalar_one()
    rows = db.session.execute(stmt.order_by(HumanTask.completed_at.desc(), HumanTask.id.desc())
                              .limit(per_page).offset((filters.page - 1) * per_page)).all()
    steps = current_steps(task.instance_id for task, _, _ in rows)
    return ListPage([DoneRow(task, case, status, steps.get(task.instance_id, [])) for task, case, status in rows],
                    filters.page, per_page, total)


# --- the inbox's column sorting and follow-up filter ------------------------------------------------

# A task's case number by a correlated subquery: the same value as the joined case's number (the
# case is joined on this key, outer: no case gives NULL), but a sort by it needs no join of every open
# task to its case (the inbox sorts task ids alone, app.web.queries.list_inbox): its own alias, so it
# is never correlated to the inbox's joined case.
_numbered = aliased(Case)
TASK_CASE_NUMBER = (sa.select(_numbered.number).where(_numbered.id == HumanTask.case_id)
                    .correlate(HumanTask).scalar_subquery())

# sort code -> the columns, ascending; "-code" sorts descending. Empty dates sort last either way.
INBOX_SORTS = {
    "due": (HumanTask.due_at,),
    "received": (HumanTask.created_at,),
    "number": (TASK_CASE_NUMBER,),
    "priority": (HumanTask.priority,),
    "follow_up": (HumanTask.follow_up_on,),
}
NULLABLE_SORTS = {"due", "follow_up", "number"}
FOLLOW_UP_FILTERS = ("today", "set")


def valid_sort(code: str | None) -> str:
    """The sort code if it is one of INBOX_SORTS (optionally with "-"), else "" (the default order)."""
    code = (code or "").strip()
    return code if code.removeprefix("-") in INBOX_SORTS else ""


def inbox_order(code: str, default: tuple) -> tuple:
    """ORDER BY of the inbox for a sort code ("" keeps `default`); ties broken by the task id."""
    if not code:
        return default
    name, descending = code.removeprefix("-"), code.startswith("-")
    columns = INBOX_SORTS[name]
    # NULLS LAST: the same order as "column IS NULL, column" (both databases), one expression per column
    order = [column.desc() if descending else column.asc() for column in columns]
    if name in NULLABLE_SORTS:
        order = [column.nulls_last() for column in order]
    order.append(HumanTask.id.desc() if descending else HumanTask.id)
    return tuple(order)


def follow_up_clause(code: str, now: datetime | None = None):
    """SQL for the follow-up filter: "today" = due for follow-up today or earlier (今天需跟进),
    "set" = has a follow-up date."""
    if code == "today":
        return HumanTask.follow_up_on <= local_today(now)
    return HumanTask.follow_up_on.is_not(None)
