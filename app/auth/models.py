"""Users, groups (roles, lanes, units), memberships and API tokens."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import UTCDateTime, utcnow
from app.extensions import db

ROLE_ADMIN = "admin"
ROLE_DESIGNER = "designer"
ROLE_SUPERVISOR = "supervisor"
ROLE_TITLES = {ROLE_ADMIN: "系统管理员", ROLE_DESIGNER: "流程设计员", ROLE_SUPERVISOR: "督办员"}


class GroupKind:
    ROLE = "role"   # admin, designer, supervisor
    LANE = "lane"   # a BPMN lane: 受理员, 分拨员, ...
    UNIT = "unit"   # an organisational unit (承办单位)


user_group = sa.Table(
    "user_group",
    db.metadata,
    sa.Column("user_id", sa.ForeignKey("user.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("group_id", sa.ForeignKey("group.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Group(db.Model):
    __tablename__ = "group"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)  # code, e.g. "intake"
    title: Mapped[str] = mapped_column(sa.String(100), index=True)  # 受理员; lanes match on it
    kind: Mapped[str] = mapped_column(sa.String(20), default=GroupKind.LANE)
    # the organisation tree (#15): a unit's parent unit and its level (city, district, town, village)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("group.id", ondelete="SET NULL"), index=True)
    level: Mapped[str | None] = mapped_column(sa.String(20))


class User(UserMixin, db.Model):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(80), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(100))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    email: Mapped[str | None] = mapped_column(sa.String(255))
    # an applicant's profile, prefilled into start forms (app/processes/applications.py)
    real_name: Mapped[str | None] = mapped_column(sa.String(50))
    phone: Mapped[str | None] = mapped_column(sa.String(30))
    enterprise_name: Mapped[str | None] = mapped_column(sa.String(200))
    enterprise_uscc: Mapped[str | None] = mapped_column(sa.String(18))
    is_active_user: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    # login protection (#15): consecutive failures, a temporary lockout, a forced password change
    failed_login_count: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    must_change_password: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    groups: Mapped[list[Group]] = relationship(secondary=user_group, lazy="selectin")

    @property
    def is_active(self) -> bool:  # Flask-Login
        return self.is_active_user

    @property
    def group_names(self) -> set[str]:
        return {g.name for g in self.groups}

    def has_role(self, role: str) -> bool:
        return any(g.name == role and g.kind == GroupKind.ROLE for g in self.groups)

    @property
    def is_admin(self) -> bool:
        return self.has_role(ROLE_ADMIN)


class ApiToken(db.Model):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)  # sha256 hex; the token is never stored
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")
