"""Base model with a naming convention, one UTC datetime type, and utcnow()."""
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.orm.attributes import set_committed_value

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


_clock = None   # tests inject one with set_clock(); production reads the real time


def utcnow() -> datetime:
    """The one clock of the application (aware, UTC): services, scripts and BPMN timers all read it."""
    return _clock() if _clock is not None else datetime.now(timezone.utc)


def set_clock(clock) -> None:
    """Make utcnow() return clock() (a function giving an aware datetime); None restores real time.
    For tests and simulations: the process has one clock."""
    global _clock
    _clock = clock


class UTCDateTime(sa.types.TypeDecorator):
    """Aware UTC datetimes on both SQLite (stored naive UTC) and PostgreSQL (timestamptz)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


def set_committed(obj, **values) -> None:
    """Show what a Core UPDATE just wrote on an already-loaded object, without marking it dirty."""
    for key, value in values.items():
        set_committed_value(obj, key, value)


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
