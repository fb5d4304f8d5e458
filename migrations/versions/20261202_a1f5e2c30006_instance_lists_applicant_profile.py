"""Instance lists and applicant profiles: user.real_name/phone/enterprise_name/enterprise_uscc (the
start form's prefill) and two process_instance indexes (the instance list by start time; an
applicant's own applications, 我的申请)

Revision ID: a1f5e2c30006
Revises: 8e0c0e1d0005
Create Date: 2026-12-02 13:00:00

Declared in app/auth/models.py (the profile columns, all nullable) and app/processes/models.py
(the indexes).
"""
import sqlalchemy as sa
from alembic import op

revision = 'a1f5e2c30006'
down_revision = '8e0c0e1d0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('real_name', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('phone', sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column('enterprise_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('enterprise_uscc', sa.String(length=18), nullable=True))
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.create_index('ix_process_instance_started_at', ['started_at'], unique=False)
        batch_op.create_index('ix_process_instance_started_by_id_started_at', ['started_by_id', 'started_at'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.drop_index('ix_process_instance_started_by_id_started_at')
        batch_op.drop_index('ix_process_instance_started_at')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('enterprise_uscc')
        batch_op.drop_column('enterprise_name')
        batch_op.drop_column('phone')
        batch_op.drop_column('real_name')
