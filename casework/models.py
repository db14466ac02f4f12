"""The casework tables' declarative base (their own metadata, apart from the engine's) and shared column types.

The engine is a generic BPMN runtime: its metadata holds its own tables only. Casework tables that point
at an engine table (a client case is an engine case) name the engine's column object in the foreign key,
so the reference resolves across the two metadata objects; Alembic compares the schema against both.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Enum
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from engine.clock import aware
from engine.models import enum_column


class CaseworkBase(DeclarativeBase):
    """Base of every casework table; `CaseworkBase.metadata` is the casework schema."""


def enum_type(cls: type[enum.Enum]) -> Enum:
    """Casework enums get longer value strings than the engine's."""
    return enum_column(cls, length=40)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, also on SQLite (which drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("casework timestamps must be timezone-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return aware(value)
