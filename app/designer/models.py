"""A designer's unsaved work: one draft diagram per user and process key."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UTCDateTime, utcnow
from app.extensions import db


class DesignerDraft(db.Model):
    __tablename__ = "designer_draft"
    __table_args__ = (sa.UniqueConstraint("user_id", "process_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    process_key: Mapped[str] = mapped_column(sa.String(100))
    bpmn_xml: Mapped[str] = mapped_column(sa.Text)
    base_version: Mapped[int | None] = mapped_column(sa.Integer)   # the version the draft was started from
    message: Mapped[str | None] = mapped_column(sa.Text)           # the deploy message being written
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
