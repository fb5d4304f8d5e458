"""KPI tiles over a period [start, end): each KPI is defined once in KPIS (id, Chinese name, the hover
explanation, the formula) with the SQL that computes it over human_task, audit_event and case.

Conventions, so the numbers mean the same everywhere:
* "本期办结" = cases whose case.closed_at falls in the period; "本期受理" = case.created_at in it.
* task rates count tasks completed in the period (human_task.completed_at); tasks without a due
  date are left out of deadline rates (there is nothing to be on time for).
* a step's answer (签收/退回, 满意度, 调解结果) is its recorded outcome, human_task.outcome; other
  form answers are read from the audit trail: an audit_event with action "complete" carries the
  submitted form data, with bpmn_id = the task id.
* closed-case KPIs (按期办结率, 平均办理时长, 延期率, 重办率, 回访率, the dispute rates) aggregate
  case_fact rows, computed once per closed case the first time a period covers it
  (ensure_case_facts): a closed case's history no longer changes.
* a supervisor's KPIs cover only their units; an administrator's everything. Task KPIs use the
  lists' rule (access.unit_task_clause); case KPIs count a case for the unit it was dispatched to,
  or, before dispatch, for the units its tasks are offered to (access.unit_case_clause).
* durations in working hours use the business calendar's office hours (app/calendar).
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Callable

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import aliased

from app.audit.models import AuditAction, AuditEvent
from app.auth.models import User
from app.calendar import SHANGHAI, BusinessCalendar
from app.cases.models import Case, CaseStatus
from app.db import utcnow
from app.deadlines.due import get_calendar
from app.errors import FormInvalid
from app.extensions import db
from app.supervision.access import Scope, case_clause, supervision_scope, task_clause
from app.supervision.models import BundleFact, CaseFact
from app.tasks.models import HumanTask, TaskStatus

COMPLAINT, ONE_THING, DISPUTE = "complaint", "one_thing_transport", "dispute_escalation"
PROCESS_TITLES = {COMPLAINT: "企业诉求/投诉举报", ONE_THING: "开办运输企业一件事", DISPUTE: "矛盾纠纷分级调处"}

SATISFIED = ("satisfied", "basically_satisfied")
# one_thing_transport: the bundle clock runs from 受理 (accept) to 统一出证 (handout), as the diagram's
# start_bundle / finish_bundle scripts record it; the whole case also holds delivery, rating and the
# 告知承诺 post-check (up to 60 days later), which are not part of "办成一件事" time.
ONE_THING_COMMITTED = ("5WD", 5)        # bundle_limit in bpmn/one_thing_transport.bpmn (MOT/SAMR plan, 5 WD)
ONE_THING_STATUTORY = (("企业设立登记", 3), ("道路货物运输经营许可", 20))   # WD: 登记条例 §19; 道路运输条例 §24 + 行政许可法 §82
ON_THE_SPOT = timedelta(hours=1)        # 即办: Jiangmen's "1 小时内出证" target
# dispute_escalation: the mediation tasks (form field `outcome`: 成功 / 部分 / 失败)
MEDIATION_STEPS = ("labour_mediation", "mediate_village", "mediate_town", "mediate_county", "mediate_city")
LADDER_STEPS = ("mediate_village", "mediate_town", "mediate_county", "mediate_city")
GRASSROOTS_STEPS = ("mediate_village", "mediate_town")
ESCALATING_STEPS = ("mediate_village", "mediate_town", "mediate_county")   # a failure here goes one level up
LEVEL_TIMERS = ("timer_village", "timer_town", "timer_county")             # boundary timers: automatic 提级
SETTLED = "成功"


@dataclass
class Period:
    start: datetime
    end: datetime
    now: datetime

    @property
    def as_of(self) -> datetime:
        """The instant a snapshot KPI is taken at: the end of the period, or now if that is earlier."""
        return min(self.end, self.now)


@dataclass
class Ctx:
    scope: Scope
    period: Period
    calendar: BusinessCalendar
    cache: dict = field(default_factory=dict)   # rows several KPIs share, read once per computation


@dataclass
class Value:
    value: float | int | dict | None
    numerator: float | int | None = None
    denominator: float | int | None = None


@dataclass(frozen=True)
class Kpi:
    id: str
    process: str
    name: str
    explanation: str     # the hover text
    formula: str
    unit: str            # "%", "件", "工作小时", "时限"
    compute: Callable[[Ctx], Value]


# --- building blocks ----------------------------------------------------------------------------
# Several KPIs read the same rows (the facts of the cases closed in the period, the completions of
# a few steps); each such read runs once per computation and is kept in ctx.cache, so the 19 tiles
# cost about a dozen statements. Every statement is driven by an index on the period (see
# bench/dashboard_bench.py for the plans), never by a table's whole history.

def _rate(num, den) -> Value:
    num, den = int(num or 0), int(den or 0)
    return Value(round(num / den, 4) if den else None, num, den)


def _cached(ctx: Ctx, key: str, read: Callable[[Ctx], object]):
    if key not in ctx.cache:
        ctx.cache[key] = read(ctx)
    return ctx.cache[key]


def _in_period(column, period: Period):
    return sa.and_(column >= period.start, column < period.end)


def _json_text(model, key: str):
    return model.data[key].as_string()


def _json_true(model, key: str):
    # JSON true reads back as '1' on SQLite (json_extract gives 1) and 'true' on PostgreSQL (->>)
    return model.data[key].as_string().in_(("true", "1"))


def _flag(condition):
    """A 0/1 column from a condition (EXISTS is an integer on SQLite and a boolean on PostgreSQL)."""
    return sa.case((condition, 1), else_=0)


def count_if(condition):
    """SQL: how many rows meet the condition (0 when none), for an aggregate column."""
    return sa.func.coalesce(sa.func.sum(_flag(condition)), 0)


TIMED_STEPS = {COMPLAINT: ("sign_in", "first_contact")}


def _step_timeliness(ctx: Ctx, process: str) -> dict[str, tuple[int, int]]:
    """{step: (completed by the due date, completed)} for the process's timed steps (TIMED_STEPS)
    completed in the period with a due date: one statement for all of them."""
    def read(ctx):
        rows = db.session.execute(
            # count(*), not count(id): id is not in ix_human_task_kpi, and every other column is
            sa.select(HumanTask.bpmn_id, count_if(HumanTask.completed_at <= HumanTask.due_at), sa.func.count())
            .where(HumanTask.process_key == process, _in_period(HumanTask.completed_at, ctx.period),
                   HumanTask.bpmn_id.in_(TIMED_STEPS[process]), HumanTask.status == TaskStatus.COMPLETED,
                   HumanTask.due_at.is_not(None), task_clause(ctx.scope))
            .group_by(HumanTask.bpmn_id)).all()
        return {bpmn_id: (on_time, total) for bpmn_id, on_time, total in rows}
    return _cached(ctx, f"timeliness:{process}", read)


def _on_time_tasks(ctx: Ctx, process: str, bpmn_id: str) -> Value:
    """Completed tasks of one step completed by their due date / completed tasks with a due date."""
    return _rate(*_step_timeliness(ctx, process).get(bpmn_id, (0, 0)))


def _complaint_answers(ctx: Ctx) -> dict:
    """Counts over the sign-in and call-back steps completed in the period, from their recorded
    outcome (human_task.outcome: sign_action / satisfaction): one index-only statement."""
    def read(ctx):
        t = HumanTask
        is_sign_in, is_callback = t.bpmn_id == "sign_in", t.bpmn_id == "callback"
        row = db.session.execute(
            sa.select(count_if(is_sign_in), count_if(sa.and_(is_sign_in, t.outcome == "return")),
                      count_if(sa.and_(is_callback, t.outcome.is_not(None))),
                      count_if(sa.and_(is_callback, t.outcome.in_(SATISFIED))))
            .where(t.process_key == COMPLAINT, t.bpmn_id.in_(["sign_in", "callback"]),
                   _in_period(t.completed_at, ctx.period), t.status == TaskStatus.COMPLETED,
                   task_clause(ctx.scope))).one()
        return {"sign_ins": row[0], "returns": row[1], "rated_callbacks": row[2], "satisfied": row[3]}
    return _cached(ctx, "complaint_answers", read)


# --- case facts: the closed-case KPIs ------------------------------------------------------------
# A closed case's tasks and audit trail no longer change, so what the closed-case KPIs need of it is
# computed once into case_fact (app/supervision/models.py), the first time a period covers it, and
# the KPIs aggregate those rows: a year of them is one indexed pass, not every case's history.

FACT_BATCH = 500


def _grouped_by_case(model, case_ids, columns, where) -> dict[int, tuple]:
    """{case id: aggregates} over the rows of `model` (human_task or audit_event) of these cases,
    driven by the case_id index."""
    rows = db.session.execute(sa.select(model.case_id, *columns).where(model.case_id.in_(case_ids), *where)
                              .group_by(model.case_id)).all()
    return {row[0]: tuple(row[1:]) for row in rows}


def _complaint_facts(cases: list, calendar: BusinessCalendar) -> list[dict]:
    """case_fact rows for closed complaint cases [(id, created_at, closed_at)]: a grouped pass over
    their handle / reply / callback tasks and one over their handle forms."""
    ids = [case_id for case_id, _, _ in cases]
    t = HumanTask
    done = t.status == TaskStatus.COMPLETED

    def latest(condition):
        return sa.func.max(sa.case((sa.and_(t.bpmn_id == "reply", done, condition), t.completed_at)))
    last, last_late, last_untimed = latest(sa.true()), latest(t.completed_at > t.due_at), latest(t.due_at.is_(None))
    # the final reply decides: none or without a due date → NULL (left out), late → 0, else 1
    final_on_time = sa.case((last.is_(None), None), (last_untimed == last, None), (last_late == last, 0), else_=1)
    tasks = _grouped_by_case(t, ids, [count_if(sa.and_(t.bpmn_id == "handle", done)),
                                      sa.func.max(_flag(sa.and_(t.bpmn_id == "callback", done))), final_on_time],
                             [t.bpmn_id.in_(["handle", "reply", "callback"])])
    extended = _grouped_by_case(AuditEvent, ids, [sa.func.count(AuditEvent.id)],
                                [AuditEvent.bpmn_id == "handle", AuditEvent.action == AuditAction.COMPLETE,
                                 _json_true(AuditEvent, "need_extension")])
    clock = OfficeClock(calendar)
    facts = []
    for case_id, created, closed_at in cases:
        handles, called_back, on_time = tasks.get(case_id, (0, 0, None))
        facts.append({"case_id": case_id, "process_key": COMPLAINT, "closed_at": closed_at,
                      "handles": int(handles or 0), "called_back": bool(called_back),
                      "asked_extension": case_id in extended,
                      "reply_on_time": None if on_time is None else bool(on_time),
                      "working_hours": clock.hours_between(created, closed_at)})
    return facts


def _dispute_facts(cases: list, calendar: BusinessCalendar) -> list[dict]:
    """case_fact rows for closed disputes: grouped passes over their mediation tasks and over their
    audit events (mediation outcomes, level timers)."""
    ids = [case_id for case_id, _, _ in cases]
    t, a = HumanTask, AuditEvent
    tasks = _grouped_by_case(t, ids, [sa.func.max(_flag(t.bpmn_id.in_(LADDER_STEPS)))],
                             [t.bpmn_id.in_(MEDIATION_STEPS)])
    outcome = _json_text(a, "outcome")
    completed = a.action == AuditAction.COMPLETE
    events = _grouped_by_case(a, ids, [
        sa.func.max(_flag(sa.and_(completed, outcome == SETTLED))),
        sa.func.max(_flag(sa.and_(completed, a.bpmn_id.in_(GRASSROOTS_STEPS), outcome == SETTLED))),
        sa.func.max(_flag(sa.or_(sa.and_(a.action == AuditAction.TIMER, a.bpmn_id.in_(LEVEL_TIMERS)),
                                 sa.and_(completed, a.bpmn_id.in_(ESCALATING_STEPS), outcome != SETTLED))))],
        [a.bpmn_id.in_([*MEDIATION_STEPS, *LEVEL_TIMERS]), a.action.in_([AuditAction.COMPLETE, AuditAction.TIMER])])
    facts = []
    for case_id, _, closed_at in cases:
        on_ladder = tasks.get(case_id)
        settled, settled_low, escalated = events.get(case_id, (0, 0, 0))
        facts.append({"case_id": case_id, "process_key": DISPUTE, "closed_at": closed_at,
                      "mediated": on_ladder is not None, "on_ladder": bool(on_ladder and on_ladder[0]),
                      "settled": bool(settled), "settled_low": bool(settled_low), "escalated": bool(escalated)})
    return facts


FACT_BUILDERS = {COMPLAINT: _complaint_facts, DISPUTE: _dispute_facts}


def _upsert_facts(rows: list[dict]) -> None:
    _upsert(CaseFact, "case_id", rows)


def _upsert(model, key: str, rows: list[dict]) -> None:
    """INSERT … ON CONFLICT (key) DO UPDATE: a stale row is replaced, and another worker filling
    the same rows at the same moment is harmless (both write the same facts)."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(model.__table__)
    columns = [c.name for c in model.__table__.columns if c.name != key]
    db.session.execute(stmt.on_conflict_do_update(index_elements=[key],
                                                  set_={name: stmt.excluded[name] for name in columns}), rows)


def calendar_stamp() -> str:
    """What the facts' working hours depend on: the official calendar's rows and the office hours."""
    from app.calendar.models import overrides_version
    hours = current_app.config["CALENDAR_OFFICE_HOURS"]
    raw = f"{overrides_version(db.session)}|{hours!r}"
    return hashlib.sha1(raw.encode()).hexdigest()[:16]


def fresh_calendar() -> BusinessCalendar:
    """The business calendar as the database holds it now (not the per-process cache, which another
    worker's calendar load leaves stale for up to a minute)."""
    from app.calendar.models import load_overrides
    return BusinessCalendar(load_overrides(db.session), office_hours=current_app.config["CALENDAR_OFFICE_HOURS"])


def ensure_case_facts(period: Period, processes=tuple(FACT_BUILDERS)) -> dict[str, int]:
    """Store the facts of the processes' cases closed in the period that have none, or whose
    working hours were computed with another calendar (calendar_stamp); returns how many were
    written per process. Three small queries when nothing is missing. Commits after each batch of
    FACT_BATCH cases, in case-id order (so two workers filling the same cases take their row locks
    in the same order).

    The stamp is read before the calendar: if a calendar load commits in between, the facts carry
    the older stamp with the newer calendar and are simply recomputed once more, never the reverse.
    """
    stamp = calendar_stamp()
    in_period = _in_period(Case.closed_at, period)
    closed = dict(db.session.execute(
        sa.select(Case.process_key, sa.func.count(Case.id))
        .where(Case.process_key.in_(processes), in_period).group_by(Case.process_key)).all())
    known = dict(db.session.execute(
        sa.select(CaseFact.process_key, sa.func.count(CaseFact.case_id))
        .where(CaseFact.process_key.in_(processes), _in_period(CaseFact.closed_at, period),
               CaseFact.calendar_stamp == stamp).group_by(CaseFact.process_key)).all())
    written, calendar = {}, None
    for process in processes:
        written[process] = 0
        if closed.get(process, 0) == known.get(process, 0):
            continue
        missing = db.session.execute(
            sa.select(Case.id, Case.created_at, Case.closed_at)
            .where(Case.process_key == process, in_period,
                   ~sa.exists().where(CaseFact.case_id == Case.id, CaseFact.calendar_stamp == stamp))
            .order_by(Case.id)).all()
        calendar = calendar or fresh_calendar()
        for start in range(0, len(missing), FACT_BATCH):
            rows = FACT_BUILDERS[process](missing[start:start + FACT_BATCH], calendar)
            _upsert_facts([{**row, "calendar_stamp": stamp} for row in rows])
            db.session.commit()
        written[process] = len(missing)
    return written


def _fact_totals(ctx: Ctx, process: str) -> dict:
    """Sums over the case facts of the process's cases closed in the period, inside the scope."""
    def read(ctx):
        f = CaseFact
        if process == COMPLAINT:
            columns = {"closed": sa.func.count(f.case_id), "timed": sa.func.count(f.reply_on_time),
                       "on_time": count_if(f.reply_on_time.is_(True)), "redone": count_if(f.handles > 1),
                       "called_back": count_if(f.called_back.is_(True)), "extended": count_if(f.asked_extension.is_(True)),
                       "hours": sa.func.coalesce(sa.func.sum(f.working_hours), 0.0)}
        else:
            mediated = f.mediated.is_(True)
            columns = {"mediated": count_if(mediated), "settled": count_if(sa.and_(mediated, f.settled.is_(True))),
                       "settled_low": count_if(sa.and_(mediated, f.settled_low.is_(True))),
                       "ladder": count_if(f.on_ladder.is_(True)),
                       "escalated": count_if(sa.and_(f.on_ladder.is_(True), f.escalated.is_(True)))}
        stmt = sa.select(*columns.values()).where(f.process_key == process, _in_period(f.closed_at, ctx.period))
        if not ctx.scope.is_all:
            stmt = stmt.join(Case, Case.id == f.case_id).where(case_clause(ctx.scope))
        return dict(zip(columns, db.session.execute(stmt).one()))
    return _cached(ctx, f"facts:{process}", read)


class OfficeClock:
    """Working hours between two instants with the calendar's office hours: O(1) per pair after a
    per-day prefix sum, so an average over tens of thousands of cases stays cheap."""

    def __init__(self, calendar: BusinessCalendar):
        self.calendar = calendar
        self._periods = [(b.hour * 3600 + b.minute * 60 + b.second, e.hour * 3600 + e.minute * 60 + e.second)
                         for b, e in calendar.office_hours]
        self._office_day = float(sum(e - b for b, e in self._periods))
        self._origin: int | None = None       # date ordinal of prefix[0]
        self._prefix: list[float] = [0.0]     # office seconds on the days before origin + i
        self._working: dict[int, bool] = {}

    def _is_working(self, ordinal: int) -> bool:
        working = self._working.get(ordinal)
        if working is None:
            working = self._working[ordinal] = self.calendar.is_working_day(date.fromordinal(ordinal)).is_working
        return working

    def _before(self, ordinal: int) -> float:
        if self._origin is None or ordinal < self._origin:
            self._origin, self._prefix = ordinal - 31, [0.0]
        index = ordinal - self._origin
        prefix = self._prefix
        while len(prefix) <= index:
            previous = self._origin + len(prefix) - 1
            prefix.append(prefix[-1] + (self._office_day if self._is_working(previous) else 0.0))
        return prefix[index]

    def _cumulative(self, instant: datetime) -> float:
        local = instant.astimezone(self.calendar.tz)
        ordinal = local.toordinal()
        total = self._before(ordinal)
        if self._is_working(ordinal):
            clock = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
            for begin, end in self._periods:
                if clock > begin:
                    total += min(clock, end) - begin
        return total

    def hours_between(self, start: datetime, end: datetime) -> float:
        return max(self._cumulative(end) - self._cumulative(start), 0.0) / 3600


def _p90(values: list[float]) -> float | None:
    """Nearest-rank 90th percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(0.9 * len(ordered)) - 1, 0)]


# --- Process A: complaint ------------------------------------------------------------------------

def k_sign_in_on_time(ctx: Ctx) -> Value:
    return _on_time_tasks(ctx, COMPLAINT, "sign_in")


def k_first_contact_on_time(ctx: Ctx) -> Value:
    return _on_time_tasks(ctx, COMPLAINT, "first_contact")


def k_closed_on_time(ctx: Ctx) -> Value:
    """Closed cases whose final reply was completed by its due date / closed cases with a timed reply."""
    totals = _fact_totals(ctx, COMPLAINT)
    return _rate(totals["on_time"], totals["timed"])


def k_close_rate(ctx: Ctx) -> Value:
    """Of the cases received in the period, how many were closed by its end."""
    closed = sa.and_(Case.status == CaseStatus.CLOSED, Case.closed_at < ctx.period.end)
    num, den = db.session.execute(sa.select(count_if(closed), sa.func.count(Case.id)).where(
        Case.process_key == COMPLAINT, _in_period(Case.created_at, ctx.period), case_clause(ctx.scope))).one()
    return _rate(num, den)


def k_overdue_count(ctx: Ctx) -> Value:
    """Tasks open at the end of the period (or now, if earlier) and past their due date then."""
    at = ctx.period.as_of
    common = [HumanTask.process_key == COMPLAINT, HumanTask.due_at < at, HumanTask.created_at < at,
              sa.or_(HumanTask.paused_at.is_(None), HumanTask.paused_at > HumanTask.due_at), task_clause(ctx.scope)]
    # still open now: ix_human_task_open (the open tasks by due date)
    count = db.session.execute(sa.select(sa.func.count(HumanTask.id)).where(
        HumanTask.status == TaskStatus.READY, *common)).scalar_one()
    if at < ctx.period.now:   # a past moment: also those finished (or cancelled) since
        count += db.session.execute(sa.select(sa.func.count(HumanTask.id)).where(
            # completed_at >= at > due_at: completed late, as ix_human_task_late_completed_at holds them
            HumanTask.status != TaskStatus.READY, HumanTask.completed_at >= at,
            HumanTask.completed_at > HumanTask.due_at, *common)).scalar_one()
    return Value(count, count, None)


def k_average_duration(ctx: Ctx) -> Value:
    """Average working hours from receipt (case.created_at) to closing (case.closed_at)."""
    totals = _fact_totals(ctx, COMPLAINT)
    if not totals["closed"]:
        return Value(None, None, 0)
    total = float(totals["hours"])
    return Value(round(total / totals["closed"], 1), round(total, 1), totals["closed"])


def _closed_share(ctx: Ctx, key: str) -> Value:
    totals = _fact_totals(ctx, COMPLAINT)
    return _rate(totals[key], totals["closed"])


def k_extension_rate(ctx: Ctx) -> Value:
    return _closed_share(ctx, "extended")


def k_return_rate(ctx: Ctx) -> Value:
    answers = _complaint_answers(ctx)
    return _rate(answers["returns"], answers["sign_ins"])


def k_redo_rate(ctx: Ctx) -> Value:
    return _closed_share(ctx, "redone")


def k_callback_rate(ctx: Ctx) -> Value:
    return _closed_share(ctx, "called_back")


def k_satisfaction(ctx: Ctx) -> Value:
    answers = _complaint_answers(ctx)
    return _rate(answers["satisfied"], answers["rated_callbacks"])


# --- Process B: one_thing_transport --------------------------------------------------------------

def ensure_bundle_facts(period: Period) -> int:
    """Store the bundle_fact rows of the hand-outs completed in the period that have none, or whose
    working hours were computed with another calendar; returns how many were written. Two index-only
    counts when nothing is missing; commits after each batch of FACT_BATCH, in task-id order."""
    stamp = calendar_stamp()
    h = HumanTask
    handouts = [h.process_key == ONE_THING, h.bpmn_id == "handout", h.status == TaskStatus.COMPLETED,
                _in_period(h.completed_at, period)]
    done = db.session.execute(sa.select(sa.func.count()).select_from(h).where(*handouts)).scalar_one()
    known = db.session.execute(sa.select(sa.func.count()).select_from(BundleFact).where(
        _in_period(BundleFact.handed_out_at, period), BundleFact.calendar_stamp == stamp)).scalar_one()
    if done == known:
        return 0
    a = aliased(HumanTask)
    accepted = (sa.select(sa.func.min(a.completed_at)).where(
        a.case_id == h.case_id, a.bpmn_id == "accept", a.status == TaskStatus.COMPLETED).scalar_subquery())
    missing = db.session.execute(
        sa.select(h.id, h.case_id, accepted, h.completed_at).where(
            *handouts, ~sa.exists().where(BundleFact.task_id == h.id, BundleFact.calendar_stamp == stamp))
        .order_by(h.id)).all()
    clock = OfficeClock(fresh_calendar())
    for first in range(0, len(missing), FACT_BATCH):
        rows = [{"task_id": task_id, "case_id": case_id, "handed_out_at": out, "accepted_at": start,
                 "on_the_spot": None if start is None else out - start <= ON_THE_SPOT,
                 "working_hours": None if start is None else clock.hours_between(start, out),
                 "calendar_stamp": stamp}
                for task_id, case_id, start, out in missing[first:first + FACT_BATCH]]
        _upsert(BundleFact, "task_id", rows)
        db.session.commit()
    return len(missing)


def _bundle_facts(ctx: Ctx) -> list[tuple[float, bool]]:
    """(working hours, on the spot) of the hand-outs in the period that had a 受理, from bundle_fact
    (one index-only range read; the unit rule joins each fact's case)."""
    def read(ctx):
        f = BundleFact
        stmt = sa.select(f.working_hours, f.on_the_spot).where(
            _in_period(f.handed_out_at, ctx.period), f.working_hours.is_not(None))
        if not ctx.scope.is_all:
            stmt = stmt.join(Case, Case.id == f.case_id).where(case_clause(ctx.scope))
        return [(hours, bool(spot)) for hours, spot in db.session.execute(stmt).all()]
    return _cached(ctx, "bundle_facts", read)


def k_on_the_spot(ctx: Ctx) -> Value:
    facts = _bundle_facts(ctx)
    return _rate(sum(1 for _, spot in facts if spot), len(facts))


def k_bundle_average(ctx: Ctx) -> Value:
    values = [hours for hours, _ in _bundle_facts(ctx)]
    if not values:
        return Value(None, None, 0)
    return Value(round(sum(values) / len(values), 1), round(sum(values), 1), len(values))


def k_bundle_p90(ctx: Ctx) -> Value:
    values = [hours for hours, _ in _bundle_facts(ctx)]
    p90 = _p90(values)
    return Value(round(p90, 1) if p90 is not None else None, None, len(values))


def k_supplement_rate(ctx: Ctx) -> Value:
    received = [Case.process_key == ONE_THING, _in_period(Case.created_at, ctx.period), case_clause(ctx.scope)]
    total = db.session.execute(sa.select(sa.func.count(Case.id)).where(*received)).scalar_one()
    # the process key puts the (few) supplement steps in ix_human_task_kpi instead of a scan of every task
    supplemented = _grouped_by_case(HumanTask, sa.select(Case.id).where(*received), [sa.func.count()],
                                    [HumanTask.process_key == ONE_THING, HumanTask.bpmn_id == "supplement",
                                     HumanTask.status == TaskStatus.COMPLETED])
    return _rate(len(supplemented), total)


def k_time_limit_compression(ctx: Ctx) -> Value:
    committed_text, committed = ONE_THING_COMMITTED
    statutory = sum(days for _, days in ONE_THING_STATUTORY)
    return Value({"committed": committed_text, "committed_days": committed,
                  "statutory": f"{statutory}WD", "statutory_days": statutory,
                  "compression": round(1 - committed / statutory, 4)}, committed, statutory)


# --- Process C: dispute_escalation ---------------------------------------------------------------

def k_mediation_success(ctx: Ctx) -> Value:
    totals = _fact_totals(ctx, DISPUTE)
    return _rate(totals["settled"], totals["mediated"])


def k_grassroots_rate(ctx: Ctx) -> Value:
    totals = _fact_totals(ctx, DISPUTE)
    return _rate(totals["settled_low"], totals["mediated"])


def k_escalation_rate(ctx: Ctx) -> Value:
    totals = _fact_totals(ctx, DISPUTE)
    return _rate(totals["escalated"], totals["ladder"])


# --- the registry --------------------------------------------------------------------------------

KPIS: tuple[Kpi, ...] = (
    Kpi("sign_in_on_time", COMPLAINT, "按时签收率",
        "承办单位在签收时限内签收（或退回）工单的比例。统计本期完成的“签收”环节，没有时限的不计。",
        "按时完成的签收环节数 ÷ 本期完成且有时限的签收环节数", "%", k_sign_in_on_time),
    Kpi("first_contact_on_time", COMPLAINT, "首次响应及时率",
        "承办单位在首次响应时限内联系诉求人的比例（中小企业诉求“60 分钟响应”）。",
        "按时完成的首次联系环节数 ÷ 本期完成且有时限的首次联系环节数", "%", k_first_contact_on_time),
    Kpi("closed_on_time", COMPLAINT, "按期办结率",
        "本期办结的工单中，最后一次答复在答复时限内作出的比例；未经答复即结束的工单（不予受理、合并）不计。",
        "最后一次答复按期的办结工单数 ÷ 有答复时限的本期办结工单数", "%", k_closed_on_time),
    Kpi("close_rate", COMPLAINT, "办结率",
        "本期受理的工单中，截至期末已经办结的比例。",
        "本期受理且期末前办结的工单数 ÷ 本期受理工单数", "%", k_close_rate),
    Kpi("overdue_count", COMPLAINT, "超期件数",
        "期末（或当前，取较早者）仍未办理、且已超过办理时限的环节数，每个环节计一次；暂停计时中的不计。",
        "期末在办且办理时限早于期末的环节数", "件", k_overdue_count),
    Kpi("average_duration", COMPLAINT, "平均办理时长",
        "本期办结的工单从受理到办结所用的工作时间（按工作日历的办公时间计，节假日和下班时间不计）。",
        "Σ(办结时间 − 受理时间，工作小时) ÷ 本期办结工单数", "工作小时", k_average_duration),
    Kpi("extension_rate", COMPLAINT, "延期率",
        "本期办结的工单中，承办单位在办理环节申请过延期的比例。",
        "办理环节提交“需要延期”的办结工单数 ÷ 本期办结工单数", "%", k_extension_rate),
    Kpi("return_rate", COMPLAINT, "退单率",
        "本期提交的签收中，承办单位选择“退回”的比例；不当退单是问责情形之一。",
        "签收结果为退回的次数 ÷ 本期签收提交次数", "%", k_return_rate),
    Kpi("redo_rate", COMPLAINT, "重办率",
        "本期办结的工单中，办理环节办理了两次及以上（审核退回或回访不满意后重办）的比例。",
        "办理环节完成两次及以上的办结工单数 ÷ 本期办结工单数", "%", k_redo_rate),
    Kpi("callback_rate", COMPLAINT, "回访率",
        "本期办结的工单中完成回访的比例（中小企业诉求要求回访率 100%）。",
        "完成回访的办结工单数 ÷ 本期办结工单数", "%", k_callback_rate),
    Kpi("satisfaction_rate", COMPLAINT, "满意率",
        "本期回访中，诉求人评价为“满意”或“基本满意”的比例。",
        "满意与基本满意的回访数 ÷ 本期有满意度评价的回访数", "%", k_satisfaction),
    Kpi("on_the_spot_rate", ONE_THING, "即办率",
        "本期统一出证的件中，自受理起 1 小时内出证的比例（江门“1 小时内出证”目标）。",
        "受理后 1 小时内统一出证的件数 ÷ 本期统一出证件数", "%", k_on_the_spot),
    Kpi("bundle_average_hours", ONE_THING, "平均办理用时",
        "本期统一出证的件从受理到统一出证的平均工作时间（补正在受理前，不计入）。",
        "Σ(出证时间 − 受理时间，工作小时) ÷ 本期统一出证件数", "工作小时", k_bundle_average),
    Kpi("bundle_p90_hours", ONE_THING, "办理用时 P90",
        "本期统一出证的件中，90% 的件在此工作时间内出证（最近秩法）。",
        "受理至出证工作小时数的第 90 百分位", "工作小时", k_bundle_p90),
    Kpi("supplement_rate", ONE_THING, "补正率",
        "本期申请的件中，收件预审后需要一次性告知补正材料的比例。",
        "完成过补正环节的件数 ÷ 本期申请件数", "%", k_supplement_rate),
    Kpi("time_limit_compression", ONE_THING, "承诺时限 vs 法定时限",
        "“一件事”承诺时限（5 个工作日）与各事项法定时限之和（企业设立登记 3 个工作日 + 道路货物运输经营许可 20 个工作日）的对比及压缩比例。",
        "压缩比例 = 1 − 承诺时限 ÷ 法定时限之和", "时限", k_time_limit_compression),
    Kpi("mediation_success_rate", DISPUTE, "调解成功率",
        "本期结案且进入调解的纠纷中，任一级（含劳动争议调解）调解结果为“成功”的比例。",
        "调解成功的结案纠纷数 ÷ 本期结案且进入调解的纠纷数", "%", k_mediation_success),
    Kpi("grassroots_rate", DISPUTE, "基层化解率",
        "本期结案且进入调解的纠纷中，在村（社区）或镇（街）一级调解成功的比例（“小事不出村、大事不出镇”）。",
        "村级或镇级调解成功的结案纠纷数 ÷ 本期结案且进入调解的纠纷数", "%", k_grassroots_rate),
    Kpi("escalation_rate", DISPUTE, "提级率",
        "本期结案的分级调处纠纷中，至少提级一次（本级时限届满自动提级，或本级调解不成提交上一级）的比例。",
        "至少提级一次的结案纠纷数 ÷ 本期结案的分级调处纠纷数", "%", k_escalation_rate),
)
KPI_BY_ID = {k.id: k for k in KPIS}
PROCESSES = tuple(dict.fromkeys(k.process for k in KPIS))


# --- the entry point ----------------------------------------------------------------------------

def parse_period(start, end, now: datetime | None = None) -> Period:
    """A period from dates (local days, the end day excluded) or aware datetimes. Raises FormInvalid (422)."""
    now = now or utcnow()
    fields = {}
    bounds = []
    for name, value in (("start", start), ("end", end)):
        if value is None or value == "":
            fields[name] = ["必填"]
            bounds.append(None)
            continue
        try:
            bounds.append(_instant(value))
        except (TypeError, ValueError):
            fields[name] = ["日期格式应为 YYYY-MM-DD 或带时区的 ISO 时间"]
            bounds.append(None)
    if not fields and bounds[0] >= bounds[1]:
        fields["end"] = ["结束时间必须晚于开始时间"]
    if fields:
        raise FormInvalid("统计区间有误", fields=fields)
    return Period(bounds[0], bounds[1], now)


def _instant(value) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive")
        return value.astimezone(timezone.utc)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=SHANGHAI).astimezone(timezone.utc)
    text = str(value).strip()
    if len(text) == 10:
        return _instant(date.fromisoformat(text))
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("naive")
    return parsed.astimezone(timezone.utc)


def compute_kpis(user: User, start, end, process: str | None = None, *, now: datetime | None = None,
                 ids: list[str] | None = None) -> dict:
    """Every KPI (or those of one process, or the given ids) over [start, end) for what the user may see.

    Raises Forbidden (not a supervisor or administrator), FormInvalid (bad period or process).
    """
    scope = supervision_scope(user)
    period = parse_period(start, end, now)
    if process and process not in PROCESSES:
        raise FormInvalid("流程无效", fields={"process": ["可选：" + "、".join(PROCESSES)]})
    ctx = Ctx(scope, period, get_calendar())
    wanted = [k for k in KPIS if not (process and k.process != process) and not (ids and k.id not in ids)]
    needed = tuple(key for key in FACT_BUILDERS if any(k.process == key for k in wanted))
    if needed:
        ensure_case_facts(period, needed)
    if any(k.process == ONE_THING for k in wanted):
        ensure_bundle_facts(period)
    if db.session.get_bind().dialect.name == "postgresql":
        # these are short aggregates over indexed ranges; PostgreSQL's JIT compiles for longer than
        # they run (measured: +40 ms per statement). Only for this transaction.
        db.session.execute(sa.text("SET LOCAL jit = off"))
    results = []
    for kpi in wanted:
        value = kpi.compute(ctx)
        results.append({"id": kpi.id, "process": kpi.process, "process_title": PROCESS_TITLES[kpi.process],
                        "name": kpi.name, "explanation": kpi.explanation, "formula": kpi.formula,
                        "unit": kpi.unit, "value": value.value, "numerator": value.numerator,
                        "denominator": value.denominator, "display": display(kpi, value.value)})
    return {"start": period.start, "end": period.end, "as_of": period.as_of, "process": process,
            "kpis": results}


def display(kpi: Kpi, value) -> str:
    """The value as a tile shows it."""
    if value is None:
        return "—"
    if kpi.unit == "%":
        return f"{value * 100:.1f}%"
    if kpi.unit == "件":
        return f"{value} 件"
    if kpi.unit == "工作小时":
        return f"{value:.1f} 工作小时"
    if kpi.unit == "时限":
        return (f"承诺 {value['committed_days']} 个工作日 / 法定 {value['statutory_days']} 个工作日"
                f"（压缩 {value['compression'] * 100:.1f}%）")
    return str(value)
