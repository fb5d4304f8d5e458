"""human_task: the SpiffWorkflow task id as its 16 bytes on SQLite, and no JSON text null in deadline
and draft (#16: bytes per completed instance; app.db.UUIDText, NullableJSON)

Revision ID: f6c9a3e2b019
Revises: e5b8f2d1a018
Create Date: 2026-12-03 13:55:00

Column types are unchanged (VARCHAR(36), JSON): only stored values change. A deadline or draft of JSON
null becomes SQL NULL (both read as None) on SQLite and PostgreSQL; task ids change on SQLite only.
"""
from uuid import UUID

from alembic import op
import sqlalchemy as sa


revision = 'f6c9a3e2b019'
down_revision = 'e5b8f2d1a018'
branch_labels = None
depends_on = None

BATCH = 5000


def _task_ids(conn, from_type: str, convert) -> None:
    last = 0
    while True:
        rows = conn.execute(sa.text(
            "SELECT id, spiff_task_id FROM human_task WHERE id > :last AND typeof(spiff_task_id) = :kind "
            "ORDER BY id LIMIT :n"), {"last": last, "kind": from_type, "n": BATCH}).all()
        if not rows:
            return
        changed = []
        for task_id, value in rows:
            try:
                changed.append({"i": task_id, "v": convert(value)})
            except (ValueError, TypeError):
                pass   # not a UUID: kept as text, as app.db.UUIDText writes it
        if changed:
            conn.execute(sa.text("UPDATE human_task SET spiff_task_id = :v WHERE id = :i"), changed)
        last = rows[-1][0]


def upgrade():
    conn = op.get_bind()
    null = "'null'::jsonb" if conn.dialect.name == "postgresql" else "'null'"
    for column in ("deadline", "draft"):
        op.execute(f"UPDATE human_task SET {column} = NULL WHERE {column} = {null}")
    if conn.dialect.name == "sqlite":
        _task_ids(conn, "text", lambda v: UUID(v).bytes)


def downgrade():
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        _task_ids(conn, "blob", lambda v: str(UUID(bytes=bytes(v))))
