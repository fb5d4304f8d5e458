"""designer_draft: a designer's unsaved diagram, one per user and process key

Revision ID: 7d0c0e1d0004
Revises: 6c0c0e1d0003
Create Date: 2026-11-21 23:50:00

"""
from alembic import op
import sqlalchemy as sa

revision = '7d0c0e1d0004'
down_revision = '6c0c0e1d0003'
branch_labels = None
depends_on = None


def upgrade():
    # written by hand: UTC columns are DateTime(timezone=True) like app.db.UTCDateTime
    op.create_table('designer_draft',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('process_key', sa.String(length=100), nullable=False),
    sa.Column('bpmn_xml', sa.Text(), nullable=False),
    sa.Column('base_version', sa.Integer(), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_designer_draft_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_designer_draft')),
    sa.UniqueConstraint('user_id', 'process_key', name=op.f('uq_designer_draft_user_id'))
    )


def downgrade():
    op.drop_table('designer_draft')
