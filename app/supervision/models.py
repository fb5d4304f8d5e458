"""The indexes the supervision queries need on other packages' tables.

Supervision owns no table: 督办 deadlines live in the audit trail. Its queries read human_task,
case and audit_event, and bench/dashboard_bench.py showed which of them scanned; the indexes are
declared here (bound to those tables, so the metadata and `flask db check` know them) and created
by migration 6c0c0e1d0003.
"""
from __future__ import annotations

import sqlalchemy as sa

from app.audit.models import AuditEvent
from app.cases.models import Case
from app.tasks.models import HumanTask

_task, _case, _audit = HumanTask.__table__, Case.__table__, AuditEvent.__table__

SUPERVISION_INDEXES = (
    # task KPIs: a process's tasks completed in a period, the step filtered inside the index
    # (按时签收率, 首次响应及时率, 即办率…; 超期件数 of a past period: tasks finished after its end)
    sa.Index("ix_human_task_process_key_completed_at_bpmn_id", _task.c.process_key, _task.c.completed_at,
             _task.c.bpmn_id),
    # case KPIs: a process's cases closed in / received in a period
    sa.Index("ix_case_process_key_closed_at", _case.c.process_key, _case.c.closed_at),
    sa.Index("ix_case_process_key_created_at", _case.c.process_key, _case.c.created_at),
    # form answers of some steps in a period (退单率, 满意率): without it PostgreSQL reads all of audit_event
    sa.Index("ix_audit_event_bpmn_id_action_at", _audit.c.bpmn_id, _audit.c.action, _audit.c.at),
    # a task's 督办 records in the lists (audit_event had no index on human_task_id)
    sa.Index("ix_audit_event_human_task_id_action", _audit.c.human_task_id, _audit.c.action),
)
