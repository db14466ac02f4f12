"""JUEL values and semantics: coercion rules, operators, whitelisted methods, dateTime().

Pure functions over plain Python values, kept apart from the node table in
`juel_runtime` so each rule can be read (and tested) next to its JUEL counterpart.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from dateutil.relativedelta import relativedelta

from engine.camunda import bounds
from engine.clock import aware
from engine.errors import ExpressionError

_NUMERIC = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INT = re.compile(r"[+-]?\d+")


class UnknownVariable(ExpressionError):
    """A top-level name is not a variable; `empty` turns this into true."""


class DateTime:
    """The `dateTime()` value: a small immutable stand-in for Joda's DateTime."""

    __slots__ = ("value",)

    def __init__(self, value: datetime) -> None:
        self.value = value

    def shift(self, **delta: int) -> DateTime:
        # relativedelta clamps month ends like Joda: Jan 31 + 1 month = Feb 28/29
        return DateTime(self.value + relativedelta(**delta))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DateTime) and other.value == self.value

    def __hash__(self) -> int:
        return hash(self.value)

    def __repr__(self) -> str:
        return f"DateTime({self.value.isoformat()})"


class Execution:
    """The `execution` object: read-only access to the variables by name."""

    __slots__ = ("variables",)

    def __init__(self, variables: Mapping[str, Any]) -> None:
        self.variables = variables


def describe(value: Any) -> str:
    """Short JUEL-ish rendering of a value for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if is_number(value):
        return str(value)
    return type(value).__name__


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def to_number(value: Any) -> int | float | Decimal:
    """JUEL number coercion: null and '' are 0, numeric strings are parsed."""
    if is_number(value):
        return value
    if value is None:
        return 0
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0
        if _INT.fullmatch(text):
            if len(text) > bounds.INT_TEXT_DIGITS:
                raise ExpressionError(f"Cannot coerce a text of {len(text):,} digits to a number")
            return int(text)
        if _NUMERIC.fullmatch(text):
            return float(text)
    raise ExpressionError(f"Cannot coerce {describe(value)} to a number")


def to_bool(value: Any) -> bool:
    """JUEL boolean coercion: null and '' are false, strings must read 'true'."""
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip().lower() == "true"
    raise ExpressionError(f"Cannot coerce {describe(value)} to a boolean")


def to_text(value: Any) -> str:
    """JUEL string coercion, used for composite text like `Hello ${name}`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, DateTime):
        return value.value.isoformat()
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def export(value: Any) -> Any:
    """Turn internal wrappers into plain values before they leave the evaluator."""
    if isinstance(value, DateTime):
        return value.value
    if isinstance(value, Execution):
        raise ExpressionError("'execution' cannot be used as a value")
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, DateTime):
        return value.value
    if isinstance(value, datetime):
        return aware(value)
    return value


def _numeric_pair(a: Any, b: Any) -> tuple[Any, Any]:
    a, b = to_number(a), to_number(b)
    if isinstance(a, Decimal) != isinstance(b, Decimal):
        return float(a), float(b)
    return a, b


def equals(a: Any, b: Any) -> bool:
    """JUEL `==`: null only equals null, then numbers, booleans, strings are coerced."""
    a, b = _plain(a), _plain(b)
    if a is None or b is None:
        return a is b
    if is_number(a) or is_number(b):
        x, y = _numeric_pair(a, b)
        return x == y
    if isinstance(a, bool) or isinstance(b, bool):
        return to_bool(a) == to_bool(b)
    if isinstance(a, str) or isinstance(b, str):
        return to_text(a) == to_text(b)
    return a == b


def compare(op: type[ast.cmpop], a: Any, b: Any) -> bool:
    """JUEL ordering: false against null, numbers and strings coerced as in JUEL."""
    if op is ast.Eq:
        return equals(a, b)
    if op is ast.NotEq:
        return not equals(a, b)
    a, b = _plain(a), _plain(b)
    if a is None or b is None:
        return a is b and op in (ast.LtE, ast.GtE)
    if is_number(a) or is_number(b):
        a, b = _numeric_pair(a, b)
    elif isinstance(a, str) or isinstance(b, str):
        a, b = to_text(a), to_text(b)
    try:
        if op is ast.Lt:
            return a < b
        if op is ast.Gt:
            return a > b
        if op is ast.LtE:
            return a <= b
        return a >= b
    except TypeError:
        raise ExpressionError(f"Cannot compare {describe(a)} with {describe(b)}") from None


def arithmetic(op: type[ast.operator], a: Any, b: Any) -> Any:
    """JUEL arithmetic is numeric only; `/` is always a float, `%` keeps the dividend's sign."""
    both_text = isinstance(a, str) and isinstance(b, str)
    if op is ast.Add and both_text and not (_NUMERIC.fullmatch(a.strip() or "0")
                                            and _NUMERIC.fullmatch(b.strip() or "0")):
        raise ExpressionError(
                f"'+' adds numbers; cannot add {describe(a)} and {describe(b)} "
                "(write composite text such as 'Hello ${name}' to join strings)"
            )
    x, y = _numeric_pair(a, b)
    if op is ast.Add:
        return x + y
    if op is ast.Sub:
        return x - y
    if op is ast.Mult:
        return bounds.multiply(x, y)
    if y == 0:
        raise ExpressionError("Division by zero")
    if op is ast.Div:
        return x / y if isinstance(x, Decimal) else float(x) / float(y)
    if isinstance(x, int) and isinstance(y, int):
        rest = abs(x) % abs(y)
        return rest if x >= 0 else -rest
    return math.fmod(x, y) if not isinstance(x, Decimal) else x % y


def _int_arg(value: Any) -> int:
    return int(to_number(value))


def _index(container: list | tuple, key: Any) -> Any:
    if isinstance(key, bool):
        raise ExpressionError(f"Cannot use {describe(key)} as a list index")
    idx = int(to_number(key))
    return container[idx] if 0 <= idx < len(container) else None


def _list_get(container: list | tuple, key: Any) -> Any:
    idx = _int_arg(key)
    if not 0 <= idx < len(container):
        raise ExpressionError(f"Index {idx} is out of range for a list of size {len(container)}")
    return container[idx]


Method = tuple[int, Callable[..., Any]]


def _shift(unit: str, sign: int) -> Method:
    return 1, lambda d, n: d.shift(**{unit: sign * _int_arg(n)})


_DATETIME: dict[str, Method] = {
    **{f"plus{u.capitalize()}": _shift(u, 1) for u in
       ("days", "weeks", "months", "years", "hours", "minutes", "seconds")},
    **{f"minus{u.capitalize()}": _shift(u, -1) for u in
       ("days", "weeks", "months", "years", "hours", "minutes", "seconds")},
    "toDate": (0, lambda d: d.value),
    "toString": (0, lambda d: d.value.isoformat()),
}
_STRING: dict[str, Method] = {
    "equalsIgnoreCase": (1, lambda s, o: isinstance(o, str) and s.casefold() == o.casefold()),
    "contains": (1, lambda s, o: to_text(o) in s),
    "startsWith": (1, lambda s, o: s.startswith(to_text(o))),
    "endsWith": (1, lambda s, o: s.endswith(to_text(o))),
    "length": (0, len),
    "isEmpty": (0, lambda s: s == ""),
    "toUpperCase": (0, str.upper),
    "toLowerCase": (0, str.lower),
    "trim": (0, str.strip),
}
_LIST: dict[str, Method] = {
    "size": (0, len),
    "contains": (1, lambda c, o: any(equals(item, o) for item in c)),
    "isEmpty": (0, lambda c: len(c) == 0),
    "get": (1, _list_get),
}
_MAP: dict[str, Method] = {
    "size": (0, len),
    "contains": (1, lambda m, k: k in m),
    "containsKey": (1, lambda m, k: k in m),
    "isEmpty": (0, lambda m: len(m) == 0),
    "get": (1, lambda m, k: m.get(k)),
}
_EXECUTION: dict[str, Method] = {
    "getVariable": (1, lambda e, name: e.variables.get(to_text(name))),
    "getVariables": (0, lambda e: dict(e.variables)),
    "hasVariable": (1, lambda e, name: to_text(name) in e.variables),
}
_ANY: dict[str, Method] = {"equals": (1, lambda a, b: _plain(a) == _plain(b))}


def _methods_for(receiver: Any) -> tuple[str, dict[str, Method]]:
    if isinstance(receiver, str):
        return "a string", _STRING
    if isinstance(receiver, (list, tuple, set, frozenset)):
        return "a list", _LIST
    if isinstance(receiver, Mapping):
        return "a map", _MAP
    if isinstance(receiver, DateTime):
        return "dateTime()", _DATETIME
    if isinstance(receiver, Execution):
        return "execution", _EXECUTION
    return describe(receiver), {}


def call_method(receiver: Any, name: str, args: list[Any]) -> Any:
    """Call a whitelisted method; the whitelist depends on the receiver's type."""
    if receiver is None:
        raise ExpressionError(f"Cannot call method '{name}' on null")
    kind, table = _methods_for(receiver)
    entry = table.get(name) or _ANY.get(name)
    if entry is None:
        raise ExpressionError(f"Method '{name}' is not allowed on {kind}")
    arity, fn = entry
    if len(args) != arity:
        raise ExpressionError(f"Method '{name}' expects {arity} argument(s), got {len(args)}")
    return fn(receiver, *args)


def read_property(container: Any, key: Any) -> Any:
    """`a.b` / `a[k]`: maps by key, lists by index; missing entries and null bases give null."""
    if container is None:
        return None
    if isinstance(container, Mapping):
        if key in container:
            return container[key]
        return container.get(str(key)) if not isinstance(key, str) else None
    if isinstance(container, (list, tuple)):
        return _index(container, key)
    raise ExpressionError(f"Cannot read property {to_text(key)!r} of {describe(container)}")


def is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, (str, list, tuple, set, frozenset, Mapping)):
        return len(value) == 0
    return False
