"""Why a job's outcome could not be stored, told so that the job's error says it without quoting data.

A handler's result is stored in the job's case transaction; when that transaction fails, the job is
charged a failed attempt (engine/jobs.py). What the job then records depends on who refused: the
engine's own errors name the element and the reason; a database error is summarized (its message
quotes the row, so only its type, code and the names of what failed are kept); a database that could
not be reached at all is not the outcome's fault and charges nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy import exc as sa_exc

from engine.errors import EngineError, ProcessError
from engine.redaction import describe, is_driver_error, summary
from engine.transition import process_error

# The database was not there (connection lost, pool exhausted, SQLite busy, a deadlock or serialization
# failure that a later try resolves): the same outcome may well be stored next time.
_UNREACHABLE: tuple[type[BaseException], ...] = (sa_exc.OperationalError, sa_exc.InterfaceError,
                                                 sa_exc.TimeoutError, sa_exc.DisconnectionError)


def is_unreachable(err: BaseException) -> bool:
    """Whether the failure is the database's absence rather than anything in the outcome."""
    return isinstance(err, _UNREACHABLE) or bool(getattr(err, "connection_invalidated", False))


def check_storable(variables: Mapping[str, Any] | None) -> None:
    """ProcessError naming the first variable holding a number no database stores as JSON (NaN, infinity).

    PostgreSQL's JSON refuses them; SQLite would store text that its own JSON functions cannot read, and a
    case must not run on one database and fail on the other. Iterative, so deep values cannot recurse here.
    """
    for name, value in (variables or {}).items():
        stack: list[Any] = [value]
        while stack:
            item = stack.pop()
            if isinstance(item, float) and not math.isfinite(item):
                raise ProcessError(f"variable '{name}' holds a number that is not finite (NaN or infinity), "
                                   "which cannot be stored")
            if isinstance(item, Mapping):
                stack.extend(item.values())
            elif isinstance(item, list | tuple | set | frozenset):
                stack.extend(item)


@dataclass(frozen=True)
class Refusal:
    """What a job records when its outcome was refused: message, details, who refused, where."""

    message: str
    details: str
    by_database: bool
    element_id: str | None = None


def refusal(err: BaseException) -> Refusal:
    """How to record a job whose outcome `err` refused: the engine's own words, or a database error summarized."""
    if isinstance(err, SpiffWorkflowException):
        err = process_error(err)
    if isinstance(err, EngineError):
        return Refusal(str(err), f"{type(err).__name__}: {err}", False, getattr(err, "element_id", None))
    if isinstance(err, sa_exc.StatementError | sa_exc.DBAPIError) or is_driver_error(err):
        return Refusal(f"the database refused the outcome: {summary(err).splitlines()[0]}", describe(err), True)
    return Refusal(f"the outcome could not be stored: {summary(err).splitlines()[0]}", describe(err), False)
