"""supervision indexes: the overdue / due-soon lists and the KPIs without table scans

Revision ID: 6c0c0e1d0003
Revises: 5b0c0e1d0002
Create Date: 2026-11-21 23:40:00

Written by hand from bench/dashboard_bench.py's query plans (100 000 cases); declared in
app/supervision/models.py. No table: 督办 deadlines live in audit_event.
"""
from alembic import op

revision = '6c0c0e1d0003'
down_revision = '5b0c0e1d0002'
branch_labels = None
depends_on = None

INDEXES = {
    'human_task': [
        ('ix_human_task_process_key_completed_at_bpmn_id', ['process_key', 'completed_at', 'bpmn_id']),
    ],
    'case': [
        ('ix_case_process_key_closed_at', ['process_key', 'closed_at']),
        ('ix_case_process_key_created_at', ['process_key', 'created_at']),
    ],
    'audit_event': [
        ('ix_audit_event_bpmn_id_action_at', ['bpmn_id', 'action', 'at']),
        ('ix_audit_event_human_task_id_action', ['human_task_id', 'action']),
    ],
}


def upgrade():
    for table, indexes in INDEXES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, columns in indexes:
                batch_op.create_index(name, columns, unique=False)


def downgrade():
    for table, indexes in reversed(list(INDEXES.items())):
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _ in reversed(indexes):
                batch_op.drop_index(name)
