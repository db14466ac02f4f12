"""Finnish time: timestamps are stored in UTC, but a due date, a period or "today" is a day on the calendar
staff and clients in Finland live by."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

HELSINKI = ZoneInfo("Europe/Helsinki")


def finnish_day(moment: datetime) -> date:
    """The calendar day in Finland at `moment` (an aware timestamp)."""
    return moment.astimezone(HELSINKI).date()
