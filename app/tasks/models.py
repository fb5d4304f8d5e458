"""The human-task projection: one row per READY user/manual task, kept after completion."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import JSONType, NullableJSON, UTCDateTime, UUIDText, utcnow
from app.extensions import db


class TaskStatus:
    READY = "ready"
    COMPLETED = "completed"
    CANCELLED = "cancelled"   # removed by the engine (boundary event, cancel)


# A completed step's outcome, for the statistics (退单率, 满意率, 调解成功率…): the first of these form
# fields the step submitted, as text. Kept on the row so the KPIs count outcomes from an index
# instead of parsing every audit event's JSON.
OUTCOME_FIELDS = ("sign_action", "satisfaction", "outcome")
OUTCOME_LENGTH = 60


def outcome_of(data) -> str | None:
    """The outcome a completed step's form data carries (OUTCOME_FIELDS), or None."""
    if not isinstance(data, dict):
        return None
    for name in OUTCOME_FIELDS:
        value = data.get(name)
        if value is None or value == "" or isinstance(value, (dict, list)):
            continue
        text = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return text[:OUTCOME_LENGTH]
    return None


class HumanTaskCandidate(db.Model):
    """The inbox's group index: one row per (group, task). HumanTask.candidate_groups is the record;
    this table exists so "tasks offered to my groups" is an indexed query."""

    __tablename__ = "human_task_candidate"

    group_name: Mapped[str] = mapped_column(sa.String(100), primary_key=True)
    task_id: Mapped[int] = mapped_column(
        sa.ForeignKey("human_task.id", ondelete="CASCADE"), primary_key=True, index=True)


class HumanTask(db.Model):
    __tablename__ = "human_task"
    __table_args__ = (
        sa.UniqueConstraint("instance_id", "spiff_task_id"),   # a task is projected once
        # my tasks; the instance id inside, so the case search's "assigned to me" part reads no rows
        sa.Index("ix_human_task_assignee_id_status", "assignee_id", "status", "instance_id"),
        # a case's tasks (case page, KPIs); a case's completed step found inside the index (即办率)
        sa.Index("ix_human_task_case_id_bpmn_id", "case_id", "bpmn_id", "status", "completed_at"),
        # the tasks offered to a group -> their instances and cases inside the index (the supervisor's
        # instance list and case search turn human_task_candidate rows into instance ids)
        sa.Index("ix_human_task_id_instance_id_case_id", "id", "instance_id", "case_id"),
        # 已办: my completed steps, newest first, counted inside the index (app/tasks/queries.py)
        # (and the instance id inside, for the case search's "completed by me" part)
        sa.Index("ix_human_task_completed_by_id_status", "completed_by_id", "status", "completed_at", "instance_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(sa.ForeignKey("process_instance.id"))   # the unique index leads with it
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case.id"))
    process_key: Mapped[str] = mapped_column(sa.String(100))
    spiff_task_id: Mapped[str] = mapped_column(UUIDText)
    bpmn_id: Mapped[str] = mapped_column(sa.String(100))
    name: Mapped[str] = mapped_column(sa.String(255))
    lane: Mapped[str | None] = mapped_column(sa.String(100))
    candidate_groups: Mapped[list] = mapped_column(JSONType, default=list)   # group names
    form: Mapped[str | None] = mapped_column(sa.String(255))
    priority: Mapped[int] = mapped_column(sa.Integer, default=50)
    status: Mapped[str] = mapped_column(sa.String(20), default=TaskStatus.READY)
    assignee_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    warn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sla_state: Mapped[str | None] = mapped_column(sa.String(10))   # last state a deadline job set
    # how due_at was computed, replayable when the calendar changes: {"start", "steps", "warn", "pauses"}
    deadline: Mapped[dict | None] = mapped_column(NullableJSON)
    due_provisional: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    paused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalation_step: Mapped[str | None] = mapped_column(sa.String(20))   # remind/notice/supervise/criticise
    outcome: Mapped[str | None] = mapped_column(sa.String(OUTCOME_LENGTH))   # outcome_of(the submitted form)
    draft: Mapped[dict | None] = mapped_column(NullableJSON)  # unsaved form input, never lost
    follow_up_on: Mapped[date | None] = mapped_column(sa.Date)   # 跟进日期 (local day), set by a caseworker


# The inbox at a million tasks: the open tasks only (a few in a hundred; a completed task leaves a
# partial index, so it stays the size of the open work), in the inbox's order (due_at, NULLs last:
# app.web.queries INBOX_ORDER, app.tasks.services.list_tasks; ties sorted incrementally) and with what
# it filters by, so a page walks the index and stops after its rows and the total is counted inside
# it, instead of fetching and sorting every open task's row. paused_at last: the deadline lists count
# the overdue (due before now and not paused then) inside it too.
OPEN_TASK = sa.text("status = 'ready'")
sa.Index("ix_human_task_open", HumanTask.due_at, HumanTask.priority, HumanTask.id, HumanTask.assignee_id,
         HumanTask.process_key, HumanTask.case_id, HumanTask.paused_at,
         postgresql_where=OPEN_TASK, sqlite_where=OPEN_TASK)
