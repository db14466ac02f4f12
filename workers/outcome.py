"""A handler's outcome as a value, and how each outcome is reported to the engine."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError

from engine.errors import Conflict, NotFound, OutcomeNotStored
from engine.redaction import describe, summary
from workers.handler import BpmnError, Failure, Handler, JobContext

if TYPE_CHECKING:
    from engine.runtime import Engine

log = logging.getLogger("polku.workers")


@dataclass(frozen=True)
class Completed:
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Errored:
    code: str
    message: str | None
    variables: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Failed:
    message: str
    details: str | None = None
    retries: int | None = None
    retry_timeout_ms: int | None = None


Outcome = Completed | Errored | Failed


def call(fn: Handler, ctx: JobContext) -> Outcome:
    """Run the handler; every exception becomes an outcome, the unexpected ones with their traceback."""
    try:
        result = fn(ctx)
    except BpmnError as err:
        return Errored(err.code, err.message, err.variables)
    except Failure as err:
        return Failed(err.message, err.details, err.retries, err.retry_timeout_ms)
    except Exception as err:  # noqa: BLE001 - any other error is a failure of the job, not of the worker
        if _quotes_rows(err):  # a database error's message quotes the row: the job keeps a summary
            return Failed(summary(err).splitlines()[0], describe(err))
        return Failed(f"{type(err).__name__}: {err}", traceback.format_exc())
    if result is not None and not isinstance(result, Mapping):
        return Failed(f"handler returned {type(result).__name__}, not a dict of variables")
    return Completed(dict(result or {}))


def _quotes_rows(err: BaseException) -> bool:
    return isinstance(err, SQLAlchemyError) or type(err).__module__.split(".")[0] in ("psycopg", "sqlite3")


def report(engine: Engine, job_id: str, worker_id: str, outcome: Outcome) -> None:
    """Tell the engine; a lost lock (Conflict) is logged and dropped, never retried.

    A result the case or the database refuses (an expression fails on it, no boundary catches the
    error, PostgreSQL will not store a value) has been counted by the engine as a failed attempt,
    on the same retry-or-incident path as a failing handler; an unreachable database raises, and the
    job's lock runs out so that it is run again.
    """
    try:
        if isinstance(outcome, Completed):
            engine.complete_job(job_id, worker_id, outcome.variables)
        elif isinstance(outcome, Errored):
            engine.bpmn_error(job_id, worker_id, outcome.code, outcome.message, outcome.variables)
        else:
            _fail(engine, job_id, worker_id, outcome)
    except (Conflict, NotFound) as err:
        log.warning("job %s: result dropped: %s", job_id, err)
    except OutcomeNotStored as err:  # its message may quote variable values: it went to the job, not the log
        if err.retries_left == 0:
            log.error("job %s: the result could not be stored, for the last time; incident opened (the job "
                      "holds the error)", job_id)
        else:
            log.warning("job %s: the result could not be stored, counted as a failed attempt (%d retries left; "
                        "the job holds the error)", job_id, err.retries_left)


def _fail(engine: Engine, job_id: str, worker_id: str, outcome: Failed) -> None:
    result = engine.fail_job(job_id, worker_id, outcome.message, outcome.details, outcome.retries,
                             outcome.retry_timeout_ms)
    if result.incident:
        log.error("job %s failed for the last time, incident opened (the job holds the error)", job_id)
    else:  # the handler's message may quote variable values: it is stored with the job, not logged
        log.warning("job %s failed (%d retries left)", job_id, result.retries_left)
