"""KPI facts: human_task.outcome with a covering index for the step KPIs, and case_fact for the
closed-case KPIs, so a year of KPIs reads an index instead of every case's history

Revision ID: 8e0c0e1d0005
Revises: 7d0c0e1d0004
Create Date: 2026-11-22 09:00:00

Declared in app/tasks/models.py (outcome; ix_human_task_case_id_bpmn_id, which widens
ix_human_task_case_id; ix_human_task_status_due_at, widened for the weekly overdue trend) and in
app/supervision/models.py (ix_human_task_kpi; case_fact; ix_case_process_key_created_at_status,
which widens ix_case_process_key_created_at). The outcome of tasks completed before this revision
is filled in from their audit "complete" events; case_fact fills itself the first time a KPI period
covers a closed case.
"""
import sqlalchemy as sa
from alembic import op

revision = '8e0c0e1d0005'
down_revision = '7d0c0e1d0004'
branch_labels = None
depends_on = None

OUTCOME_FIELDS = ("sign_action", "satisfaction", "outcome")   # app.tasks.models.OUTCOME_FIELDS at this revision
BATCH = 2000


def _outcome(data):
    if not isinstance(data, dict):
        return None
    for name in OUTCOME_FIELDS:
        value = data.get(name)
        if value is None or value == "" or isinstance(value, (dict, list)):
            continue
        return (("true" if value else "false") if isinstance(value, bool) else str(value))[:60]
    return None


def upgrade():
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('outcome', sa.String(length=60), nullable=True))
    op.create_table(
        'case_fact',
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('process_key', sa.String(length=100), nullable=False),
        sa.Column('closed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('calendar_stamp', sa.String(length=16), nullable=False),
        sa.Column('handles', sa.Integer(), nullable=True),
        sa.Column('called_back', sa.Boolean(), nullable=True),
        sa.Column('asked_extension', sa.Boolean(), nullable=True),
        sa.Column('reply_on_time', sa.Boolean(), nullable=True),
        sa.Column('working_hours', sa.Float(), nullable=True),
        sa.Column('mediated', sa.Boolean(), nullable=True),
        sa.Column('on_ladder', sa.Boolean(), nullable=True),
        sa.Column('settled', sa.Boolean(), nullable=True),
        sa.Column('settled_low', sa.Boolean(), nullable=True),
        sa.Column('escalated', sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['case.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('case_id'),
    )
    op.create_index('ix_case_fact_process_key_closed_at', 'case_fact', ['process_key', 'closed_at', 'calendar_stamp'],
                    unique=False)

    # the outcome of the steps completed so far, from their audit "complete" events
    bind = op.get_bind()
    audit = sa.table('audit_event', sa.column('id', sa.Integer), sa.column('human_task_id', sa.Integer),
                     sa.column('action', sa.String), sa.column('data', sa.JSON))
    task = sa.table('human_task', sa.column('id', sa.Integer), sa.column('outcome', sa.String))
    last = 0
    while True:
        rows = bind.execute(sa.select(audit.c.id, audit.c.human_task_id, audit.c.data)
                            .where(audit.c.action == 'complete', audit.c.human_task_id.is_not(None),
                                   audit.c.id > last).order_by(audit.c.id).limit(BATCH)).all()
        if not rows:
            break
        last = rows[-1][0]
        values = [{"b_id": task_id, "outcome": _outcome(data)} for _, task_id, data in rows]
        values = [v for v in values if v["outcome"] is not None]
        if values:
            bind.execute(sa.update(task).where(task.c.id == sa.bindparam("b_id")), values)

    with op.batch_alter_table('case', schema=None) as batch_op:   # widened: 办结率 from the index alone
        batch_op.drop_index('ix_case_process_key_created_at')
        batch_op.create_index('ix_case_process_key_created_at_status', ['process_key', 'created_at', 'status',
                                                                        'closed_at'], unique=False)
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_status_due_at')   # widened: the weekly overdue trend from the index
        batch_op.create_index('ix_human_task_status_due_at', ['status', 'due_at', 'completed_at', 'paused_at'],
                              unique=False)
        batch_op.drop_index('ix_human_task_case_id')   # widened: a case's completed step inside the index
        batch_op.create_index('ix_human_task_case_id_bpmn_id', ['case_id', 'bpmn_id', 'status', 'completed_at'],
                              unique=False)
        batch_op.create_index('ix_human_task_kpi', ['process_key', 'bpmn_id', 'completed_at', 'status', 'due_at',
                                                    'outcome', 'case_id'], unique=False)


def downgrade():
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_kpi')
        batch_op.drop_index('ix_human_task_case_id_bpmn_id')
        batch_op.create_index('ix_human_task_case_id', ['case_id'], unique=False)
        batch_op.drop_index('ix_human_task_status_due_at')
        batch_op.create_index('ix_human_task_status_due_at', ['status', 'due_at'], unique=False)
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index('ix_case_process_key_created_at_status')
        batch_op.create_index('ix_case_process_key_created_at', ['process_key', 'created_at'], unique=False)
    op.drop_index('ix_case_fact_process_key_closed_at', table_name='case_fact')
    op.drop_table('case_fact')
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_column('outcome')
