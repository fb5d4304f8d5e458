"""process_definition.called_xml: the files of the processes a version's call activities use (#14)

Revision ID: m3c1a7f0e0b8
Revises: i13c0e1d0008
Create Date: 2026-12-02 16:40:00

"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


revision = 'm3c1a7f0e0b8'
down_revision = 'i13c0e1d0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('process_definition', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'called_xml', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
            nullable=True))


def downgrade():
    with op.batch_alter_table('process_definition', schema=None) as batch_op:
        batch_op.drop_column('called_xml')
