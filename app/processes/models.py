"""Deployed process versions and running process instances."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from app.db import JSONType, UTCDateTime, utcnow
from app.extensions import db


class InstanceStatus:
    RUNNING = "running"
    COMPLETED = "completed"
    ERROR = "error"
    SUSPENDED = "suspended"
    CANCELLED = "cancelled"


class ProcessDefinition(db.Model):
    """One deployed version of one BPMN process; the spec is stored here once, not per instance."""

    __tablename__ = "process_definition"
    __table_args__ = (sa.UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(100), index=True)  # BPMN process id
    version: Mapped[int] = mapped_column(sa.Integer)
    name: Mapped[str] = mapped_column(sa.String(200))
    content_hash: Mapped[str] = mapped_column(sa.String(64))
    source_file: Mapped[str] = mapped_column(sa.String(255))
    bpmn_xml: Mapped[str] = mapped_column(sa.Text)
    dmn_xml: Mapped[dict] = mapped_column(JSONType, default=dict)   # {filename: xml}
    # {file name: BPMN XML} of the other files its call activities use (its model's, deployed ones')
    called_xml: Mapped[dict | None] = mapped_column(JSONType, default=dict)
    forms: Mapped[dict] = mapped_column(JSONType, default=dict)     # {form path: JSON} snapshot
    meta: Mapped[dict] = mapped_column(JSONType, default=dict)      # user tasks, start form, starters
    message: Mapped[str | None] = mapped_column(sa.Text)
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deployed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))


class ProcessInstance(db.Model):
    """A running (or finished) workflow; its serialized state excludes the spec."""

    __tablename__ = "process_instance"
    __table_args__ = (   # the instance list's default order; an applicant's applications (我的申请)
        sa.Index("ix_process_instance_started_at", "started_at"),
        sa.Index("ix_process_instance_started_by_id_started_at", "started_by_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(sa.ForeignKey("process_definition.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(sa.ForeignKey("case.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(20), default=InstanceStatus.RUNNING, index=True)
    # zlib-compressed JSON without the spec; deferred: the engine reads it only on a cache miss
    state: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    serializer_version: Mapped[str] = mapped_column(sa.String(10))
    rev: Mapped[int] = mapped_column(sa.Integer, default=1)  # optimistic lock, +1 per action
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    error_element: Mapped[str | None] = mapped_column(sa.String(255))
    error_line: Mapped[int | None] = mapped_column(sa.Integer)
    error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))   # case search: ix_process_instance_started_by_id_started_at
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __mapper_args__ = {"version_id_col": rev}
