"""user.failed_login_count, user.locked_until, user.must_change_password (login protection, #15)

Revision ID: b2c0e1d00007
Revises: 9a0c0e1d0006
Create Date: 2026-12-02 16:20:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'b2c0e1d00007'
down_revision = '9a0c0e1d0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('failed_login_count', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))  # like app.db.UTCDateTime
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), server_default=sa.false(),
                                      nullable=False))


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
        batch_op.drop_column('locked_until')
        batch_op.drop_column('failed_login_count')
