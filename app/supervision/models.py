"""The supervision tables: the indexes its queries need on other packages' tables, and case_fact.

督办 deadlines live in the audit trail. The queries read human_task, case and audit_event, and
bench/dashboard_bench.py showed which of them scanned; those indexes are declared here (bound to
those tables, so the metadata and `flask db check` know them), created by migrations 6c0c0e1d0003,
8e0c0e1d0005 and b16ace000008 (the partial index of the late steps).

case_fact holds, for each closed case, the facts the closed-case KPIs count (replies on time, 重办,
回访, 延期, working hours; for disputes the mediation results). A closed case's tasks and audit trail
no longer change, so its facts are computed once, the first time a KPI period covers the case
(kpis.ensure_case_facts), and a year of KPIs reads one row per case instead of its whole history.
Working hours depend on the official calendar: each row keeps the calendar's stamp, and a row with
another stamp is recomputed (`flask supervision refresh-facts` fills them ahead of the first request).
bundle_fact does the same for each 统一出证 hand-out: its 受理 → 出证 working hours (kpis.ensure_bundle_facts).
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.audit.models import AuditEvent
from app.cases.models import Case
from app.db import UTCDateTime
from app.extensions import db
from app.tasks.models import HumanTask

_task, _case, _audit = HumanTask.__table__, Case.__table__, AuditEvent.__table__

# a step not completed by its due date (open, or completed late): the predicate of the partial index
# below, written exactly as queries.weekly_trend filters, so the planner can prove it
LATE = sa.or_(_task.c.completed_at.is_(None), _task.c.completed_at > _task.c.due_at)
COMPLETED_LATE = _task.c.completed_at > _task.c.due_at

SUPERVISION_INDEXES = (
    # 超期件数 of a past period: the steps completed late after its end. Only late completions are
    # kept (completed after their due date: the query says so too, so the planner can prove it), the
    # step KPIs read ix_human_task_kpi
    sa.Index("ix_human_task_late_completed_at", _task.c.process_key, _task.c.completed_at,
             postgresql_where=COMPLETED_LATE, sqlite_where=COMPLETED_LATE),
    # case KPIs: a process's cases closed in / received in a period
    sa.Index("ix_case_process_key_closed_at", _case.c.process_key, _case.c.closed_at),
    # … received in a period, and whether closed by its end (办结率) read from the index itself
    sa.Index("ix_case_process_key_created_at_status", _case.c.process_key, _case.c.created_at, _case.c.status,
             _case.c.closed_at),
    # a task's 督办 records in the lists (audit_event had no index on human_task_id)
    sa.Index("ix_audit_event_human_task_id_action", _audit.c.human_task_id, _audit.c.action),
    # step KPIs (按时签收率, 首次响应及时率, 退单率, 满意率, 即办率): every column they read is in the
    # index, so a year of completions is counted without visiting the table
    sa.Index("ix_human_task_kpi", _task.c.process_key, _task.c.bpmn_id, _task.c.completed_at, _task.c.status,
             _task.c.due_at, _task.c.outcome, _task.c.case_id),
    # the weekly trend's "fell overdue": only the steps not completed by their due date (about one
    # in six), by due date; a year of them is read from this partial index instead of every task
    sa.Index("ix_human_task_late_due_at", _task.c.due_at, _task.c.status, _task.c.paused_at, _task.c.process_key,
             postgresql_where=LATE, sqlite_where=LATE),
)


class CaseFact(db.Model):
    """The KPI facts of one closed case (see the module docstring). Columns that do not apply to the
    case's process are NULL."""

    __tablename__ = "case_fact"
    __table_args__ = (sa.Index("ix_case_fact_process_key_closed_at", "process_key", "closed_at", "calendar_stamp"),)

    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case.id", ondelete="CASCADE"), primary_key=True)
    process_key: Mapped[str] = mapped_column(sa.String(100), nullable=False)
    closed_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    calendar_stamp: Mapped[str] = mapped_column(sa.String(16), nullable=False)   # kpis.calendar_stamp() used
    # complaint
    handles: Mapped[int | None] = mapped_column(sa.Integer)                  # completed 调查处置 steps (2+ = 重办)
    called_back: Mapped[bool | None] = mapped_column(sa.Boolean)
    asked_extension: Mapped[bool | None] = mapped_column(sa.Boolean)
    reply_on_time: Mapped[bool | None] = mapped_column(sa.Boolean)            # the final reply by its due date; NULL: none/untimed
    working_hours: Mapped[float | None] = mapped_column(sa.Float)              # receipt → closing, office hours
    # dispute_escalation
    mediated: Mapped[bool | None] = mapped_column(sa.Boolean)
    on_ladder: Mapped[bool | None] = mapped_column(sa.Boolean)
    settled: Mapped[bool | None] = mapped_column(sa.Boolean)
    settled_low: Mapped[bool | None] = mapped_column(sa.Boolean)
    escalated: Mapped[bool | None] = mapped_column(sa.Boolean)


class BundleFact(db.Model):
    """The 办成一件事 clock of one 统一出证 (hand-out) step: from the case's first 受理 to the hand-out.
    A completed hand-out no longer changes, so kpis.ensure_bundle_facts computes it once, the first
    time a KPI period covers it, and the bundle KPIs (即办率, 平均办理用时, P90) read these rows instead
    of every hand-out's 受理 and the calendar. Keyed by the hand-out task (a case handed out twice
    counts twice, as the tiles always did); no 受理 → accepted_at and working_hours NULL (left out)."""

    __tablename__ = "bundle_fact"
    __table_args__ = (sa.Index("ix_bundle_fact_handed_out_at", "handed_out_at", "calendar_stamp", "working_hours",
                               "on_the_spot", "case_id"),)

    task_id: Mapped[int] = mapped_column(sa.ForeignKey("human_task.id", ondelete="CASCADE"), primary_key=True,
                                         autoincrement=False)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case.id", ondelete="CASCADE"))
    handed_out_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    on_the_spot: Mapped[bool | None] = mapped_column(sa.Boolean)            # handed out within 1 h of 受理
    working_hours: Mapped[float | None] = mapped_column(sa.Float)           # 受理 → 出证, office hours
    calendar_stamp: Mapped[str] = mapped_column(sa.String(16), nullable=False)
