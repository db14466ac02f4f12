"""Exceptions described for a log without the data they carry.

A traceback's last line is the exception's message, and messages carry values: a database error's
DETAIL and CONTEXT quote the row (`Key (id)=(…)`, `JSON data, line 1: {"name": …`), a ValueError quotes
its input. Logs must never hold client data, so the description keeps what an operator needs to find
the fault (exception types, where each was raised, the SQL statement without its parameters, the
database's error code and the constraint, table and column names) and withholds the messages.
"""

from __future__ import annotations

import traceback
from typing import Any

# builtin exceptions whose messages describe the program (names, types, limits), never its input
_SAFE_MESSAGES: tuple[type[BaseException], ...] = (
    AttributeError, MemoryError, NotImplementedError, OverflowError, RecursionError, TypeError, ZeroDivisionError,
)
_DIAG_FIELDS = ("schema_name", "table_name", "column_name", "constraint_name", "datatype_name")


def describe(err: BaseException) -> str:
    """The exception chain as a traceback whose messages are withheld (or replaced by safe facts)."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        chain.append(current)
        seen.add(id(current))
        current = current.__cause__ or (None if current.__suppress_context__ else current.__context__)
    parts: list[str] = []
    for exc in reversed(chain):
        if parts:
            parts.append("\nwhich led to:\n")
        frames = "".join(traceback.format_tb(exc.__traceback__))
        parts.append(f"Traceback (most recent call last; messages withheld):\n{frames}{summary(exc)}\n")
    return "".join(parts).rstrip("\n")


def summary(err: BaseException) -> str:
    """One line: the exception's type and what can be said about it without quoting data."""
    name = f"{type(err).__module__}.{type(err).__qualname__}"
    if isinstance(err, _SAFE_MESSAGES):
        return f"{name}: {err}"
    statement = getattr(err, "statement", None)
    orig = getattr(err, "orig", None)
    if isinstance(statement, str) and orig is not None:  # SQLAlchemy's StatementError around a driver error
        origin = f"{type(orig).__module__}.{type(orig).__qualname__}"
        return f"{name} from {origin}{_driver_facts(orig)}\n[SQL: {statement.strip()}]"
    if orig is None and is_driver_error(err):
        return f"{name}{_driver_facts(err)}"
    return f"{name} (message withheld: it may quote data)"


def is_driver_error(err: BaseException) -> bool:
    """Raised by the database driver itself (psycopg, sqlite3), not wrapped by SQLAlchemy."""
    return type(err).__module__.split(".")[0] in ("psycopg", "sqlite3")


def _driver_facts(err: Any) -> str:
    """`, code 23505, table case, constraint …`: the database's names for what failed, no values."""
    facts: list[str] = []
    code = getattr(err, "sqlstate", None) or getattr(err, "sqlite_errorname", None)
    if code:
        facts.append(f"code {code}")
    diag = getattr(err, "diag", None)
    for name in _DIAG_FIELDS:
        value = getattr(diag, name, None) if diag is not None else None
        if value:
            facts.append(f"{name.removesuffix('_name')} {value}")
    return "".join(f", {fact}" for fact in facts)
