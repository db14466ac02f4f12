"""Time in the engine: every datetime it hands out or compares is timezone-aware UTC.

SQLite keeps no zone, so stored timestamps come back naive, and diagrams may pass naive dates into
expressions; `aware` reads those as UTC once, here, so that no comparison ever mixes naive and aware.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import overload

Clock = Callable[[], datetime]
"""What the engine asks for the current time (tests and simulations pass their own)."""


def utcnow() -> datetime:
    """The real clock: now, aware UTC."""
    return datetime.now(UTC)


@overload
def aware(value: datetime) -> datetime: ...


@overload
def aware(value: None) -> None: ...


def aware(value: datetime | None) -> datetime | None:
    """A naive datetime read as UTC (aware ones are returned unchanged); None stays None."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
