"""Base model with a naming convention, one UTC datetime type, and utcnow()."""
from datetime import datetime, timedelta, timezone
from uuid import UUID

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


EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MICROSECOND = timedelta(microseconds=1)


class _SQLiteMicroseconds(sa.types.UserDefinedType):
    """SQLite's storage of UTCDateTime: whole microseconds since 1970-01-01 UTC, an 8-byte integer, in a
    column still declared DATETIME. The text SQLAlchemy writes by default ("2026-12-03 12:46:37.744421")
    takes 26 bytes in the row and again in every index that holds the column; a completed instance
    stores about 35 of them (issue #16: bytes per completed instance). Integers order the same way
    and compare exactly; PostgreSQL's timestamptz is 8 bytes already."""

    cache_ok = True

    def get_col_spec(self, **kw):
        return "DATETIME"

    def literal_processor(self, dialect):
        return lambda value: str(int(value))


def to_microseconds(value: datetime) -> int:
    """An aware datetime as SQLite stores it (see _SQLiteMicroseconds)."""
    return (value - EPOCH) // _MICROSECOND


class UTCDateTime(sa.types.TypeDecorator):
    """Aware UTC datetimes on both SQLite (integer microseconds, _SQLiteMicroseconds) and PostgreSQL
    (timestamptz)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SQLiteMicroseconds())
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        if dialect.name == "sqlite":
            return to_microseconds(value)
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, (int, float)):
            return EPOCH + timedelta(microseconds=int(value))
        if isinstance(value, str):   # text a migration has not converted (never written since)
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class _SQLiteUUID(sa.types.UserDefinedType):
    """SQLite's storage of UUIDText: the 16 bytes of a UUID, in a column still declared VARCHAR(36)."""

    cache_ok = True

    def get_col_spec(self, **kw):
        return "VARCHAR(36)"


class UUIDText(sa.types.TypeDecorator):
    """A UUID kept as its text in Python (a SpiffWorkflow task id), stored on SQLite as its 16 bytes
    instead of 36 characters, in the row and in the unique index (issue #16: bytes per completed
    instance). Text that is not a UUID is stored as it is; both are read back as the same text."""

    impl = sa.String(36)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_SQLiteUUID())
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value, dialect):
        if value is None or dialect.name != "sqlite":
            return value
        try:
            return UUID(value).bytes
        except (ValueError, AttributeError, TypeError):
            return value

    def process_result_value(self, value, dialect):
        if isinstance(value, bytes):
            return str(UUID(bytes=value))
        return value


def set_committed(obj, **values) -> None:
    """Show what a Core UPDATE just wrote on an already-loaded object, without marking it dirty."""
    for key, value in values.items():
        set_committed_value(obj, key, value)


JSONType = sa.JSON().with_variant(JSONB(), "postgresql")
# a column whose None is SQL NULL, not the JSON text null (4 bytes, and IS NULL does not find it)
NullableJSON = sa.JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")
