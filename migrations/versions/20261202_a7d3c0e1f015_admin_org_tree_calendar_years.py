"""group.parent_id and group.level (the organisation tree), calendar_year (a year marked official or
provisional by an administrator) — administration pages, #15

Revision ID: a7d3c0e1f015
Revises: b16ace000008
Create Date: 2026-12-02 16:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = 'a7d3c0e1f015'
down_revision = 'b16ace000008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('group', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('level', sa.String(length=20), nullable=True))
        batch_op.create_index(batch_op.f('ix_group_parent_id'), ['parent_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_group_parent_id_group'), 'group', ['parent_id'], ['id'],
                                    ondelete='SET NULL')
    op.create_table(
        'calendar_year',
        sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('official', sa.Boolean(), nullable=False),
        sa.Column('notice', sa.String(length=255), nullable=True),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['updated_by_id'], ['user.id'], name=op.f('fk_calendar_year_updated_by_id_user'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('year', name=op.f('pk_calendar_year')),
    )


def downgrade():
    op.drop_table('calendar_year')
    with op.batch_alter_table('group', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_group_parent_id_group'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_group_parent_id'))
        batch_op.drop_column('level')
        batch_op.drop_column('parent_id')
