"""Case search for caseworkers (案件查询): the cases a user may open, found by case number, enterprise
name or USCC, reporter phone, channel, district, status and date received; paged and sorted in SQL.

Visibility is the case page's rule (processes.instances.instance_access) written as SQL:
an administrator sees every case; anyone else the cases whose instance they started or that have a
task assigned to them, completed by them or offered to one of their groups (can_view_instance); a
supervisor also those of their units (supervision.access: the case's unit, or a task of it offered
to the unit). A reporter's phone is matched only where the searcher may see the identity
(cases.privacy.can_see_identity): on a confidential case a handler finds nothing by phone.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy.orm import aliased

from app.audit.models import AuditAction, AuditEvent
from app.auth.models import ROLE_SUPERVISOR, User
from app.calendar.calendar import SHANGHAI
from app.cases import privacy
from app.cases.models import Case
from app.extensions import db
from app.labels import group_titles
from app.numbers import MAX_PAGE
from app.processes.models import InstanceStatus, ProcessInstance
from app.supervision.access import supervision_scope
from app.supervision.queries import YEAR_RANGE_MESSAGE, in_year_range
from app.tasks.models import HumanTask, HumanTaskCandidate
from app.tasks.queries import ListPage, current_steps, text_search_clause

STATUSES = (InstanceStatus.RUNNING, InstanceStatus.COMPLETED, InstanceStatus.ERROR, InstanceStatus.SUSPENDED,
            InstanceStatus.CANCELLED)


class CaseSearchSchema(Schema):
    """The search's query parameters, for the page and the API alike (messages in Chinese)."""

    class Meta:
        unknown = EXCLUDE
        ordered = True

    q = fields.String(load_default="", validate=validate.Length(max=100, error="搜索内容不能超过 {max} 个字"),
                      metadata={"description": "案件编号、企业名称或统一社会信用代码（部分匹配）"})
    phone = fields.String(load_default="", validate=validate.Regexp(
        r"^[0-9-]{3,20}$", error="电话号码只能包含数字和“-”，3 到 20 位"), metadata={"description": "诉求人/举报人电话（完整号码）；保密案件仅对有权查看身份信息者匹配"})
    channel = fields.String(load_default="", validate=validate.Length(max=40, error="渠道取值无效"),
                            metadata={"description": "来源渠道代码，如 hotline_12345"})
    district = fields.String(load_default="", validate=validate.Length(max=40, error="区县取值无效"))
    status = fields.String(load_default="", validate=validate.OneOf(
        ("",) + STATUSES, error="状态只能是 办理中、已办结、异常、已挂起 或 已撤销"),
        metadata={"description": "流程实例状态：running/completed/error/suspended/cancelled"})
    date_from = fields.Date(load_default=None, error_messages={"invalid": "请按“年-月-日”填写有效日期，例如 2026-12-01"},
                            metadata={"description": "受理日期起（含，江门本地日期）"})
    date_to = fields.Date(load_default=None, error_messages={"invalid": "请按“年-月-日”填写有效日期，例如 2026-12-31"},
                          metadata={"description": "受理日期止（含）"})
    page = fields.Integer(load_default=1, strict=False, validate=validate.Range(
        min=1, max=MAX_PAGE, error="页码应为 1 到 {max} 之间的整数"), error_messages={"invalid": "页码应为整数"})

    @validates_schema
    def _date_range(self, data, **kwargs):
        for name in ("date_from", "date_to"):   # 0001-01-01 or 9999-12-31 would overflow the day's bounds
            if data.get(name) and not in_year_range(data[name]):
                raise ValidationError(YEAR_RANGE_MESSAGE, field_name=name)
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError("开始日期不能晚于结束日期", field_name="date_to")


@dataclass
class CaseFilters:
    q: str = ""
    phone: str = ""
    channel: str = ""
    district: str = ""
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1

    @classmethod
    def load(cls, args) -> "CaseFilters":
        """Filters from query parameters (empty ones ignored). Raises marshmallow's ValidationError
        with Chinese messages per field."""
        given = {k: v.strip() if isinstance(v, str) else v for k, v in dict(args).items()}
        loaded = CaseSearchSchema().load({k: v for k, v in given.items() if v not in ("", None)})
        return cls(**{k: v.strip() if isinstance(v, str) else v for k, v in loaded.items()})

    def args(self, **changes) -> dict:
        """The query parameters of these filters (with changes), without the empty ones."""
        values = {**{f: getattr(self, f) for f in self.__dataclass_fields__}, **changes}
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in values.items()
                if v not in ("", None) and not (k == "page" and v == 1)}

    @property
    def is_filtered(self) -> bool:
        return any((self.q, self.phone, self.channel, self.district, self.status, self.date_from, self.date_to))


@dataclass
class CaseRow:
    case: Case
    instance_id: int
    instance_status: str
    unit_title: str | None
    current_steps: list[str] = field(default_factory=list)


def visible_clause(user: User):
    """SQL over case joined with its process_instance: the cases `user` may open (see the module)."""
    if user.is_admin:
        return sa.true()
    return ProcessInstance.id.in_(visible_instances(user))


def visible_instances(user: User):
    """The ids of the instances a (non-administrator) user may open, as one UNION of indexed reads:
    the statement is driven by this set instead of testing every case against several conditions
    (bench/lists_bench.py, 100,000 cases on SQLite: a unit caseworker's first page went from about
    1.7 s to about 40 ms; the candidate groups of both rules are read once, which halved a
    supervisor's first page on PostgreSQL, where that read is a hash join over human_task).

    can_view_instance: started by the user (process_instance.started_by_id), a task assigned to or
    completed by them (human_task's assignee and completed_by indexes), a task offered to one of
    their groups (the candidate primary key). A supervisor also sees, by supervision.access
    (can_supervise_instance = unit_case_clause OR a task in unit_task_clause), the instances whose case
    was dispatched to one of their units (case.unit) or that have a task offered to U or U_head:
    the "no unit yet" half of unit_case_clause is inside the second. tests/cases and
    tests/supervision/test_case_search_access.py check the set against instance_access both ways.
    """
    task, candidate, instance = aliased(HumanTask), aliased(HumanTaskCandidate), aliased(ProcessInstance)
    groups = set(user.group_names)
    parts = [
        sa.select(instance.id).where(instance.started_by_id == user.id),
        sa.select(task.instance_id).where(task.assignee_id == user.id),
        sa.select(task.instance_id).where(task.completed_by_id == user.id),
    ]
    if user.has_role(ROLE_SUPERVISOR):
        scope = supervision_scope(user)
        if scope.units:
            groups |= set(scope.unit_groups)   # one read of the candidates for both rules
            owner = aliased(Case)
            parts.append(sa.select(instance.id).join(owner, owner.id == instance.case_id)
                         .where(owner.unit.in_(scope.units)))
    parts.append(sa.select(task.instance_id).join(candidate, candidate.task_id == task.id)
                 .where(candidate.group_name.in_(sorted(groups) or [""])))
    return sa.union(*parts)


def phone_clause(user: User, phone: str):
    """Cases whose reporter gave this phone (on the start form or a later step), only where `user`
    may see the identity: every case for those of privacy.IDENTITY_GROUPS, else non-confidential ones."""
    given = sa.exists().where(AuditEvent.case_id == Case.id,
                              AuditEvent.action.in_((AuditAction.START, AuditAction.COMPLETE)),
                              AuditEvent.data["phone"].as_string() == phone)
    if privacy.can_see_identity(user, _CONFIDENTIAL):
        return given
    return sa.and_(Case.is_confidential.is_(False), given)


class _Confidential:
    is_confidential = True


_CONFIDENTIAL = _Confidential()   # asks can_see_identity about the user alone


def _local_midnight_utc(day: date) -> datetime:
    return datetime.combine(day, time(), SHANGHAI)


def search_statement(user: User, filters: CaseFilters):
    stmt = (sa.select(Case, ProcessInstance.id, ProcessInstance.status)
            .join(ProcessInstance, ProcessInstance.case_id == Case.id)
            .where(visible_clause(user)))
    if filters.q:
        stmt = stmt.where(text_search_clause(filters.q, Case.title))
    if filters.phone:
        stmt = stmt.where(phone_clause(user, filters.phone))
    if filters.channel:
        stmt = stmt.where(Case.channel == filters.channel)
    if filters.district:
        stmt = stmt.where(Case.district == filters.district)
    if filters.status:
        stmt = stmt.where(ProcessInstance.status == filters.status)
    if filters.date_from:
        stmt = stmt.where(Case.created_at >= _local_midnight_utc(filters.date_from))
    if filters.date_to:
        stmt = stmt.where(Case.created_at < _local_midnight_utc(filters.date_to + timedelta(days=1)))
    return stmt


def search_cases(user: User, filters: CaseFilters, per_page: int = 20) -> ListPage:
    """One page of the cases `user` may open matching `filters`, newest first, each with its
    instance's status, its unit's title and its current steps."""
    stmt = search_statement(user, filters)
    ordered = stmt.order_by(Case.created_at.desc(), Case.id.desc()).limit(per_page).offset((filters.page - 1) * per_page)
    if user.is_admin:   # every case: the page walks the created_at index and stops; count apart
        if filters.is_filtered:
            total = db.session.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()
        else:   # case JOIN process_instance unfiltered = the instances with a case (the foreign key
            # holds the case): counted in ix_process_instance_case_id, not a join of two whole tables
            total = db.session.execute(sa.select(sa.func.count()).select_from(ProcessInstance)
                                       .where(ProcessInstance.case_id.is_not(None))).scalar_one()
        rows = [tuple(row) for row in db.session.execute(ordered).all()]
    else:
        # the visible set must be built and sorted for the page anyway: the total rides on the page's
        # rows (COUNT(*) OVER ()) instead of building it a second time (a supervisor of two units
        # at 100,000 cases on PostgreSQL: 104 -> 61 ms); a page past the end counts on its own
        counted = db.session.execute(ordered.add_columns(sa.func.count().over().label("total"))).all()
        if counted:
            total = counted[0].total
        elif filters.page == 1:
            total = 0
        else:
            total = db.session.execute(sa.select(sa.func.count()).select_from(stmt.subquery())).scalar_one()
        rows = [tuple(row)[:-1] for row in counted]
    steps = current_steps(instance_id for _, instance_id, _ in rows)
    units = {case.unit for case, _, _ in rows if case.unit}
    titles = group_titles(units)
    return ListPage([CaseRow(case, instance_id, status, titles.get(case.unit, case.unit) if case.unit else None,
                             steps.get(instance_id, [])) for case, instance_id, status in rows],
                    filters.page, per_page, total)
