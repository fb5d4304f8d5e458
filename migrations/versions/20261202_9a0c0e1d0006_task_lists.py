"""human_task.follow_up_on (跟进日期) and the indexes of the 已办 list and the case search

已办 reads human_task by (completed_by_id, status, completed_at); the case search starts from the
instances a user started (process_instance.started_by_id) and orders cases by created_at; a
supervisor's lists turn the tasks offered to their units into instance and case ids inside
(id, instance_id, case_id).

Revision ID: 9a0c0e1d0006
Revises: a1f5e2c30006
Create Date: 2026-12-02 13:20:00

"""
from alembic import op
import sqlalchemy as sa

revision = '9a0c0e1d0006'
down_revision = 'a1f5e2c30006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('follow_up_on', sa.Date(), nullable=True))
        batch_op.create_index('ix_human_task_completed_by_id_status', ['completed_by_id', 'status', 'completed_at'],
                              unique=False)
        batch_op.create_index('ix_human_task_id_instance_id_case_id', ['id', 'instance_id', 'case_id'], unique=False)
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_instance_started_by_id'), ['started_by_id'], unique=False)
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_created_at'))
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_instance_started_by_id'))
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_id_instance_id_case_id')
        batch_op.drop_index('ix_human_task_completed_by_id_status')
        batch_op.drop_column('follow_up_on')
