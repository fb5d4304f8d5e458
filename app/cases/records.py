"""Comments and attachments of a case (工单/案件): what people add beside the process data.

Attachment bytes live in the database (LargeBinary, deferred): the database is the one store every
node of a multi-host deployment shares and backs up, an upload commits or rolls back with its case,
and uploads are capped (MAX_ATTACHMENT_BYTES, 10 MB by default), so rows stay reasonable.
"""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import UTCDateTime, utcnow
from app.extensions import db


class Comment(db.Model):
    __tablename__ = "comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(sa.ForeignKey("case.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    body: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Attachment(db.Model):
    """An uploaded file. `case_id` is None only between an upload on a start form and the start of
    the case it belongs to; until then only its uploader may read it."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case.id", ondelete="CASCADE"), index=True)
    human_task_id: Mapped[int | None] = mapped_column(sa.ForeignKey("human_task.id"))
    field: Mapped[str | None] = mapped_column(sa.String(200))          # the form field it was uploaded for
    filename: Mapped[str] = mapped_column(sa.String(255))              # as the uploader named it (display only)
    content_type: Mapped[str] = mapped_column(sa.String(100))          # detected from the content, not trusted
    size: Mapped[int] = mapped_column(sa.Integer)
    sha256: Mapped[str] = mapped_column(sa.String(64))
    content: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)   # read only to download
    uploaded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
