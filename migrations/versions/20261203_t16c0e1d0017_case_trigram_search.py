"""Trigram indexes for the substring search of cases (PostgreSQL only): case number, USCC, enterprise
name and title are searched with LIKE '%…%' (app.tasks.queries.text_search_clause: the case search,
the inbox's search, 已办's), which read all 200,000 cases of bench/million_bench.py (~60-75 ms);
pg_trgm's GIN indexes find them in a few (#16, part 3)

Revision ID: t16c0e1d0017
Revises: f6c9a3e2b019
Create Date: 2026-12-03 13:00:00

PostgreSQL: needs the pg_trgm extension (PostgreSQL's contrib; Debian's postgresql-15 package ships
it). It is a trusted extension: the database's owner, or anyone with CREATE on the database, may
create it; when this role may not, the migration stops with what to run instead. SQLite: nothing
(its LIKE keeps scanning the case table). Listed in app/cases/models.py (TRIGRAM_INDEXES), which
autogenerate skips.
"""
from alembic import op
import sqlalchemy as sa


revision = 't16c0e1d0017'
down_revision = 'f6c9a3e2b019'
branch_labels = None
depends_on = None

INDEXES = {"ix_case_number_trgm": "number", "ix_case_uscc_trgm": "uscc",
           "ix_case_company_name_trgm": "company_name", "ix_case_title_trgm": "title"}

NO_EXTENSION = (
    "迁移 t16c0e1d0017 需要 PostgreSQL 扩展 pg_trgm（案件编号、企业名称的模糊搜索索引），"
    "当前数据库用户无法创建：{error}\n"
    "pg_trgm is needed (trigram indexes of the case search) and this role cannot create it: {error}\n"
    "Install PostgreSQL's contrib modules if they are missing (Debian/Ubuntu: they come with the "
    "postgresql-NN package; RHEL: postgresqlNN-contrib), then as a superuser or the database's owner run\n"
    "    CREATE EXTENSION IF NOT EXISTS pg_trgm;\n"
    "in database {database}, and run `flask db upgrade` again (nothing of this migration was applied).")


def ensure_pg_trgm(bind) -> None:
    """CREATE EXTENSION pg_trgm unless it is there; a clear error (in a savepoint, so the message is
    ours and not 'current transaction is aborted') when this role may not create it."""
    if bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")).first():
        return
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        database = bind.execute(sa.text("SELECT current_database()")).scalar_one()
        error = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise RuntimeError(NO_EXTENSION.format(error=error, database=database)) from None


def upgrade():
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    ensure_pg_trgm(bind)
    for name, column in INDEXES.items():
        op.create_index(name, "case", [column], unique=False, postgresql_using="gin",
                        postgresql_ops={column: "gin_trgm_ops"})


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in INDEXES:
        op.drop_index(name, table_name="case")
    # the extension stays: another schema object may use it, and creating it needed a privilege
