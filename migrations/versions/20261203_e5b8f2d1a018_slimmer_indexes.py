"""Indexes a completed instance no longer pays for (#16: bytes per completed instance)

Revision ID: e5b8f2d1a018
Revises: d4a7e1c0f017
Create Date: 2026-12-03 13:40:00

* ix_human_task_status_due_at held every task ever; its readers ask for open tasks by due date,
  which ix_human_task_open (partial: status = 'ready') answers; it gets paused_at, so the deadline
  lists still count the overdue inside the index.
* ix_human_task_process_key_completed_at_bpmn_id held every task; the step KPIs read
  ix_human_task_kpi, and its one other reader (超期件数 of a past period) counts steps completed
  late: ix_human_task_late_completed_at keeps only those.
* ix_human_task_instance_id, ix_case_process_key and ix_process_instance_started_by_id repeated the
  first column of another index (uq_human_task_instance_id, ix_case_process_key_*,
  ix_process_instance_started_by_id_started_at).
"""
from alembic import op
import sqlalchemy as sa


revision = 'e5b8f2d1a018'
down_revision = 'd4a7e1c0f017'
branch_labels = None
depends_on = None

_LATE = sa.text("completed_at > due_at")
_OPEN = sa.text("status = 'ready'")
_OPEN_COLUMNS = ['due_at', 'priority', 'id', 'assignee_id', 'process_key', 'case_id']


def _open_index(columns):
    op.drop_index('ix_human_task_open', table_name='human_task')
    op.create_index('ix_human_task_open', 'human_task', columns, postgresql_where=_OPEN, sqlite_where=_OPEN)


def upgrade():
    op.drop_index('ix_human_task_status_due_at', table_name='human_task')
    op.drop_index('ix_human_task_process_key_completed_at_bpmn_id', table_name='human_task')
    op.drop_index('ix_human_task_instance_id', table_name='human_task')
    op.drop_index('ix_case_process_key', table_name='case')
    op.drop_index('ix_process_instance_started_by_id', table_name='process_instance')
    op.create_index('ix_human_task_late_completed_at', 'human_task', ['process_key', 'completed_at'],
                    postgresql_where=_LATE, sqlite_where=_LATE)
    _open_index(_OPEN_COLUMNS + ['paused_at'])


def downgrade():
    _open_index(_OPEN_COLUMNS)
    op.drop_index('ix_human_task_late_completed_at', table_name='human_task')
    op.create_index('ix_process_instance_started_by_id', 'process_instance', ['started_by_id'])
    op.create_index('ix_case_process_key', 'case', ['process_key'])
    op.create_index('ix_human_task_instance_id', 'human_task', ['instance_id'])
    op.create_index('ix_human_task_process_key_completed_at_bpmn_id', 'human_task',
                    ['process_key', 'completed_at', 'bpmn_id'])
    op.create_index('ix_human_task_status_due_at', 'human_task', ['status', 'due_at', 'completed_at', 'paused_at'])
