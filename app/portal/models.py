"""A case filed through the public portal: the hash of its 查询码 (the code itself is shown once and
never stored), and the reporter's 好差评 rating, given once."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UTCDateTime, utcnow
from app.extensions import db


class PortalTicket(db.Model):
    __tablename__ = "portal_ticket"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case.id", ondelete="CASCADE"), unique=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))          # sha256 hex of the normalized 查询码
    entry: Mapped[str] = mapped_column(sa.String(40))              # the portal entry: lianzheng | ndrc
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    rating: Mapped[int | None] = mapped_column(sa.SmallInteger)    # 1..5, once
    rating_comment: Mapped[str | None] = mapped_column(sa.Text)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    supplement_count: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
