"""case.unit: the handling unit (承办单位) a case was dispatched to

Revision ID: 4a0c0e1d0001
Revises: 820ac2d1abc9
Create Date: 2026-11-21 22:10:00

"""
from alembic import op
import sqlalchemy as sa

revision = '4a0c0e1d0001'
down_revision = '820ac2d1abc9'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit', sa.String(length=100), nullable=True))
        batch_op.create_index(batch_op.f('ix_case_unit'), ['unit'], unique=False)


def downgrade():
    with op.batch_alter_table('case', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_unit'))
        batch_op.drop_column('unit')
