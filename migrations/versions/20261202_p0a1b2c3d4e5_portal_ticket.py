"""portal_ticket: cases filed through the public portal (查询码 hash, 好差评), #13

Revision ID: p0a1b2c3d4e5
Revises: b2c0e1d00007
Create Date: 2026-12-02 16:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'p0a1b2c3d4e5'
down_revision = 'b2c0e1d00007'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'portal_ticket',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('entry', sa.String(length=40), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),   # like app.db.UTCDateTime
        sa.Column('rating', sa.SmallInteger(), nullable=True),
        sa.Column('rating_comment', sa.Text(), nullable=True),
        sa.Column('rated_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('supplement_count', sa.Integer(), server_default='0', nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_portal_ticket_case_id_case'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_ticket')),
        sa.UniqueConstraint('case_id', name=op.f('uq_portal_ticket_case_id')),
    )


def downgrade():
    op.drop_table('portal_ticket')
