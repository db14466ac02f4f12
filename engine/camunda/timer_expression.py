"""When a Camunda 7 timer (timeDate / timeDuration / timeCycle) is due.

Timer values reach this module after expression evaluation. The result is a
`TimerSchedule` that the engine persists inside workflow state, so it keeps the
original cron text or ISO interval and round-trips through JSON exactly.
All datetimes are aware UTC; Quartz cron runs in UTC, not the server's zone.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import isodate
from croniter import croniter
from dateutil.relativedelta import relativedelta

from engine.camunda.bounds import shorten
from engine.errors import ExpressionError

KINDS = ("date", "duration", "cycle")
_ATTRIBUTES = {"date": "timeDate", "duration": "timeDuration", "cycle": "timeCycle"}

_CRON_WORD = re.compile(
    r"JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC|SUN|MON|TUE|WED|THU|FRI|SAT|LW|L|W"
)
_CRON_CHARS = re.compile(r"^[0-9A-Z*?,/#\-]+$")
_ISO_CYCLE = re.compile(r"^R(\d*)/(.+)$")


@dataclass(frozen=True)
class TimerSchedule:
    """One pending firing of a timer plus what is needed to compute the following ones.

    ISO cycles are anchored: occurrence n is due at `origin + n * interval`, so
    a monthly cycle started on Jan 31 fires Feb 28 and then Mar 31 (not Mar 28).
    """

    kind: str  # 'date' | 'duration' | 'cycle'
    first_due: datetime  # aware UTC
    remaining: int | None  # firings left after first_due (None = unbounded)
    cron: str | None = None  # Quartz text as written, for cron cycles
    interval: str | None = None  # ISO 8601 duration text, for ISO cycles
    origin: datetime | None = None  # anchor of an ISO cycle
    index: int = 0  # which occurrence of the ISO cycle first_due is

    def next_after(self, fired_at: datetime) -> TimerSchedule | None:
        """The schedule after this one fired, or None when the timer is exhausted (ExpressionError past year 9999)."""
        try:
            return self._next_after(fired_at)
        except (OverflowError, ArithmeticError, ValueError) as exc:
            if isinstance(exc, ExpressionError):
                raise
            raise ExpressionError(f"timeCycle {_show(self.cron or self.interval)} has no occurrence before the "
                                  "year 10000") from None

    def _next_after(self, fired_at: datetime) -> TimerSchedule | None:
        if self.kind != "cycle" or self.remaining == 0:
            return None
        remaining = None if self.remaining is None else self.remaining - 1
        if self.cron is not None:
            after = max(_utc(fired_at), self.first_due)
            return TimerSchedule(
                "cycle", _cron_next(self.cron, after), remaining, cron=self.cron
            )
        assert self.interval is not None and self.origin is not None
        step = _parse_duration(self.interval, "timeCycle")
        index = self.index + 1
        return TimerSchedule(
            "cycle",
            self.origin + step * index,
            remaining,
            interval=self.interval,
            origin=self.origin,
            index=index,
        )

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form for workflow state; `from_json` rebuilds an equal schedule."""
        return {
            "kind": self.kind,
            "first_due": self.first_due.isoformat(),
            "remaining": self.remaining,
            "cron": self.cron,
            "interval": self.interval,
            "origin": self.origin.isoformat() if self.origin else None,
            "index": self.index,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TimerSchedule:
        origin = d.get("origin")
        return cls(
            kind=d["kind"],
            first_due=_utc(datetime.fromisoformat(d["first_due"])),
            remaining=d.get("remaining"),
            cron=d.get("cron"),
            interval=d.get("interval"),
            origin=_utc(datetime.fromisoformat(origin)) if origin else None,
            index=int(d.get("index", 0)),
        )


def schedule(
    kind: str, value: str | datetime | timedelta, start: datetime
) -> TimerSchedule:
    """Schedule a timer armed at `start`; ExpressionError names an unusable value.

    A value whose due time Python's dates cannot hold (`P999999999999Y`, `P` and 5,000 digits)
    is an ExpressionError too, never an OverflowError from deep inside the date arithmetic.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown timer kind {kind!r}; expected one of {', '.join(KINDS)}")
    try:
        return _schedule(kind, value, _utc(start))
    except (OverflowError, ArithmeticError, ValueError) as exc:
        if isinstance(exc, ExpressionError):
            raise
        raise ExpressionError(f"{_ATTRIBUTES[kind]} {_show(value)} is out of range: a timer must be due "
                              "before the year 10000") from None


def _show(value: Any) -> str:
    """A value for a message, cut short: a 5,000-digit duration must not fill a log line."""
    return shorten(repr(value), 80)


def _schedule(kind: str, value: str | datetime | timedelta, start: datetime) -> TimerSchedule:
    if kind == "date":
        return TimerSchedule("date", _due_date(value), 0)
    if kind == "duration":
        step = _duration_value(value, "timeDuration")
        due = start + step
        if due < start:
            raise ExpressionError(f"timeDuration {_show(value)} is negative")
        return TimerSchedule("duration", due, 0)
    if kind == "cycle":
        if isinstance(value, timedelta):  # an evaluated duration repeats forever
            return _iso_cycle(
                None, isodate.duration_isoformat(value), None, start, str(value)
            )
        if not isinstance(value, str):
            raise ExpressionError(f"timeCycle {_show(value)} is not text")
        text = value.strip()
        m = _ISO_CYCLE.match(text)
        if m:
            return _parse_iso_cycle(m, start, text)
        if len(text.split()) in (6, 7):
            return TimerSchedule("cycle", _cron_next(text, start), None, cron=text)
        raise ExpressionError(
            f"timeCycle {_show(value)} is neither an ISO 8601 repeating interval "
            "(like R3/PT10M) nor a Quartz cron expression (like 0 0/5 * * * ?)"
        )
    raise AssertionError(kind)  # pragma: no cover - schedule() checked the kind


def check_literal(kind: str, text: str) -> None:
    """Deploy-time syntax check of a literal timer value (raises ExpressionError)."""
    schedule(kind, text, datetime.now(UTC))


# ---- dates and durations ---------------------------------------------------


def _utc(moment: datetime) -> datetime:
    """Naive datetimes are read as UTC; aware ones are converted to UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _due_date(value: Any, what: str = "timeDate") -> datetime:
    if isinstance(value, datetime):
        return _utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str) and value.strip():
        try:
            return _utc(datetime.fromisoformat(value.strip()))
        except ValueError:
            pass
    raise ExpressionError(
        f"{what} {_show(value)} is not an ISO 8601 date-time such as 2026-12-01T10:00:00Z"
    )


def _parse_duration(text: str, what: str) -> relativedelta:
    """ISO 8601 duration as a calendar-aware relativedelta (P1M from Jan 31 is Feb 28/29)."""
    try:
        parsed = isodate.parse_duration(text.strip())
    except (isodate.ISO8601Error, ValueError, TypeError) as exc:
        raise ExpressionError(
            f"{what} {_show(text)} is not an ISO 8601 duration such as PT1H, P30D or P1M"
        ) from exc
    if isinstance(parsed, timedelta):
        return _from_timedelta(parsed)
    years, months = parsed.years, parsed.months
    if years != int(years) or months != int(months):
        raise ExpressionError(
            f"{what} {_show(text)}: fractional years or months are not supported"
        )
    return relativedelta(years=int(years), months=int(months)) + _from_timedelta(
        parsed.tdelta
    )


def _from_timedelta(delta: timedelta) -> relativedelta:
    return relativedelta(
        days=delta.days, seconds=delta.seconds, microseconds=delta.microseconds
    )


def _duration_value(value: Any, what: str) -> relativedelta:
    if isinstance(value, timedelta):
        return _from_timedelta(value)
    if isinstance(value, str):
        return _parse_duration(value, what)
    raise ExpressionError(f"{what} {_show(value)} is not a duration")


# ---- ISO 8601 repeating intervals -------------------------------------------


def _parse_iso_cycle(m: re.Match[str], start: datetime, text: str) -> TimerSchedule:
    count = int(m.group(1)) if m.group(1) else None
    parts = m.group(2).split("/")
    if len(parts) == 1:
        return _iso_cycle(count, parts[0], None, start, text)
    if len(parts) == 2 and not parts[0].startswith("P"):
        origin = _due_date(parts[0], f"timeCycle {_show(text)}: start")
        if parts[1].startswith("P"):
            return _iso_cycle(count, parts[1], origin, start, text)
        end = _due_date(parts[1], f"timeCycle {_show(text)}: end")
        return _iso_cycle(
            count, isodate.duration_isoformat(end - origin), origin, start, text
        )
    raise ExpressionError(
        f"timeCycle {_show(text)} must be R[n]/duration, R[n]/start/duration or R[n]/start/end"
    )


def _iso_cycle(
    count: int | None,
    interval: str,
    origin: datetime | None,
    start: datetime,
    text: str,
) -> TimerSchedule:
    """Without a start the n firings are start+P .. start+nP; with one, origin .. origin+(n-1)P."""
    if count == 0:
        raise ExpressionError(
            f"timeCycle {_show(text)} repeats zero times, so it never fires"
        )
    step = _parse_duration(interval, "timeCycle")
    if start + step <= start:
        raise ExpressionError(f"timeCycle {_show(text)} needs a positive interval")
    first = 1 if origin is None else 0
    anchor = start if origin is None else origin
    index = first if origin is None else _first_index_not_before(anchor, step, start)
    remaining = None
    if count is not None:
        remaining = first + count - 1 - index
        if remaining < 0:
            raise ExpressionError(
                f"timeCycle {_show(text)}: every repetition is already in the past"
            )
    return TimerSchedule(
        "cycle",
        anchor + step * index,
        remaining,
        interval=interval,
        origin=anchor,
        index=index,
    )


def _first_index_not_before(
    origin: datetime, step: relativedelta, start: datetime
) -> int:
    """Smallest n with origin + n*step >= start, without walking a long past one step at a time."""
    if origin >= start:
        return 0
    approx = (origin + step - origin).total_seconds()
    index = max(0, math.floor((start - origin).total_seconds() / approx) - 2)
    while index > 0 and origin + step * index >= start:
        index -= 1
    while origin + step * index < start:
        index += 1
    return index


# ---- Quartz cron ----------------------------------------------------------


def _cron_next(text: str, after: datetime) -> datetime:
    """Next Quartz cron time strictly after `after`, in UTC."""
    expr = quartz_to_croniter(text)
    try:
        it = croniter(expr, _utc(after), second_at_beginning=True)
        return _utc(it.get_next(datetime))
    except Exception as exc:  # croniter raises several unrelated types for bad input
        raise ExpressionError(
            f"timeCycle {_show(text)} is not a usable cron expression: {exc}"
        ) from exc


def quartz_to_croniter(text: str) -> str:
    """Rewrite Quartz cron (seconds first, `?`, 1=Sunday) for croniter's seconds-first mode."""
    fields = text.strip().upper().split()
    if len(fields) not in (6, 7):
        raise ExpressionError(
            f"cron {_show(text)} needs 6 or 7 fields (seconds first, as in Quartz)"
        )
    for field in fields:
        words = re.findall(r"[A-Z]+", field)
        if not _CRON_CHARS.match(field) or not all(map(_CRON_WORD.fullmatch, words)):
            raise ExpressionError(
                f"cron {_show(text)}: field {field!r} is not Quartz syntax"
            )
    dom, dow = fields[3], fields[5]
    if dom == "?" and dow == "?":
        raise ExpressionError(
            f"cron {_show(text)}: only one of day-of-month and day-of-week may be '?'"
        )
    if dom not in ("?", "*") and dow not in ("?", "*"):
        raise ExpressionError(
            f"cron {_show(text)}: put '?' in day-of-month or day-of-week (Quartz cannot combine both)"
        )
    fields[3] = "*" if dom == "?" else dom
    fields[5] = (
        "*" if dow == "?" else ",".join(_dow_token(t, text) for t in dow.split(","))
    )
    return " ".join(fields)


def _dow_token(token: str, text: str) -> str:
    """Quartz numbers weekdays 1 (Sunday) to 7 (Saturday); croniter uses 0 to 6."""
    if token == "L":  # alone in day-of-week, L means the last day of the week
        return "6"
    m = re.fullmatch(r"(\d+)L", token)
    if m:  # 6L: last Friday of the month
        return f"L{_dow_number(m.group(1), text)}"
    m = re.fullmatch(r"(\d+)#(\d+)", token)
    if m:  # 2#1: first Monday of the month
        return f"{_dow_number(m.group(1), text)}#{m.group(2)}"
    base, slash, step = token.partition("/")
    base = re.sub(r"\d+", lambda n: str(_dow_number(n.group(0), text)), base)
    return f"{base}{slash}{step}"


def _dow_number(number: str, text: str) -> int:
    value = int(number)
    if not 1 <= value <= 7:
        raise ExpressionError(
            f"cron {_show(text)}: day-of-week numbers run from 1 (SUN) to 7 (SAT)"
        )
    return value - 1
