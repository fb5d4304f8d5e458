"""SQLite: every UTC datetime as integer microseconds since the epoch instead of 26 characters of text
(#16: bytes per completed instance; app.db.UTCDateTime)

Revision ID: d4a7e1c0f017
Revises: c17b0f0e0016
Create Date: 2026-12-03 13:20:00

The columns keep their declared type (DATETIME); only the stored values change, so nothing is
rebuilt. PostgreSQL (timestamptz, 8 bytes) is not touched. Every DATETIME column of the schema is a
UTCDateTime (naive UTC text, always with six digits of microseconds as SQLAlchemy writes it).
"""
from alembic import op


revision = 'd4a7e1c0f017'
down_revision = 'c17b0f0e0016'
branch_labels = None
depends_on = None

_TO_MICROS = ("CAST(strftime('%s', substr({c}, 1, 19)) AS INTEGER) * 1000000"
              " + CAST(substr({c} || '.000000', 21, 6) AS INTEGER)")
_TO_TEXT = ("strftime('%Y-%m-%d %H:%M:%S', {c} / 1000000, 'unixepoch')"
            " || '.' || printf('%06d', {c} % 1000000)")


def _datetime_columns(conn):
    tables = [name for (name,) in conn.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "AND name != 'alembic_version'")]
    for table in tables:
        for row in conn.exec_driver_sql(f'PRAGMA table_info("{table}")'):
            if (row[2] or "").upper() == "DATETIME":
                yield table, row[1]


def _convert(from_type: str, expression: str) -> None:
    conn = op.get_bind()
    if conn.dialect.name != "sqlite":
        return
    for table, column in list(_datetime_columns(conn)):
        c = f'"{column}"'
        conn.exec_driver_sql(f'UPDATE "{table}" SET {c} = {expression.format(c=c)} '
                             f"WHERE typeof({c}) = '{from_type}'")


def upgrade():
    _convert("text", _TO_MICROS)


def downgrade():
    _convert("integer", _TO_TEXT)
