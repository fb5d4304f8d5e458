"""Scale (#16): partial indexes of the open tasks (the inbox at a million tasks) and of the late
steps (the dashboard's weekly trend); the instance id inside the assignee and completed-by indexes
(the case search's visibility); the unused audit_event (bpmn_id, action, at) index dropped

The inbox counted and sorted a group's or everyone's open tasks by fetching each open row from a
million-row table; ix_human_task_open holds only the open tasks with the columns the inbox orders
(due_at, NULLs last, as the inbox now says it) and filters by.

The trend's "fell overdue" line reads a year of steps not completed by their due date; with only
(status, due_at) PostgreSQL read every task of the year (157,000 at 100,000 cases) to keep one in
six. The partial index holds only those steps. The step KPIs that once read form answers from
audit_event by (bpmn_id, action, at) read human_task.outcome since 8e0c0e1d0005; nothing uses that
index any more, and every audit row paid for it.

Revision ID: b16ace000008
Revises: m3c1a7f0e0b8
Create Date: 2026-12-02 16:30:00

"""
from alembic import op
import sqlalchemy as sa

revision = 'b16ace000008'
down_revision = 'm3c1a7f0e0b8'
branch_labels = None
depends_on = None

LATE = "completed_at IS NULL OR completed_at > due_at"


OPEN = "status = 'ready'"


def upgrade():
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.create_index('ix_human_task_late_due_at', ['due_at', 'status', 'paused_at', 'process_key'],
                              unique=False, postgresql_where=sa.text(LATE), sqlite_where=sa.text(LATE))
        batch_op.drop_index('ix_human_task_assignee_id_status')
        batch_op.create_index('ix_human_task_assignee_id_status', ['assignee_id', 'status', 'instance_id'],
                              unique=False)
        batch_op.drop_index('ix_human_task_completed_by_id_status')
        batch_op.create_index('ix_human_task_completed_by_id_status',
                              ['completed_by_id', 'status', 'completed_at', 'instance_id'], unique=False)
    op.create_index('ix_human_task_open', 'human_task',
                    ['due_at', 'priority', 'id', 'assignee_id', 'process_key', 'case_id'],
                    unique=False, postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_event_bpmn_id_action_at')


def downgrade():
    op.drop_index('ix_human_task_open', table_name='human_task')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index('ix_audit_event_bpmn_id_action_at', ['bpmn_id', 'action', 'at'], unique=False)
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_completed_by_id_status')
        batch_op.create_index('ix_human_task_completed_by_id_status', ['completed_by_id', 'status', 'completed_at'],
                              unique=False)
        batch_op.drop_index('ix_human_task_assignee_id_status')
        batch_op.create_index('ix_human_task_assignee_id_status', ['assignee_id', 'status'], unique=False)
        batch_op.drop_index('ix_human_task_late_due_at')
