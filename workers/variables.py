"""Reading process variables the way forms and the REST API deliver them (strings, ISO dates, None)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from workers.handler import Failure


def text(value: object) -> str | None:
    """A stripped string, or None for a missing or blank value."""
    result = str(value).strip() if value is not None else ""
    return result or None


def required(variables: dict[str, Any] | Any, name: str, topic: str) -> str:
    """A variable the job cannot do without; missing is the process's error, so no retries."""
    value = text(variables.get(name))
    if value is None:
        raise Failure(f"{topic}: the variable {name} is missing", retries=0)
    return value


def as_date(value: object) -> date | None:
    """A date from a date, a datetime or an ISO string ('2026-03-01' or '2026-03-01T10:00:00Z')."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
