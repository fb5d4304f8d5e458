"""我的申请: the applications an applicant started, and their start forms prefilled from the profile.

An application is a process instance whose starter is the user. Each row carries its current steps
(READY human_task rows), what is asked of the applicant (an open step of it assigned to them, or
offered unclaimed to one of their groups, such as 一次性告知补正 for the 申请人 lane) and its due
dates. SQL over process_instance, case and human_task, paged in the database.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.auth.models import User
from app.cases.models import Case
from app.extensions import db
from app.processes.models import InstanceStatus, ProcessDefinition, ProcessInstance
from app.supervision.instances import current_steps
from app.supervision.queries import Page
from app.tasks.models import HumanTask, HumanTaskCandidate, TaskStatus

APPLICANT_GROUP = "applicant"
# the filter tabs: all, waiting for me (补正 and the like), being handled, finished
STATES = {"": "全部申请", "todo": "待我办理", "running": "办理中", "completed": "已办结", "cancelled": "已撤销"}
STATUS_TITLES = {InstanceStatus.RUNNING: "办理中", InstanceStatus.COMPLETED: "已办结",
                 InstanceStatus.CANCELLED: "已撤销", InstanceStatus.ERROR: "办理中",
                 InstanceStatus.SUSPENDED: "已暂停"}   # a script error is the office's problem: 办理中
SORTS = {"-started_at": "最新提交在前", "started_at": "最早提交在前"}
# start-form field -> the user's profile column
PROFILE_FIELDS = {"agent_name": "real_name", "agent_mobile": "phone", "company_name": "enterprise_name",
                  "uscc": "enterprise_uscc"}
_PI = ProcessInstance


def is_applicant(user: User) -> bool:
    """An applicant (the 申请人 group): their home page is 我的申请, not the caseworker inbox."""
    return APPLICANT_GROUP in user.group_names


@dataclass
class ApplicationFilters:
    state: str = ""
    sort: str = "-started_at"
    page: int = 1


def asked_of_clause(user: User):
    """SQL: the READY task is the user's to do: assigned to them, or unclaimed and offered to a group of theirs."""
    groups = list(user.group_names) or [""]
    offered = HumanTask.id.in_(sa.select(HumanTaskCandidate.task_id).where(HumanTaskCandidate.group_name.in_(groups)))
    return sa.and_(HumanTask.status == TaskStatus.READY,
                   sa.or_(HumanTask.assignee_id == user.id, sa.and_(HumanTask.assignee_id.is_(None), offered)))


def _where(user: User, filters: ApplicationFilters) -> list:
    where = [_PI.started_by_id == user.id]
    if filters.state == "todo":
        where.append(_PI.id.in_(sa.select(HumanTask.instance_id).where(asked_of_clause(user))))
    elif filters.state == InstanceStatus.RUNNING:
        where.append(_PI.status.in_([InstanceStatus.RUNNING, InstanceStatus.ERROR]))
    elif filters.state:
        where.append(_PI.status == filters.state)
    return where


def list_applications(user: User, filters: ApplicationFilters | None = None, *, per_page: int = 20) -> Page:
    """One page of the user's applications, newest first (or oldest, by filters.sort).

    Items are dicts: id, status, status_title, case_id, case_number, case_title, company_name,
    process_name, version, started_at, ended_at, current_steps [{id, name, due_at}], asked
    [{id, name, due_at}] (what the user must do) and due_at (the nearest due date of its open steps).
    """
    filters = filters or ApplicationFilters()
    where = _where(user, filters)
    total = db.session.execute(sa.select(sa.func.count(_PI.id)).where(*where)).scalar_one()
    order = (_PI.started_at.asc(), _PI.id.asc()) if filters.sort == "started_at" else (_PI.started_at.desc(),
                                                                                        _PI.id.desc())
    rows = db.session.execute(
        sa.select(_PI.id, _PI.status, _PI.started_at, _PI.ended_at, _PI.case_id, ProcessDefinition.name,
                  ProcessDefinition.version, Case.number, Case.title, Case.company_name)
        .select_from(_PI).join(ProcessDefinition, ProcessDefinition.id == _PI.definition_id)
        .outerjoin(Case, Case.id == _PI.case_id).where(*where).order_by(*order)
        .limit(per_page).offset((filters.page - 1) * per_page)).all()
    ids = [r.id for r in rows]
    steps = current_steps(ids)
    mine = set(db.session.execute(sa.select(HumanTask.id).where(
        HumanTask.instance_id.in_(ids), asked_of_clause(user))).scalars()) if ids else set()
    items = []
    for r in rows:
        open_steps = steps.get(r.id, [])
        dues = [s["due_at"] for s in open_steps if s["due_at"] is not None]
        items.append({"id": r.id, "status": r.status, "status_title": STATUS_TITLES.get(r.status, r.status),
                      "case_id": r.case_id, "case_number": r.number, "case_title": r.title,
                      "company_name": r.company_name, "process_name": r.name, "version": r.version,
                      "started_at": r.started_at, "ended_at": r.ended_at, "current_steps": open_steps,
                      "asked": [s for s in open_steps if s["id"] in mine], "due_at": min(dues) if dues else None})
    return Page(items, filters.page, per_page, total)


def count_asked(user: User) -> int:
    """How many of the user's applications wait for them (the 待我办理 tab's count)."""
    return db.session.execute(sa.select(sa.func.count(_PI.id)).where(
        *_where(user, ApplicationFilters(state="todo")))).scalar_one()


def profile_prefill(schema: dict | None, user: User) -> dict:
    """Start-form values from the user's profile, for the fields the form has (PROFILE_FIELDS).

    Only for a fresh form: a re-rendered submission shows what was typed, never this.
    """
    props = (schema or {}).get("properties")
    if not isinstance(props, dict):
        return {}
    values = {}
    for field, column in PROFILE_FIELDS.items():
        value = getattr(user, column, None)
        if value and isinstance(props.get(field), dict) and props[field].get("type") == "string":
            values[field] = value
    return values
