"""Who may supervise what: an administrator sees everything; a supervisor sees the units they belong
to; anyone else is refused. One place decides, and the lists, KPIs, exports and actions all use it.

A task belongs to unit U when one of its candidate groups is U or U + "_head" (the unit's head), or
when its case was dispatched to U (case.unit).
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from app.auth.models import ROLE_SUPERVISOR, Group, GroupKind, User
from app.cases.models import Case
from app.errors import Forbidden
from app.extensions import db
from app.tasks.models import HumanTask, HumanTaskCandidate

HEAD_SUFFIX = "_head"


@dataclass(frozen=True)
class Scope:
    """What one user may see on the supervision pages."""

    user: User
    is_all: bool                 # an administrator
    units: tuple[str, ...]       # the user's unit groups (names), for a supervisor

    @property
    def unit_groups(self) -> list[str]:
        """The candidate-group names that put a task into one of the units (U and U_head)."""
        return [name for unit in self.units for name in (unit, unit + HEAD_SUFFIX)]

    def covers_unit(self, unit: str) -> bool:
        return self.is_all or unit in self.units


def supervision_scope(user: User | None) -> Scope:
    """The user's scope. Raises Forbidden for anyone who is neither administrator nor supervisor."""
    if user is None:
        raise Forbidden("请先登录")
    if user.is_admin:
        return Scope(user, True, ())
    if not user.has_role(ROLE_SUPERVISOR):
        raise Forbidden("只有督办员或系统管理员可以使用督办功能")
    units = tuple(sorted(g.name for g in user.groups if g.kind == GroupKind.UNIT))
    return Scope(user, False, units)


def unit_task_clause(units: list[str] | tuple[str, ...], *, case_joined: bool = False):
    """SQL: the human_task row belongs to one of these units (candidate group U / U_head, or case.unit).

    IN (subquery) against the tasks offered to the units (the candidate primary key) and the cases
    dispatched to them (case.unit's index): each set is built once per statement (SQLite: an ephemeral
    index; PostgreSQL: a hashed subplan) and the query stays driven by its own index (status +
    due_at, or the period). Correlated EXISTS cost two lookups per row: the supervisor's dashboard
    went from 619 to 488 ms on 100,000 cases (bench/dashboard_bench.py). With `case_joined`, the
    statement already joins "case" and reads case.unit.
    """
    units = list(units)
    if not units:
        return sa.false()
    groups = [name for unit in units for name in (unit, unit + HEAD_SUFFIX)]
    candidate = aliased(HumanTaskCandidate)
    offered = HumanTask.id.in_(sa.select(candidate.task_id).where(candidate.group_name.in_(groups)))
    if case_joined:
        return sa.or_(Case.unit.in_(units), offered)
    owner = aliased(Case)
    dispatched = HumanTask.case_id.in_(sa.select(owner.id).where(owner.unit.in_(units)))
    return sa.or_(dispatched, offered)


def unit_case_clause(units: list[str] | tuple[str, ...]):
    """SQL: the case belongs to one of these units: it was dispatched to one (case.unit), or it has no
    unit yet and one of its tasks is offered to one (candidate group U / U_head).

    A dispatched case counts for its current unit only; its tasks still count for the unit they were
    offered to (unit_task_clause).
    """
    units = list(units)
    if not units:
        return sa.false()
    groups = [name for unit in units for name in (unit, unit + HEAD_SUFFIX)]
    task, candidate = aliased(HumanTask), aliased(HumanTaskCandidate)
    # a LIMIT 1 scalar subquery, not EXISTS: PostgreSQL would turn an EXISTS into a hash of every
    # task ever offered to the unit; this one runs per case, and only for cases without a unit
    offered = (sa.select(sa.literal(1)).select_from(task)
               .join(candidate, candidate.task_id == task.id)
               .where(task.case_id == Case.id, candidate.group_name.in_(groups)).limit(1).scalar_subquery())
    return sa.or_(Case.unit.in_(units), sa.and_(Case.unit.is_(None), offered.is_not(None)))


def task_clause(scope: Scope, *, case_joined: bool = False):
    """SQL restricting human_task rows to the scope (true for an administrator)."""
    return sa.true() if scope.is_all else unit_task_clause(scope.units, case_joined=case_joined)


def case_clause(scope: Scope):
    """SQL restricting case rows to the scope (true for an administrator)."""
    return sa.true() if scope.is_all else unit_case_clause(scope.units)


def task_units(task: HumanTask) -> set[str]:
    """The units a task belongs to, by the rule of this module: a candidate group that is a unit,
    the unit of a `<unit>_head` group, and the unit its case was dispatched to."""
    names = {g for name in task.candidate_groups or [] for g in (name, name.removesuffix(HEAD_SUFFIX))}
    units = set(db.session.execute(sa.select(Group.name).where(
        Group.name.in_(names), Group.kind == GroupKind.UNIT)).scalars()) if names else set()
    if task.case_id is not None:
        case_unit = db.session.execute(sa.select(Case.unit).where(Case.id == task.case_id)).scalar_one_or_none()
        if case_unit:
            units.add(case_unit)
    return units


def can_supervise_task(scope: Scope, task: HumanTask) -> bool:
    """Is this one task inside the scope? (The same rule as task_clause, for a loaded row.)"""
    if scope.is_all:
        return True
    if not scope.units:
        return False
    if set(task.candidate_groups or ()) & set(scope.unit_groups):
        return True
    if task.case_id is None:
        return False
    unit = db.session.execute(sa.select(Case.unit).where(Case.id == task.case_id)).scalar_one_or_none()
    return unit in scope.units


def can_supervise_case(scope: Scope, case_id: int | None) -> bool:
    if scope.is_all:
        return True
    if case_id is None or not scope.units:
        return False
    stmt = sa.select(sa.literal(1)).select_from(Case).where(Case.id == case_id, unit_case_clause(scope.units))
    return db.session.execute(stmt.limit(1)).first() is not None


def can_supervise_instance(scope: Scope, instance_id: int, case_id: int | None) -> bool:
    """May the scope open this instance's case? When its case belongs to one of the units, or one of
    its tasks does (the lists' rule): every row the dashboard shows links to a case that opens."""
    if scope.is_all:
        return True
    if not scope.units:
        return False
    if can_supervise_case(scope, case_id):
        return True
    stmt = sa.select(sa.literal(1)).select_from(HumanTask).where(
        HumanTask.instance_id == instance_id, unit_task_clause(scope.units))
    return db.session.execute(stmt.limit(1)).first() is not None
