"""bundle_fact: the 办成一件事 clock (受理 → 统一出证, in working hours) of each hand-out, computed once,
so a year of the bundle KPIs reads one indexed row per hand-out (#16: the one-year dashboard spent
~160 ms of its 500 reading every hand-out's 受理 and running the calendar over it)

Revision ID: c17b0f0e0016
Revises: a7d3c0e1f015
Create Date: 2026-12-02 22:00:00

Declared in app/supervision/models.py (BundleFact). It fills itself the first time a KPI period
covers a hand-out (kpis.ensure_bundle_facts), or ahead of time with `flask supervision refresh-facts`.
"""
from alembic import op
import sqlalchemy as sa


revision = 'c17b0f0e0016'
down_revision = 'a7d3c0e1f015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'bundle_fact',
        sa.Column('task_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('handed_out_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('on_the_spot', sa.Boolean(), nullable=True),
        sa.Column('working_hours', sa.Float(), nullable=True),
        sa.Column('calendar_stamp', sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_bundle_fact_case_id_case'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['task_id'], ['human_task.id'], name=op.f('fk_bundle_fact_task_id_human_task'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('task_id', name=op.f('pk_bundle_fact')),
    )
    op.create_index('ix_bundle_fact_handed_out_at', 'bundle_fact',
                    ['handed_out_at', 'calendar_stamp', 'working_hours', 'on_the_spot', 'case_id'], unique=False)


def downgrade():
    op.drop_index('ix_bundle_fact_handed_out_at', table_name='bundle_fact')
    op.drop_table('bundle_fact')
