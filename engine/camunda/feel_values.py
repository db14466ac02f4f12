"""FEEL value semantics: equality, ordering, arithmetic, built-in functions.

Process variables arrive from JSON, so numbers may be int, float or Decimal and dates
may still be ISO strings; these helpers reconcile such mixes instead of failing, and
return `None` (FEEL null) where FEEL says a comparison has no answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import isodate

from engine.camunda import bounds
from engine.errors import ExpressionError

_TEMPORAL = (date, time, timedelta, isodate.Duration)
_PLAIN = frozenset({str, int, float, bool, Decimal, date, datetime, time, timedelta})
_ORDERED = frozenset({str, int, float, Decimal, date, time, timedelta})
_FAST_NUMBERS = frozenset({int, float})
_DATE_PROPS = {
    "year": lambda d: d.year,
    "month": lambda d: d.month,
    "day": lambda d: d.day,
    "weekday": lambda d: d.isoweekday(),
}
_TIME_PROPS = {
    "hour": lambda t: t.hour,
    "minute": lambda t: t.minute,
    "second": lambda t: t.second,
}
_DURATION_PROPS = {
    "days": lambda d: d.days,
    "hours": lambda d: d.seconds // 3600,
    "minutes": lambda d: d.seconds // 60 % 60,
    "seconds": lambda d: d.seconds % 60,
}


def is_number(value: Any) -> bool:
    """True for int/float/Decimal but not bool (Python's bool is an int, FEEL's is not)."""
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def type_name(value: Any) -> str:
    """The FEEL name of a value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, datetime):
        return "date and time"
    if isinstance(value, date):
        return "date"
    if isinstance(value, time):
        return "time"
    if isinstance(value, (timedelta, isodate.Duration)):
        return "duration"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, Mapping):
        return "context"
    return type(value).__name__


def parse_temporal(text: str, like: Any) -> Any:
    """Parse an ISO string into the temporal type of `like`; None when it does not parse."""
    try:
        if isinstance(like, datetime):
            return datetime.fromisoformat(text)
        if isinstance(like, date):
            return date.fromisoformat(text)
        if isinstance(like, time):
            return time.fromisoformat(text)
    except ValueError:
        return None
    return None


def _align(a: Any, b: Any) -> tuple[Any, Any]:
    """Bring a mixed pair (Decimal/float, date/ISO string) to comparable types."""
    ta, tb = type(a), type(b)
    if ta is tb:
        return a, b
    if ta is Decimal and tb is float:
        return a, Decimal(repr(b))
    if ta is float and tb is Decimal:
        return Decimal(repr(a)), b
    if ta is str and isinstance(b, (date, time)):
        return parse_temporal(a, b), b
    if tb is str and isinstance(a, (date, time)):
        return a, parse_temporal(b, a)
    return a, b


def _comparable(a: Any, b: Any) -> bool:
    """Whether FEEL defines an order/equality between the two (bools only with bools)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b)
    if is_number(a):
        return is_number(b)
    if is_number(b) or isinstance(a, str) != isinstance(b, str):
        return False
    return isinstance(a, datetime) == isinstance(b, datetime)


def equals(a: Any, b: Any) -> bool:
    """FEEL `=`: null equals only null; values of different types are never equal."""
    ta = type(a)
    if ta is type(b) and ta in _PLAIN:
        return bool(a == b)
    if a is None or b is None:
        return a is b
    a, b = _align(a, b)
    if a is None or b is None or not _comparable(a, b):
        return False
    try:
        return bool(a == b)
    except TypeError:
        return False


def compare(a: Any, b: Any) -> int | None:
    """-1/0/1 ordering of a and b, or None when FEEL has no order for them (null)."""
    ta, tb = type(a), type(b)
    if (ta is tb and ta in _ORDERED) or (ta in _FAST_NUMBERS and tb in _FAST_NUMBERS):
        return -1 if a < b else (1 if a > b else 0)
    if a is None or b is None:
        return None
    if ta is not tb:
        a, b = _align(a, b)
        if a is None or b is None or not _comparable(a, b):
            return None
    elif type(a) is bool:
        return None
    try:
        return -1 if a < b else (1 if a > b else 0)
    except TypeError:
        return None


def arithmetic(op: str, a: Any, b: Any) -> Any:
    """FEEL `+ - * /` over numbers, strings (`+` only) and dates/durations."""
    if a is None or b is None:
        return None
    if is_number(a) and is_number(b):
        a, b = _align(a, b)
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return bounds.multiply(a, b)
        if b == 0:
            return None
        if type(a) is int and type(b) is int:
            return a // b if a % b == 0 else a / b
        return a / b
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return bounds.add(a, b)
    temporal = isinstance(a, _TEMPORAL) or isinstance(b, _TEMPORAL)
    if temporal and not isinstance(a, bool) and not isinstance(b, bool):
        try:
            result = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b}[op]()
            if not isinstance(result, str):
                return result
        except (TypeError, KeyError, OverflowError, ValueError):
            pass
    raise ExpressionError(f"cannot apply '{op}' to {type_name(a)} and {type_name(b)}")


def negate(value: Any) -> Any:
    """FEEL unary minus."""
    if value is None:
        return None
    if is_number(value) or isinstance(value, (timedelta, isodate.Duration)):
        return -value
    raise ExpressionError(f"cannot negate {type_name(value)}")


def logical_not(value: Any) -> bool | None:
    """FEEL not(): non-booleans give null."""
    return (not value) if isinstance(value, bool) else None


def get_property(value: Any, name: str) -> Any:
    """`a.b`: context entries and a few date/time/duration properties; otherwise null."""
    if isinstance(value, Mapping):
        return value.get(name)
    table: dict[str, Any] = {}
    if isinstance(value, datetime):
        table = {**_DATE_PROPS, **_TIME_PROPS}
    elif isinstance(value, date):
        table = _DATE_PROPS
    elif isinstance(value, time):
        table = _TIME_PROPS
    elif isinstance(value, timedelta):
        table = _DURATION_PROPS
    getter = table.get(name)
    return getter(value) if getter else None


@dataclass(frozen=True, slots=True)
class Range:
    """An interval value such as `[250..1000[`; tests membership by FEEL ordering."""

    low: Any
    high: Any
    low_closed: bool
    high_closed: bool

    def contains(self, value: Any) -> bool | None:
        low = compare(value, self.low)
        high = compare(value, self.high)
        if low is None or high is None:
            return None
        return (low > 0 or (low == 0 and self.low_closed)) and (high < 0 or (high == 0 and self.high_closed))


# -- built-in functions ----------------------------------------------------------------


def _arg_text(fn: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ExpressionError(f"{fn}() expects a string, got {type_name(value)}")
    return value.strip()


def _date(*args: Any) -> Any:
    if len(args) == 3:
        try:
            return date(*(int(a) for a in args))
        except (TypeError, ValueError, ArithmeticError) as exc:
            raise ExpressionError(f"date(): {bounds.readable(exc)}") from None
    if len(args) != 1:
        raise ExpressionError("date() takes one or three arguments")
    if args[0] is None:
        return None
    if isinstance(args[0], datetime):
        return args[0].date()
    if isinstance(args[0], date):
        return args[0]
    try:
        return date.fromisoformat(_arg_text("date", args[0]))
    except ValueError:
        raise ExpressionError(f"date(): invalid date {args[0]!r}") from None


def _date_and_time(*args: Any) -> Any:
    if len(args) != 1:
        raise ExpressionError("date and time() takes one argument")
    if args[0] is None or isinstance(args[0], datetime):
        return args[0]
    try:
        return datetime.fromisoformat(_arg_text("date and time", args[0]))
    except ValueError:
        raise ExpressionError(f"date and time(): invalid date and time {args[0]!r}") from None


def _time(*args: Any) -> Any:
    if len(args) != 1:
        raise ExpressionError("time() takes one argument")
    if args[0] is None or isinstance(args[0], time):
        return args[0]
    try:
        return time.fromisoformat(_arg_text("time", args[0]))
    except ValueError:
        raise ExpressionError(f"time(): invalid time {args[0]!r}") from None


def _duration(*args: Any) -> Any:
    if len(args) != 1:
        raise ExpressionError("duration() takes one argument")
    if args[0] is None:
        return None
    try:
        return isodate.parse_duration(_arg_text("duration", args[0]))
    except (isodate.ISO8601Error, ValueError):
        raise ExpressionError(f"duration(): invalid duration {bounds.shorten(repr(args[0]))}") from None
    except ArithmeticError:
        raise ExpressionError(f"duration(): {bounds.shorten(repr(args[0]))} is out of range") from None


def _string(*args: Any) -> Any:
    if len(args) != 1:
        raise ExpressionError("string() takes one argument")
    value = args[0]
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (timedelta, isodate.Duration)):
        return isodate.duration_isoformat(value)
    return str(value)


def _number(*args: Any) -> Any:
    if len(args) != 1:
        raise ExpressionError("number() takes one argument")
    value = args[0]
    if value is None or is_number(value):
        return value
    text = _arg_text("number", value)
    try:
        return int(text)
    except ValueError:
        pass
    try:
        decimal = Decimal(text)
    except (InvalidOperation, ValueError):
        return None
    if not decimal.is_finite():  # NaN and Infinity are not FEEL numbers
        return None
    number = float(decimal)
    if number in (float("inf"), float("-inf")):
        raise ExpressionError(f"number(): {bounds.shorten(repr(text))} is out of range")
    return number


BUILTINS = {
    "date": _date,
    "date and time": _date_and_time,
    "time": _time,
    "duration": _duration,
    "string": _string,
    "number": _number,
}
