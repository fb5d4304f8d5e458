"""comment and attachment: what caseworkers add to a case (the bytes of an upload live in the row)

Revision ID: 5b0c0e1d0002
Revises: 4a0c0e1d0001
Create Date: 2026-11-21 23:30:00

"""
from alembic import op
import sqlalchemy as sa

revision = '5b0c0e1d0002'
down_revision = '4a0c0e1d0001'
branch_labels = None
depends_on = None


def upgrade():
    # written by hand: UTC columns are DateTime(timezone=True) like app.db.UTCDateTime
    op.create_table('comment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user.id'], name=op.f('fk_comment_author_id_user')),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_comment_case_id_case'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_comment'))
    )
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_comment_case_id'), ['case_id'], unique=False)

    op.create_table('attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('human_task_id', sa.Integer(), nullable=True),
    sa.Column('field', sa.String(length=200), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
    sa.Column('uploaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['case.id'], name=op.f('fk_attachment_case_id_case'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['human_task_id'], ['human_task.id'], name=op.f('fk_attachment_human_task_id_human_task')),
    sa.ForeignKeyConstraint(['uploaded_by_id'], ['user.id'], name=op.f('fk_attachment_uploaded_by_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attachment'))
    )
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attachment_case_id'), ['case_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attachment_uploaded_by_id'), ['uploaded_by_id'], unique=False)


def downgrade():
    with op.batch_alter_table('attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attachment_uploaded_by_id'))
        batch_op.drop_index(batch_op.f('ix_attachment_case_id'))
    op.drop_table('attachment')
    with op.batch_alter_table('comment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_comment_case_id'))
    op.drop_table('comment')
