"""Reading values as process variables deliver them (forms and the REST API): strings, ISO dates, None."""

from __future__ import annotations

from datetime import date, datetime


def text(value: object) -> str | None:
    """A stripped string, or None for a missing or blank value."""
    result = str(value).strip() if value is not None else ""
    return result or None


def as_date(value: object) -> date | None:
    """A date from a date, a datetime or an ISO string ('2026-03-01' or '2026-03-01T10:00:00Z'); else None."""
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
