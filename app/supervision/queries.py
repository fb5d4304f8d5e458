"""The overdue and due-soon lists: SQL over open human tasks (status READY) joined to their case.

Overdue: the due date has passed (a task whose clock was paused before it fell due is not overdue:
its clock is stopped). Due soon: not overdue, the clock running, and either yellow already
(warn_at reached) or due within the horizon (by default one working day, DOMAIN §1.4).
Each row carries its SLA colour, hours and working days over, the escalation rung reached, the
provisional mark, and the latest 督办 deadline. The page and the API call the same functions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.audit.models import AuditAction, AuditEvent
from app.auth.models import User
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
from app.supervision.access import Scope, supervision_scope, task_clause, unit_case_clause, unit_task_clause
from app.tasks.models import HumanTask, TaskStatus

KINDS = ("overdue", "due_soon")
KIND_TITLES = {"overdue": "超期任务", "due_soon": "临期任务"}

#: HumanTask.escalation_step → the Chinese name of the rung (DOMAIN §2.5)
ESCALATION_LABELS = {"remind": "催办", "overdue": "超期", "notice": "催办通知书", "supervise": "督办",
                     "criticise": "通报"}
SLA_LABELS = {"green": "正常", "yellow": "临期", "orange": "环节超时", "red": "超期", "paused": "暂停计时"}
PROCESS_TITLES = {"complaint": "企业诉求/投诉举报", "one_thing_transport": "开办运输企业一件事",
                  "dispute_escalation": "矛盾纠纷分级调处"}
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
                HumanTask.escalation_step, HumanTask.due_provisional,
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
    counted = sa.select(sa.func.count(HumanTask.id)).select_from(HumanTask)
    if _needs_case(filters):
        counted = counted.join(Case, Case.id == HumanTask.case_id)
    total = db.session.execute(counted.where(*_where(scope, kind, filters, now, horizon,
                                                     case_joined=_needs_case(filters)))).scalar_one()
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
                        "script_error": "流程脚本错误"}


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
        visible_tasks = sa.select(HumanTask.id).where(unit_task_clause(scope.units))
        visible_instances = (sa.select(ProcessInstance.id).join(Case, Case.id == ProcessInstance.case_id)
                             .where(unit_case_clause(scope.units)))
        jobs_where.append(sa.or_(
            sa.and_(Incident.human_task_id.is_not(None), Incident.human_task_id.in_(visible_tasks)),
            sa.and_(Incident.human_task_id.is_(None), Incident.instance_id.in_(visible_instances))))
        errors_where.append(ProcessInstance.id.in_(visible_instances))
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


def local_text(value: datetime | None) -> str:
    """A UTC instant as Asia/Shanghai text for people (exports)."""
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value is not None else ""
