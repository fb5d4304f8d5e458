"""The case record (工单/案件) a process instance works on."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UTCDateTime, utcnow
from app.extensions import db


class CaseStatus:
    OPEN = "open"
    CLOSED = "closed"
    ERROR = "error"
    CANCELLED = "cancelled"   # its instance was cancelled (closed_at stays empty: not 办结)


class Case(db.Model):
    __tablename__ = "case"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str | None] = mapped_column(sa.String(40), unique=True)  # JM-2026-1121-000123
    process_key: Mapped[str] = mapped_column(sa.String(100))   # indexed first in ix_case_process_key_*
    title: Mapped[str | None] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(20), default=CaseStatus.OPEN, index=True)
    channel: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    district: Mapped[str | None] = mapped_column(sa.String(40), index=True)
    company_name: Mapped[str | None] = mapped_column(sa.String(200))
    uscc: Mapped[str | None] = mapped_column(sa.String(18), index=True)
    unit: Mapped[str | None] = mapped_column(sa.String(100), index=True)   # 承办单位 group name, once dispatched
    is_confidential: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)   # case search
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


# The substring search (LIKE '%…%': app.tasks.queries.text_search_clause, the inbox's search, 已办's)
# on PostgreSQL reads trigram GIN indexes (pg_trgm) instead of every case: created by migration
# t16c0e1d0017 on PostgreSQL only (SQLite keeps scanning the case table, which has no such index).
# They are not Index objects of the model (create_all on SQLite could not build them); autogenerate
# and `flask db check` skip them by name (include_in_autogenerate, migrations/env.py).
TRIGRAM_INDEXES = {"ix_case_number_trgm": "number", "ix_case_uscc_trgm": "uscc",
                   "ix_case_company_name_trgm": "company_name", "ix_case_title_trgm": "title"}


def include_in_autogenerate(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's include_object: everything but the PostgreSQL-only trigram indexes above."""
    return not (type_ == "index" and name in TRIGRAM_INDEXES)
