"""Read side of the caseworker pages: the inbox (SQL over human_task + case) and filter choices.

The inbox shows exactly the tasks the API's inbox shows (app.tasks.services.list_tasks: same scopes,
same visibility clause, same order); it adds filters on the case (district, channel, search by case
number, enterprise name or USCC) and on the SLA colour, computed in SQL from due/warn times.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from app.auth.models import User
from app.auth.services import user_names
from app.cases.models import Case
from app.db import utcnow
from app.deadlines.sla import current_sla_state
from app.extensions import db
from app.numbers import page_number
from app.processes.models import ProcessDefinition
from app.taskforms.schema import options_of
from app.tasks import queries as task_queries, services as task_services
from app.tasks.models import HumanTask, HumanTaskCandidate, TaskStatus

SLA_FILTERS = ("red", "orange", "yellow", "green", "paused", "none")
# the API inbox's order (app.tasks.services.list_tasks): soonest due first, then priority
# soonest due first, no due date last: written NULLS LAST (not "due_at IS NULL, due_at") so that
# PostgreSQL walks the due_at indexes in this order and stops after a page
INBOX_ORDER = (HumanTask.due_at.asc().nulls_last(), HumanTask.priority.desc(), HumanTask.id)


@dataclass
class InboxFilters:
    scope: str = "all"
    process: str = ""
    district: str = ""
    channel: str = ""
    sla: str = ""
    q: str = ""
    page: int = 1
    sort: str = ""      # app.tasks.queries.INBOX_SORTS code, "-" for descending; "" = soonest due first
    follow: str = ""    # app.tasks.queries.FOLLOW_UP_FILTERS

    @classmethod
    def from_args(cls, args) -> "InboxFilters":
        """Query parameters, with anything invalid replaced by its default (a page never fails on them)."""
        scope = args.get("scope", "all")
        sla = args.get("sla", "")
        page = page_number(args.get("page"))
        return cls(scope=scope if scope in task_services.SCOPES else "all",
                   process=args.get("process", "").strip()[:100], district=args.get("district", "").strip()[:40],
                   channel=args.get("channel", "").strip()[:40], sla=sla if sla in SLA_FILTERS else "",
                   q=args.get("q", "").strip()[:100], page=page, sort=task_queries.valid_sort(args.get("sort")),
                   follow=args.get("follow", "") if args.get("follow") in task_queries.FOLLOW_UP_FILTERS else "")

    def args(self, **changes) -> dict:
        """The query parameters of these filters (with changes), without the defaults."""
        values = {"scope": self.scope, "process": self.process, "district": self.district,
                  "channel": self.channel, "sla": self.sla, "q": self.q, "page": self.page,
                  "sort": self.sort, "follow": self.follow, **changes}
        return {k: v for k, v in values.items() if v not in ("", None) and not (k == "page" and v == 1)
                and not (k == "scope" and v == "all")}

    @property
    def is_filtered(self) -> bool:
        return any((self.process, self.district, self.channel, self.sla, self.q, self.follow))


@dataclass
class InboxRow:
    task: HumanTask
    case: Case | None
    sla: str | None
    assignee_name: str | None


@dataclass
class InboxPage:
    rows: list[InboxRow]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return (self.total + self.per_page - 1) // self.per_page if self.total else 1


def _scope_clause(user: User, scope: str):
    """The visibility of app.tasks.services.list_tasks, scope by scope. Its private clause is reused
    so the two cannot drift apart (tests/web/test_inbox_page.py compares both, scope by scope)."""
    if scope == "mine":
        return HumanTask.assignee_id == user.id
    if scope == "group":
        groups = list(user.group_names) or [""]
        return HumanTask.id.in_(sa.select(HumanTaskCandidate.task_id)
                                .where(HumanTaskCandidate.group_name.in_(groups)))
    return None if user.is_admin else task_services.visible_clause(user)


def _sla_clause(state: str, now: datetime):
    running = HumanTask.paused_at.is_(None)
    not_orange = sa.or_(HumanTask.sla_state.is_(None), HumanTask.sla_state != "orange")
    on_time = sa.and_(running, HumanTask.due_at >= now)
    return {
        "red": sa.and_(running, HumanTask.due_at < now),
        "orange": sa.and_(on_time, HumanTask.sla_state == "orange"),
        "yellow": sa.and_(on_time, HumanTask.warn_at <= now, not_orange),
        "green": sa.and_(on_time, sa.or_(HumanTask.warn_at.is_(None), HumanTask.warn_at > now), not_orange),
        "paused": sa.and_(HumanTask.paused_at.is_not(None), HumanTask.due_at.is_not(None)),
        "none": HumanTask.due_at.is_(None),
    }[state]


def _search_clause(text: str):
    upper = text.upper()
    return sa.or_(Case.number.contains(upper, autoescape=True), Case.uscc.contains(upper, autoescape=True),
                  Case.company_name.contains(text, autoescape=True))


def inbox_statement(user: User, filters: InboxFilters, now: datetime):
    stmt = (sa.select(HumanTask, Case).outerjoin(Case, Case.id == HumanTask.case_id)
            .where(HumanTask.status == TaskStatus.READY))
    scope = _scope_clause(user, filters.scope)
    if scope is not None:
        stmt = stmt.where(scope)
    if filters.process:
        stmt = stmt.where(HumanTask.process_key == filters.process)
    if filters.district:
        stmt = stmt.where(Case.district == filters.district)
    if filters.channel:
        stmt = stmt.where(Case.channel == filters.channel)
    if filters.sla:
        stmt = stmt.where(_sla_clause(filters.sla, now))
    if filters.q:
        stmt = stmt.where(_search_clause(filters.q))
    if filters.follow:
        stmt = stmt.where(task_queries.follow_up_clause(filters.follow, now))
    return stmt


def list_inbox(user: User, filters: InboxFilters, per_page: int = 20, now: datetime | None = None) -> InboxPage:
    """One page of the inbox, soonest due first (the API's order)."""
    now = now or utcnow()
    stmt = inbox_statement(user, filters, now)
    total = db.session.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()
    order = task_queries.inbox_order(filters.sort, INBOX_ORDER)
    page = stmt.order_by(*order).limit(per_page).offset((filters.page - 1) * per_page)
    if filters.sort:
        # a column sort cannot walk ix_human_task_open as the default order does: the page's task ids
        # are sorted alone (from that index, the case joined only when a case filter needs it), then
        # their rows read, instead of joining every open task's whole row to its case and sorting all
        # (a million tasks, the admin's inbox by case number on PostgreSQL: 102 -> 18 ms)
        page = (sa.select(HumanTask, Case).outerjoin(Case, Case.id == HumanTask.case_id)
                .where(HumanTask.id.in_(page.with_only_columns(HumanTask.id))).order_by(*order))
    rows = db.session.execute(page).all()
    names = user_names({task.assignee_id for task, _ in rows})
    return InboxPage([InboxRow(task, case, current_sla_state(task, now), names.get(task.assignee_id))
                      for task, case in rows], filters.page, per_page, total)


# --- choices and labels from the deployed forms ------------------------------------------------------

@dataclass
class Choices:
    processes: list[tuple[str, str]] = field(default_factory=list)   # (key, name)
    districts: list[str] = field(default_factory=list)
    channels: list[tuple[str, str]] = field(default_factory=list)    # (value, label)

    @property
    def process_names(self) -> dict[str, str]:
        return dict(self.processes)

    @property
    def channel_labels(self) -> dict[str, str]:
        return dict(self.channels)


# keyed by (id, content hash): an id alone may come back for other content after rows are deleted
_choices_by_definition: dict[tuple[int, str], tuple[list[str], list[tuple[str, str]]]] = {}
_choices_lock = threading.Lock()


def latest_definitions() -> list[tuple[int, str, str, str]]:
    """(id, key, name, content hash) of the latest version of every process, by name (small columns only)."""
    latest = (sa.select(ProcessDefinition.key, sa.func.max(ProcessDefinition.version).label("v"))
              .group_by(ProcessDefinition.key).subquery())
    return [tuple(r) for r in db.session.execute(
        sa.select(ProcessDefinition.id, ProcessDefinition.key, ProcessDefinition.name, ProcessDefinition.content_hash)
        .join(latest, sa.and_(ProcessDefinition.key == latest.c.key, ProcessDefinition.version == latest.c.v))
        .order_by(ProcessDefinition.name)).all()]


def filter_choices() -> Choices:
    """Processes, districts and channels (with their Chinese labels) for the inbox filters."""
    choices = Choices()
    for definition_id, key, name, content_hash in latest_definitions():
        choices.processes.append((key, name))
        districts, channels = _definition_choices(definition_id, content_hash)
        choices.districts += [d for d in districts if d not in choices.districts]
        known = {value for value, _ in choices.channels}
        choices.channels += [c for c in channels if c[0] not in known]
    return choices


def _definition_choices(definition_id: int, content_hash: str) -> tuple[list[str], list[tuple[str, str]]]:
    """District values and channel labels a deployed version's forms offer (immutable: cached)."""
    found = _choices_by_definition.get((definition_id, content_hash))
    if found is not None:
        return found
    forms = db.session.execute(sa.select(ProcessDefinition.forms)
                               .where(ProcessDefinition.id == definition_id)).scalar_one_or_none() or {}
    districts: list[str] = []
    channels: list[tuple[str, str]] = []
    for schema in forms.values():
        props = schema.get("properties") if isinstance(schema, dict) else None
        if not isinstance(props, dict):
            continue
        for option in options_of(props.get("district") or {}, {}):
            if isinstance(option.const, str) and option.const not in districts:
                districts.append(option.const)
        for option in options_of(props.get("channel") or {}, {}):
            if isinstance(option.const, str) and option.const not in dict(channels):
                channels.append((option.const, option.label))
    with _choices_lock:
        _choices_by_definition[(definition_id, content_hash)] = (districts, channels)
    return districts, channels
