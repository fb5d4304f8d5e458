"""The overdue and due-soon lists: SQL over open human tasks (status READY) joined to their case.

Overdue: the due date has passed (a task whose clock was paused before it fell due is not overdue:
its clock is stopped). Due soon: not overdue, the clock running, and either yellow already
(warn_at reached) or due within the horizon (by default one working day, DOMAIN §1.4).
Each row carries its SLA colour, hours and working days over, the escalation rung reached, the
provisional mark, and the latest 督办 deadline. The page and the API call the same functions.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.audit.models import AuditAction, AuditEvent
from app.auth.models import Group, GroupKind, User, user_group
from app.calendar import SHANGHAI
from app.cases.models import Case
from app.cases.privacy import MASKED_NAME, can_see_identity, mask_data
from app.db import utcnow
from app.deadlines.due import get_calendar
from app.deadlines.models import Incident, TimerJob
from app.deadlines.sla import current_sla_state
from app.errors import Forbidden, FormInvalid
from app.extensions import db
from app.processes.models import InstanceStatus, ProcessDefinition, ProcessInstance
from app.processes.versions import get_latest_definition
from app.supervision.access import (Scope, case_clause, supervision_scope, task_clause, unit_case_clause,
                                    unit_task_clause)
from app.supervision.kpis import count_if, parse_period
from app.tasks.models import HumanTask, TaskStatus

KINDS = ("overdue", "due_soon")
KIND_TITLES = {"overdue": "超期任务", "due_soon": "临期任务"}

#: HumanTask.escalation_step → the Chinese name of the rung (DOMAIN §2.5)
ESCALATION_LABELS = {"remind": "催办", "overdue": "超期", "notice": "催办通知书", "supervise": "督办",
                     "criticise": "通报"}
SLA_LABELS = {"green": "正常", "yellow": "临期", "orange": "环节超时", "red": "超期", "paused": "暂停计时"}
PROCESS_TITLES = {"complaint": "企业诉求/投诉举报", "one_thing_transport": "开办运输企业一件事",
                  "dispute_escalation": "矛盾纠纷分级调处", "problem_list": "问题清单研判与销号"}
DUE_SOON_DEFAULT = "1WD"
UNASSIGNED_UNIT = "（未分派）"

_assignee = aliased(User)
SORTS = {
    "due_at": (HumanTask.due_at.asc(),),
    "-due_at": (HumanTask.due_at.desc(),),
    "priority": (HumanTask.priority.asc(),),
    "-priority": (HumanTask.priority.desc(),),
    "created_at": (HumanTask.created_at.asc(),),
    "-created_at": (HumanTask.created_at.desc(),),
    "case": (Case.number.asc(),),
    "-case": (Case.number.desc(),),
}
DIMENSIONS = ("unit", "district", "process", "channel", "step")


@dataclass
class Filters:
    """The list filters; None means "any"."""

    unit: str | None = None
    district: str | None = None
    process: str | None = None
    channel: str | None = None
    step: str | None = None           # bpmn_id
    escalation: str | None = None     # remind / overdue / notice / supervise / criticise, or "none"
    assignee: str | None = None       # username
    provisional: bool | None = None

    @classmethod
    def from_mapping(cls, values: dict) -> Filters:
        return cls(**{k: values.get(k) for k in cls.__dataclass_fields__ if values.get(k) not in (None, "")})


@dataclass
class Page:
    items: list[dict]
    page: int
    per_page: int
    total: int
    now: datetime | None = None
    meta: dict = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return (self.total + self.per_page - 1) // self.per_page if self.total else 1


# --- text for and from people ----------------------------------------------------------------------

#: the years a date typed by a person may fall in (further ones overflow date arithmetic: 9999-12-31 + 1 day)
MIN_YEAR, MAX_YEAR = 2000, 2100
YEAR_RANGE_MESSAGE = f"日期须在 {MIN_YEAR} 至 {MAX_YEAR} 年之间"


def in_year_range(value: date | datetime) -> bool:
    return MIN_YEAR <= value.year <= MAX_YEAR


def local_text(value: datetime | None, empty: str = "") -> str:
    """A UTC instant as Asia/Shanghai text for people (exports, messages, notifications); `empty` for None."""
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value is not None else empty


# --- statements ---------------------------------------------------------------------------------

def _kind_clause(kind: str, now: datetime, horizon: datetime | None):
    if kind == "overdue":
        # a clock paused before the due date is stopped; one paused after it stays overdue
        return sa.and_(HumanTask.due_at < now,
                       sa.or_(HumanTask.paused_at.is_(None), HumanTask.paused_at > HumanTask.due_at))
    if kind == "due_soon":
        soon = HumanTask.warn_at <= now
        if horizon is not None:
            soon = sa.or_(soon, HumanTask.due_at <= horizon)
        return sa.and_(HumanTask.due_at >= now, HumanTask.paused_at.is_(None), soon)
    raise FormInvalid("列表类型只能是 overdue 或 due_soon", fields={"kind": ["取值无效"]})


def _filter_clauses(scope: Scope, filters: Filters, case_joined: bool) -> list:
    clauses = []
    if filters.unit:
        if not scope.covers_unit(filters.unit):
            raise Forbidden(f"您无权查看单位“{filters.unit}”的任务")
        clauses.append(unit_task_clause([filters.unit], case_joined=case_joined))
    if filters.district:
        clauses.append(Case.district == filters.district)
    if filters.process:
        clauses.append(HumanTask.process_key == filters.process)
    if filters.channel:
        clauses.append(Case.channel == filters.channel)
    if filters.step:
        clauses.append(HumanTask.bpmn_id == filters.step)
    if filters.escalation:
        if filters.escalation == "none":
            clauses.append(HumanTask.escalation_step.is_(None))
        elif filters.escalation in ESCALATION_LABELS:
            clauses.append(HumanTask.escalation_step == filters.escalation)
        else:
            raise FormInvalid("督办环节取值无效", fields={"escalation": [
                "可选：" + "、".join([*ESCALATION_LABELS, "none"])]})
    if filters.assignee:
        clauses.append(HumanTask.assignee_id.in_(sa.select(User.id).where(User.username == filters.assignee)))
    if filters.provisional is not None:
        clauses.append(HumanTask.due_provisional.is_(bool(filters.provisional)))
    return clauses


def _where(scope: Scope, kind: str, filters: Filters, now: datetime, horizon: datetime | None, *,
           case_joined: bool = True) -> list:
    """The WHERE of a list. With `case_joined` the statement joins "case" and reads case.unit from it;
    without, the unit rule looks the case up by key (the count needs no join unless a case column
    is filtered on)."""
    return [HumanTask.status == TaskStatus.READY, _kind_clause(kind, now, horizon),
            task_clause(scope, case_joined=case_joined), *_filter_clauses(scope, filters, case_joined)]


def _needs_case(filters: Filters) -> bool:
    return bool(filters.district or filters.channel)


def _base_select(*columns):
    return sa.select(*columns).select_from(HumanTask).outerjoin(Case, Case.id == HumanTask.case_id)


_ROW_COLUMNS = (HumanTask.id, HumanTask.name, HumanTask.bpmn_id, HumanTask.process_key, HumanTask.instance_id,
                HumanTask.case_id, HumanTask.candidate_groups, HumanTask.assignee_id, HumanTask.priority,
                HumanTask.created_at, HumanTask.due_at, HumanTask.warn_at, HumanTask.paused_at,
                HumanTask.escalation_step, HumanTask.due_provisional, HumanTask.sla_state,
                Case.number.label("case_number"), Case.title.label("case_title"), Case.channel, Case.district,
                Case.unit, Case.company_name, Case.is_confidential,
                _assignee.username.label("assignee_username"), _assignee.display_name.label("assignee_name"))


def due_soon_horizon(now: datetime, within: str | None = None) -> datetime:
    """The end of the due-soon window: `within` (a duration such as 1WD, 8WH, 24H) from now."""
    from app.calendar import DurationError
    try:
        return get_calendar().add(now, within or DUE_SOON_DEFAULT).due
    except DurationError as exc:
        raise FormInvalid("临期范围格式有误", fields={"within": [str(exc)]}) from None


# --- the lists ----------------------------------------------------------------------------------

def list_tasks(user: User, kind: str, filters: Filters | None = None, *, sort: str = "due_at",
               page: int = 1, per_page: int = 20, within: str | None = None, now: datetime | None = None,
               limit: int | None = None) -> Page:
    """One page of the overdue or due-soon list the user may see.

    Raises Forbidden (not a supervisor or administrator, or a unit outside theirs), FormInvalid (422: a bad
    kind, sort or filter). `limit` (exports) replaces pagination: every row up to `limit`.
    """
    scope = supervision_scope(user)
    now = now or utcnow()
    filters = filters or Filters()
    if sort not in SORTS:
        raise FormInvalid("排序字段无效", fields={"sort": ["可选：" + "、".join(SORTS)]})
    horizon = due_soon_horizon(now, within) if kind == "due_soon" else None
    where = _where(scope, kind, filters, now, horizon)
    total = _count(scope, kind, filters, now, horizon)
    stmt = (_base_select(*_ROW_COLUMNS).outerjoin(_assignee, _assignee.id == HumanTask.assignee_id)
            .where(*where).order_by(*SORTS[sort], HumanTask.id))
    if limit is not None:
        stmt = stmt.limit(limit)
        page, per_page = 1, max(limit, 1)
    else:
        stmt = stmt.limit(per_page).offset((page - 1) * per_page)
    rows = db.session.execute(stmt).all()
    supervised = _latest_supervision([r.id for r in rows])
    calendar = get_calendar()
    items = [_row(r, scope, now, calendar, supervised.get(r.id)) for r in rows]
    return Page(items, page, per_page, total, now, {"kind": kind, "horizon": horizon})


def _count(scope: Scope, kind: str, filters: Filters, now: datetime, horizon: datetime | None) -> int:
    counted = sa.select(sa.func.count(HumanTask.id)).select_from(HumanTask)
    if _needs_case(filters):
        counted = counted.join(Case, Case.id == HumanTask.case_id)
    return db.session.execute(counted.where(*_where(scope, kind, filters, now, horizon,
                                                    case_joined=_needs_case(filters)))).scalar_one()


def count_tasks(user: User, kind: str, filters: Filters | None = None, *, within: str | None = None,
                now: datetime | None = None) -> int:
    """How many rows list_tasks would have in all (the tab counts of the dashboard), without reading them."""
    scope = supervision_scope(user)
    now = now or utcnow()
    horizon = due_soon_horizon(now, within) if kind == "due_soon" else None
    return _count(scope, kind, filters or Filters(), now, horizon)


def _latest_supervision(task_ids: list[int]) -> dict[int, dict]:
    """The latest 督办 of each task (its deadline and when), from the audit trail: one query per page."""
    if not task_ids:
        return {}
    rows = db.session.execute(
        sa.select(AuditEvent.human_task_id, AuditEvent.at, AuditEvent.data)
        .where(AuditEvent.human_task_id.in_(task_ids), AuditEvent.action == AuditAction.SUPERVISE)
        .order_by(AuditEvent.id)).all()
    latest = {}
    for task_id, at, data in rows:   # ascending ids: the last one wins
        deadline = (data or {}).get("deadline")
        latest[task_id] = {"supervised_at": at,
                           "supervise_deadline": datetime.fromisoformat(deadline).astimezone(timezone.utc)
                           if deadline else None}
    return latest


def _row(r, scope: Scope, now: datetime, calendar, supervised: dict | None) -> dict:
    sla = current_sla_state(r, now)
    over = (now - r.due_at) if r.due_at is not None else None
    if r.due_at is not None and now > r.due_at:
        wd_over = calendar.count_working_days(calendar.local_date(r.due_at), calendar.local_date(now))
    else:
        wd_over = 0
    case_stub = _CaseStub(bool(r.is_confidential))
    company = r.company_name
    if company and not can_see_identity(scope.user, case_stub):
        company = MASKED_NAME   # a confidential reporter may be the enterprise itself
    row = {
        "task_id": r.id, "task_name": r.name, "bpmn_id": r.bpmn_id, "process_key": r.process_key,
        "process_title": PROCESS_TITLES.get(r.process_key, r.process_key),
        "instance_id": r.instance_id, "case_id": r.case_id, "case_number": r.case_number, "case_title": r.case_title,
        "channel": r.channel, "district": r.district, "unit": r.unit, "company_name": company,
        "candidate_groups": list(r.candidate_groups or []),
        "assignee_id": r.assignee_id, "assignee_username": r.assignee_username, "assignee_name": r.assignee_name,
        "priority": r.priority, "created_at": r.created_at, "due_at": r.due_at, "warn_at": r.warn_at,
        "sla": sla, "sla_label": SLA_LABELS.get(sla or "", ""),
        "hours_over": round(over.total_seconds() / 3600, 1) if over is not None else None,
        "working_days_over": wd_over,
        "escalation_step": r.escalation_step, "escalation_label": ESCALATION_LABELS.get(r.escalation_step or ""),
        "provisional": bool(r.due_provisional), "paused": r.paused_at is not None,
        "supervise_deadline": (supervised or {}).get("supervise_deadline"),
        "supervised_at": (supervised or {}).get("supervised_at"),
    }
    return mask_data(row, scope.user, case_stub)   # no identity field today; any added later is masked


@dataclass
class _CaseStub:
    is_confidential: bool


# --- counts by dimension ------------------------------------------------------------------------

def summarize(user: User, kind: str, by: str, filters: Filters | None = None, *, within: str | None = None,
              now: datetime | None = None) -> list[dict]:
    """How many overdue / due-soon tasks per unit (case.unit), district, process, channel or step.

    Raises Forbidden, FormInvalid (bad kind or dimension). Largest groups first.
    """
    if by not in DIMENSIONS:
        raise FormInvalid("统计维度无效", fields={"by": ["可选：" + "、".join(DIMENSIONS)]})
    scope = supervision_scope(user)
    now = now or utcnow()
    filters = filters or Filters()
    horizon = due_soon_horizon(now, within) if kind == "due_soon" else None
    where = _where(scope, kind, filters, now, horizon)
    key = {"unit": Case.unit, "district": Case.district, "process": HumanTask.process_key,
           "channel": Case.channel, "step": HumanTask.bpmn_id}[by]
    extra = (HumanTask.process_key, sa.func.max(HumanTask.name)) if by == "step" else ()
    group = (key, HumanTask.process_key) if by == "step" else (key,)
    count = sa.func.count(HumanTask.id)
    rows = db.session.execute(_base_select(key, *extra, count).where(*where).group_by(*group)
                              .order_by(count.desc(), key)).all()
    result = []
    for row in rows:
        value = row[0]
        if by == "step":
            label = f"{row[2]}（{PROCESS_TITLES.get(row[1], row[1])}）"
            result.append({"key": value, "process_key": row[1], "label": label, "count": row[-1]})
            continue
        label = PROCESS_TITLES.get(value, value) if by == "process" else value
        result.append({"key": value, "label": label if value is not None else UNASSIGNED_UNIT, "count": row[-1]})
    return result


# --- incidents ------------------------------------------------------------------------------------

INCIDENT_KIND_LABELS = {"bpmn_timer": "流程定时器", "sla_warn": "临期预警", "overdue": "超期提醒",
                        "notice": "催办通知书", "supervise": "督办", "criticise": "通报",
                        "script_error": "流程脚本错误", "integration_delivery": "平台事件推送"}


def list_incidents(user: User, *, page: int = 1, per_page: int = 20, limit: int | None = None) -> Page:
    """What needs a supervisor's hand: unresolved incidents (jobs that failed their last attempt) and
    instances stopped by a script error, newest first, inside the user's scope.

    Items have source "job" (id = incident id; retry with retry_incident) or "script" (id = instance
    id; retry with retry_script_error). Raises Forbidden.
    """
    scope = supervision_scope(user)
    take = limit if limit is not None else page * per_page
    jobs_where = [Incident.resolved_at.is_(None)]
    errors_where = [ProcessInstance.status == InstanceStatus.ERROR]
    if not scope.is_all:
        # correlated: checked for each open incident / stopped instance (few, found by their own index),
        # never a list of every task or instance of the units
        visible_task = (sa.select(sa.literal(1)).select_from(HumanTask)
                        .where(HumanTask.id == Incident.human_task_id, unit_task_clause(scope.units))
                        .correlate_except(HumanTask).exists())

        def case_of(instance_id):
            owner = aliased(ProcessInstance)
            return (sa.select(sa.literal(1)).select_from(owner).join(Case, Case.id == owner.case_id)
                    .where(owner.id == instance_id, unit_case_clause(scope.units))
                    .correlate_except(owner, Case).exists())
        jobs_where.append(sa.or_(sa.and_(Incident.human_task_id.is_not(None), visible_task),
                                 sa.and_(Incident.human_task_id.is_(None), case_of(Incident.instance_id))))
        errors_where.append(case_of(ProcessInstance.id))
    jobs_total = db.session.execute(sa.select(sa.func.count(Incident.id)).where(*jobs_where)).scalar_one()
    errors_total = db.session.execute(
        sa.select(sa.func.count(ProcessInstance.id)).where(*errors_where)).scalar_one()
    job_rows = db.session.execute(
        sa.select(Incident.id, Incident.kind, Incident.message, Incident.created_at, Incident.instance_id,
                  Incident.human_task_id, Incident.job_id, TimerJob.attempts, HumanTask.name.label("task_name"),
                  HumanTask.process_key, ProcessInstance.case_id, Case.number.label("case_number"), Case.unit)
        .select_from(Incident)
        .outerjoin(TimerJob, TimerJob.id == Incident.job_id)
        .outerjoin(HumanTask, HumanTask.id == Incident.human_task_id)
        .outerjoin(ProcessInstance, ProcessInstance.id == Incident.instance_id)
        .outerjoin(Case, Case.id == ProcessInstance.case_id)
        .where(*jobs_where).order_by(Incident.created_at.desc(), Incident.id.desc()).limit(take)).all()
    error_rows = db.session.execute(
        sa.select(ProcessInstance.id, ProcessInstance.error_message, ProcessInstance.error_element,
                  ProcessInstance.error_line, ProcessInstance.error_at, ProcessInstance.case_id,
                  ProcessDefinition.key, Case.number.label("case_number"), Case.unit)
        .select_from(ProcessInstance)
        .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
        .outerjoin(Case, Case.id == ProcessInstance.case_id)
        .where(*errors_where).order_by(ProcessInstance.error_at.desc(), ProcessInstance.id.desc())
        .limit(take)).all()
    items = [{"source": "job", "id": r.id, "kind": r.kind, "kind_label": INCIDENT_KIND_LABELS.get(r.kind, r.kind),
              "message": r.message, "created_at": r.created_at, "instance_id": r.instance_id,
              "case_id": r.case_id, "case_number": r.case_number, "unit": r.unit, "process_key": r.process_key,
              "task_id": r.human_task_id, "task_name": r.task_name, "job_id": r.job_id, "attempts": r.attempts,
              "element": None, "line": None} for r in job_rows]
    items += [{"source": "script", "id": r.id, "kind": "script_error",
               "kind_label": INCIDENT_KIND_LABELS["script_error"], "message": r.error_message,
               "created_at": r.error_at, "instance_id": r.id, "case_id": r.case_id, "case_number": r.case_number,
               "unit": r.unit, "process_key": r.key, "task_id": None, "task_name": None, "job_id": None,
               "attempts": None, "element": r.error_element, "line": r.error_line} for r in error_rows]
    epoch = datetime.min.replace(tzinfo=timezone.utc)
    items.sort(key=lambda i: (i["created_at"] or epoch, i["source"], i["id"]), reverse=True)
    if limit is not None:
        return Page(items[:limit], 1, max(limit, 1), jobs_total + errors_total)
    return Page(items[(page - 1) * per_page:page * per_page], page, per_page, jobs_total + errors_total)




# --- charts: the weekly trend and the diagram heat map ----------------------------------------------

MAX_WEEKS = 60


def process_keys() -> list[str]:
    """Every deployed process key (a small table). Lets a query without a process filter still start
    with `process_key IN (…)`, the leading column of the case indexes."""
    return list(db.session.execute(sa.select(ProcessDefinition.key).distinct().order_by(ProcessDefinition.key))
                .scalars())


def week_starts(start: datetime, end: datetime) -> list[datetime]:
    """The Monday 00:00 (Beijing time) of each week that meets [start, end), as UTC instants, the first
    one clipped to `start`. Raises FormInvalid past MAX_WEEKS weeks."""
    first = start.astimezone(SHANGHAI).date()
    day = first - timedelta(days=first.weekday())
    bounds: list[datetime] = []
    while True:
        instant = datetime.combine(day, time(0), tzinfo=SHANGHAI).astimezone(timezone.utc)
        if instant >= end:
            break
        bounds.append(max(instant, start))
        if len(bounds) > MAX_WEEKS:
            raise FormInvalid(f"统计区间过长，周趋势最多 {MAX_WEEKS} 周", fields={"end": [f"区间不超过 {MAX_WEEKS} 周"]})
        day += timedelta(days=7)
    return bounds


def _week_bucket(column, bounds: list[datetime]):
    """SQL: the index of the week a time falls in (the rows are already limited to the period): whole
    weeks since the first week's Monday 00:00 Beijing time, in integer seconds since the epoch, so
    a row exactly at a Monday's midnight falls in the week it begins. One expression per row, where
    a CASE over the week boundaries cost a comparison per week (a year: 53 per row, 1 s per 100,000)."""
    if len(bounds) == 1:
        return sa.literal(0)
    first = bounds[0].astimezone(SHANGHAI).date()
    monday = datetime.combine(first - timedelta(days=first.weekday()), time(0), tzinfo=SHANGHAI)
    origin = int(monday.timestamp())
    if db.session.get_bind().dialect.name == "postgresql":
        # date_part is double precision; EXTRACT returns numeric since PostgreSQL 14, whose division
        # cost a third of the trend's time over a year of rows. Whole seconds are exact in a double.
        return sa.cast(sa.func.floor((sa.func.date_part("epoch", column) - origin) / WEEK_SECONDS), sa.Integer)
    # SQLite keeps integer microseconds since the epoch (app.db.UTCDateTime); integer division of a
    # non-negative number is the floor (SQLite's floor() needs its optional math functions)
    seconds = sa.type_coerce(column, sa.Integer) / 1_000_000
    return sa.cast((seconds - origin) / WEEK_SECONDS, sa.Integer)


WEEK_SECONDS = 7 * 86400


def _case_scope(scope: Scope, filters: Filters, keys: list[str]) -> list:
    """WHERE clauses on "case" for the charts: scope, unit, district, process (else every key), channel."""
    clauses = [case_clause(scope)]
    if filters.unit:
        if not scope.covers_unit(filters.unit):
            raise Forbidden(f"您无权查看单位“{filters.unit}”的任务")
        clauses.append(unit_case_clause([filters.unit]))
    clauses.append(Case.process_key == filters.process if filters.process else Case.process_key.in_(keys or [""]))
    if filters.district:
        clauses.append(Case.district == filters.district)
    if filters.channel:
        clauses.append(Case.channel == filters.channel)
    return clauses


def chart_filters(filters: Filters | None) -> Filters:
    """The filters the charts honour: unit, district, process, channel (not a list's step or rung)."""
    filters = filters or Filters()
    return Filters(unit=filters.unit, district=filters.district, process=filters.process, channel=filters.channel)


def weekly_trend(user: User, start, end, filters: Filters | None = None, *, now: datetime | None = None) -> dict:
    """Per week of [start, end) (weeks begin on Monday, Beijing time): cases received (case.created_at),
    cases closed (case.closed_at), and steps that fell overdue (due in that week, already past, and
    not completed by their due date; a clock paused before the due date is not overdue).

    Three grouped statements, each driven by an index on its period column: case (process_key,
    created_at), case (process_key, closed_at), human_task (status, due_at). Raises Forbidden,
    FormInvalid (bad period, too many weeks).
    """
    scope = supervision_scope(user)
    now = now or utcnow()
    period = parse_period(start, end, now)
    filters = chart_filters(filters)
    bounds = week_starts(period.start, period.end)
    keys = process_keys()
    cases = _case_scope(scope, filters, keys)

    def per_week(column, *where) -> dict[int, int]:
        bucket = _week_bucket(column, bounds).label("week")
        rows = db.session.execute(sa.select(bucket, sa.func.count()).select_from(Case)
                                  .where(column >= period.start, column < period.end, *cases, *where)
                                  .group_by(bucket)).all()
        return {int(week): count for week, count in rows}

    received = per_week(Case.created_at)
    closed = per_week(Case.closed_at, Case.closed_at.is_not(None))
    # steps falling overdue: due in the period and already past, not completed (or cancelled) by then
    due_end = min(period.end, now)
    overdue: dict[int, int] = {}
    if due_end > period.start:
        needs_case = _needs_case(filters)
        bucket = _week_bucket(HumanTask.due_at, bounds).label("week")
        stmt = sa.select(bucket, sa.func.count()).select_from(HumanTask)
        if needs_case:
            stmt = stmt.join(Case, Case.id == HumanTask.case_id)
        stmt = stmt.where(
            HumanTask.status.in_([TaskStatus.READY, TaskStatus.COMPLETED, TaskStatus.CANCELLED]),   # the index
            HumanTask.due_at >= period.start, HumanTask.due_at < due_end,
            sa.or_(HumanTask.completed_at.is_(None), HumanTask.completed_at > HumanTask.due_at),
            sa.or_(HumanTask.paused_at.is_(None), HumanTask.paused_at > HumanTask.due_at),
            task_clause(scope, case_joined=needs_case), *_filter_clauses(scope, filters, needs_case))
        overdue = {int(week): count for week, count in db.session.execute(stmt.group_by(bucket)).all()}
    weeks = []
    for index, bound in enumerate(bounds):
        local = bound.astimezone(SHANGHAI).date()   # the Monday, or the period's first day
        monday = local - timedelta(days=local.weekday())
        weeks.append({"start": bound, "monday": monday, "label": f"{local.month}月{local.day}日",
                      "received": received.get(index, 0), "closed": closed.get(index, 0),
                      "overdue": overdue.get(index, 0)})
    totals = {key: sum(w[key] for w in weeks) for key in ("received", "closed", "overdue")}
    return {"start": period.start, "end": period.end, "weeks": weeks, "totals": totals}


def step_heat(user: User, process: str | None, filters: Filters | None = None, *, within: str | None = None,
              now: datetime | None = None, with_diagram: bool = False) -> dict:
    """Open, overdue and due-soon tasks per step (bpmn_id) of one process inside the user's scope: the
    numbers the diagram heat map lays over the steps. One grouped statement over the open tasks
    (the status + due_at index). With `with_diagram` the result also holds "xml", the BPMN XML of
    the process's latest version (the heat map draws on it), read with the same row.
    Raises Forbidden, FormInvalid (no or unknown process)."""
    scope = supervision_scope(user)
    now = now or utcnow()
    keys = process_keys()
    if not process or process not in keys:
        raise FormInvalid("请选择流程", fields={"process": ["可选：" + "、".join(keys)] if keys else ["尚未部署流程"]})
    filters = replace(chart_filters(filters), process=process)
    horizon = due_soon_horizon(now, within)
    needs_case = _needs_case(filters)
    overdue, soon = _kind_clause("overdue", now, None), _kind_clause("due_soon", now, horizon)
    stmt = (sa.select(HumanTask.bpmn_id, sa.func.max(HumanTask.name), sa.func.count(HumanTask.id),
                      count_if(overdue), count_if(soon)).select_from(HumanTask))
    if needs_case:
        stmt = stmt.join(Case, Case.id == HumanTask.case_id)
    rows = db.session.execute(
        stmt.where(HumanTask.status == TaskStatus.READY, task_clause(scope, case_joined=needs_case),
                   *_filter_clauses(scope, filters, needs_case))
        .group_by(HumanTask.bpmn_id)).all()
    steps = sorted(({"bpmn_id": r[0], "name": r[1], "open": int(r[2]), "overdue": int(r[3]), "due_soon": int(r[4])}
                    for r in rows), key=lambda s: (-s["overdue"], -s["open"], s["bpmn_id"]))
    definition = get_latest_definition(process)   # deployed (checked above): never NotFound here
    result = {"process": process, "process_title": PROCESS_TITLES.get(process, definition.name),
              "version": definition.version, "now": now, "steps": steps,
              "totals": {key: sum(s[key] for s in steps) for key in ("open", "overdue", "due_soon")}}
    if with_diagram:
        result["xml"] = definition.bpmn_xml
    return result


# --- people, units and steps for the page -----------------------------------------------------------

def step_choices(process: str | None = None) -> list[tuple[str, str]]:
    """(bpmn_id, label) of the user tasks of the latest version of every process (or of one), from the
    deployed definitions (a small table): the step filter's choices, without counting any task."""
    latest = (sa.select(ProcessDefinition.key, sa.func.max(ProcessDefinition.version).label("v"))
              .group_by(ProcessDefinition.key).subquery())
    stmt = (sa.select(ProcessDefinition.key, ProcessDefinition.name, ProcessDefinition.meta)
            .join(latest, sa.and_(ProcessDefinition.key == latest.c.key, ProcessDefinition.version == latest.c.v))
            .order_by(ProcessDefinition.key))
    if process:
        stmt = stmt.where(ProcessDefinition.key == process)
    labels: dict[str, list[str]] = {}
    for key, name, meta in db.session.execute(stmt).all():
        for bpmn_id, task in ((meta or {}).get("tasks") or {}).items():
            title = (task or {}).get("name") or bpmn_id
            labels.setdefault(bpmn_id, []).append(title if process else f"{title}（{PROCESS_TITLES.get(key, name)}）")
    return sorted(((bpmn_id, "、".join(names)) for bpmn_id, names in labels.items()), key=lambda item: item[1])


def group_titles() -> tuple[dict[str, str], list[str]]:
    """({group name: its Chinese title} of every group, [the unit groups' names]): one small statement."""
    rows = db.session.execute(sa.select(Group.name, Group.title, Group.kind).order_by(Group.name)).all()
    return {name: title for name, title, _ in rows}, [name for name, _, kind in rows if kind == GroupKind.UNIT]


def group_members(groups) -> dict[str, list[tuple[str, str]]]:
    """{group name: [(username, display name)]} of the active members of these groups: one statement for
    a whole page of rows (the reassign choices)."""
    names = sorted({g for g in groups if g})
    if not names:
        return {}
    rows = db.session.execute(
        sa.select(Group.name, User.username, User.display_name)
        .join(user_group, user_group.c.group_id == Group.id).join(User, User.id == user_group.c.user_id)
        .where(Group.name.in_(names), User.is_active_user.is_(True)).order_by(Group.name, User.username)).all()
    members: dict[str, list[tuple[str, str]]] = {}
    for group, username, display_name in rows:
        members.setdefault(group, []).append((username, display_name))
    return members
