"""JSON from clients, refused at the door when it would fail later, deep in the engine or the database.

Python's json module accepts what PostgreSQL's JSON type and the engine cannot take: NaN and Infinity
(also as 1e999), integers of any length (past 4,300 digits even int() refuses them), nesting deeper than
the interpreter's recursion limit, NUL characters (PostgreSQL text refuses them) and lone surrogates
(no UTF-8 encoding exists for them). Each is a 400 with what was wrong, never a 500 after half the work.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from webapp.engine_rest.errors import InvalidRequest

LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
MAX_DEPTH = 64  # objects and lists inside each other; a case's data is never this deep
_LONG_DIGITS = len(str(LONG_MAX))
_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")


def shown(value: Any, limit: int = 60) -> str:
    """A value quoted in an error message, cut short: a 1 MB input is not echoed back whole."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def bad_text(text: str) -> str | None:
    """Why a string cannot be stored (a NUL or a lone surrogate), or None when it can."""
    found = _FORBIDDEN.search(text)
    if found is None:
        return None
    char = found.group()
    return "a NUL character" if char == "\x00" else f"a lone surrogate (U+{ord(char):04X})"


def check_text(text: str, what: str) -> None:
    reason = bad_text(text)
    if reason is not None:
        raise InvalidRequest(f"{what} contains {reason}, which cannot be stored")


def _number(text: str) -> int:
    digits = text.lstrip("-")
    if len(digits) > _LONG_DIGITS or not LONG_MIN <= int(text) <= LONG_MAX:
        raise InvalidRequest(f"the number {shown(text, 30)} is outside the 64-bit integer range")
    return int(text)


def _decimal(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidRequest(f"the number {shown(text, 30)} is too large for a double")
    return value


def _constant(name: str) -> Any:
    raise InvalidRequest(f"{name} is not a JSON number (send a finite number, or null)")


def loads(text: str | bytes, what: str = "the request body") -> Any:
    """Parse client JSON; InvalidRequest names the first thing that could not be stored or used."""
    try:
        value = json.loads(text, parse_int=_number, parse_float=_decimal, parse_constant=_constant)
    except UnicodeDecodeError:
        raise InvalidRequest(f"{what} is not UTF-8 text") from None
    except RecursionError:
        raise InvalidRequest(f"{what} is nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError as err:
        raise InvalidRequest(f"{what} is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    check_value(value, what)
    return value


def check_value(value: Any, what: str) -> None:
    """Depth, strings and numbers of an already parsed value (iterative: deep input cannot recurse here)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list) and depth > MAX_DEPTH:
            raise InvalidRequest(f"{what} is nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            for key, inner in item.items():
                check_text(key, f"{what}: a property name")
                stack.append((inner, depth + 1))
        elif isinstance(item, list):
            stack.extend((inner, depth + 1) for inner in item)
        elif isinstance(item, str):
            check_text(item, f"{what}: the string {shown(item, 40)}")
        elif isinstance(item, float) and not math.isfinite(item):
            raise InvalidRequest(f"{what} holds a number that is not finite")
