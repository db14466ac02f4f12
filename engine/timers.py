"""Firing due timers: one case per transaction, exactly once across schedulers, never ahead of time.

A scheduler claims one case that has a due timer (on PostgreSQL `FOR UPDATE OF case SKIP LOCKED`, so
two schedulers take different cases), re-reads what is due under that lock and fires it at its own
`now`, then takes the next case, until nothing is due. The case row is locked first, as in every
other case transaction, so the lock order (case row, then its projection rows) stays the same.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy import bindparam, exists, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from engine import case_store
from engine.clock import aware
from engine.errors import EngineError
from engine.models import FAILED_TIMER, Case, CaseStatus, Incident, Timer, table_of
from engine.open_work import open_work
from engine.transition import process_error, run_steps

if TYPE_CHECKING:
    from engine.runtime import Engine

log = logging.getLogger("polku.timers")

_TIMER = table_of(Timer)
_CASE = table_of(Case)
_INCIDENT = table_of(Incident)
# a timer whose firing failed waits for its incident to be repaired (retried / re-armed / resolved)
_NO_OPEN_INCIDENT = ~exists().where(_INCIDENT.c.job_id == _TIMER.c.id, _INCIDENT.c.resolved_at.is_(None))
_DUE = (_TIMER.c.due_at <= bindparam("now"), _CASE.c.status == CaseStatus.ACTIVE, _NO_OPEN_INCIDENT)
# built once, run once per case fired: the claim; the earliest due first, cases another scheduler holds skipped
_NEXT_CASE = (select(_CASE.c.id).join_from(_CASE, _TIMER, _TIMER.c.case_id == _CASE.c.id)
              .where(*_DUE, _CASE.c.id.not_in(bindparam("passed", expanding=True)))
              .order_by(_TIMER.c.due_at).limit(1).with_for_update(of=_CASE, skip_locked=True))
_ANY_DUE = select(_TIMER.c.id).join_from(_TIMER, _CASE, _TIMER.c.case_id == _CASE.c.id).where(*_DUE).limit(1)


class _NothingToDo(Exception):
    """Raised inside a transaction to roll it back without saving (another scheduler was first)."""


class _NothingDue(Exception):
    """Raised inside a transaction when no case has a due timer left."""


def _next_case(session: Session, now: datetime, passed: Sequence[str]) -> str | None:
    """Lock the case of the earliest due timer; cases another scheduler holds are skipped (PostgreSQL)."""
    return session.connection().execute(_NEXT_CASE, {"now": now, "passed": list(passed)}).scalar_one_or_none()


def _anything_due(engine: Engine, now: datetime) -> bool:
    with engine.db.read() as session:
        return session.connection().execute(_ANY_DUE, {"now": now}).first() is not None


def _due_in(workflow: Any, now: datetime) -> list[str]:
    """The ids of the workflow's timers due at `now`: read from the state loaded under the case lock."""
    return sorted(str(i.task.id) for i in open_work(workflow) if i.kind == "timer" and i.due is not None
                  and i.due <= now)


def fire_due(engine: Engine, now: datetime, limit: int | None = None,
             keep_going: Callable[[], bool] | None = None) -> int:
    """Fire every timer due at `now`, case by case, until none is left; how many fired here.

    A case whose firing fails is rolled back and its due timers get incidents, so it neither stops the
    loop nor comes back on every tick. `limit` (cases) and `keep_going` (a scheduler shutting down) end
    the loop early.
    """
    fired = cases = 0
    passed: list[str] = []  # failed, or (should never be) still due after firing: not again in this call
    if not _anything_due(engine, now):
        return 0  # the usual tick: a read, no write lock (SQLite) and no row locks
    while (limit is None or cases < limit) and (keep_going is None or keep_going()):
        outcome = _fire_next_case(engine, now, passed)
        if outcome is None:
            break
        fired += outcome
        cases += 1
    return fired


def _fire_next_case(engine: Engine, now: datetime, passed: list[str]) -> int | None:
    """Fire what is due in one case; how many timers fired, or None when no case has a due timer."""
    claimed: list[str] = []
    due: list[str] = []

    def find(session: Session) -> str:
        case_id = _next_case(session, now, passed)
        if case_id is None:
            raise _NothingDue
        claimed.append(case_id)
        return case_id

    try:
        with engine.tx.open_found(find, now=now) as ctx:
            # the claim read an older snapshot: another scheduler may have fired this case meanwhile
            due.extend(_due_in(ctx.workflow, now) if ctx.case.status == CaseStatus.ACTIVE else [])
            if not due:
                raise _NothingToDo
            ctx.workflow.refresh_timers()
            run_steps(ctx.workflow)
            if _due_in(ctx.workflow, now):
                log.warning("case %s still has a timer due at %s after firing", ctx.case.id, now.isoformat())
                passed.append(ctx.case.id)
    except _NothingDue:
        return None
    except _NothingToDo:
        passed.extend(claimed)  # should the timer table and the state ever disagree, not picked again
        return 0
    except SQLAlchemyError:
        raise  # the database, not the case: the round stops and the next one tries again
    except Exception as err:  # noqa: BLE001 - one broken case (even a state that will not load) must not stop the rest
        if not claimed:
            raise
        if isinstance(err, EngineError | SpiffWorkflowException):
            failure: Exception = err if isinstance(err, EngineError) else process_error(err)
            log.warning("timers %s of case %s failed: %s", ", ".join(due), claimed[0], failure)
        else:
            failure = err
            log.exception("timers %s of case %s failed", ", ".join(due), claimed[0])
        passed.extend(claimed)
        _timer_incidents(engine, claimed[0], due, str(failure) or type(failure).__name__, now)
        return 0
    return len(due)


def _timer_incidents(engine: Engine, case_id: str, timer_ids: list[str], message: str, now: datetime) -> None:
    """An open incident for each timer that has none, under the case lock (two schedulers may both fail it).

    Without ids (the state did not even load), every timer of the case due at `now`.
    """
    with engine.db.transaction() as session:
        if case_store.load_locked(session, case_id) is None:
            return
        which = Timer.id.in_(timer_ids) if timer_ids else Timer.due_at <= now
        timers = list(session.execute(select(Timer).where(Timer.case_id == case_id, which)).scalars())
        open_ = set(session.execute(select(Incident.job_id).where(Incident.job_id.in_([t.id for t in timers]),
                                                                  Incident.resolved_at.is_(None))).scalars())
        session.add_all(Incident(case_id=case_id, job_id=t.id, element_id=t.element_id, kind=FAILED_TIMER,
                                 message=message, created_at=now) for t in timers if t.id not in open_)


def fire(engine: Engine, timer_id: str, at: datetime | None = None) -> bool:
    """Fire one timer now, ahead of its time if need be (an admin's action); False if it is already gone.

    The case moves as if the clock read the later of `at` (default now) and the timer's due time.
    """
    with engine.db.read() as session:
        row = session.get(Timer, timer_id)
        if row is None:
            return False
        case_id = row.case_id
    try:
        with engine.tx.open(case_id) as ctx:
            timer = ctx.session.execute(select(Timer).where(Timer.id == timer_id)).scalar_one_or_none()
            if timer is None or ctx.case.status != CaseStatus.ACTIVE:
                raise _NothingToDo
            due = aware(timer.due_at)
            moment = max(at or engine.clock(), due)
            ctx.workflow.script_engine.clock = lambda: moment
            ctx.now = moment if at is not None and at > engine.clock() else ctx.now
            ctx.workflow.refresh_timers()
            run_steps(ctx.workflow)
            ctx.workflow.script_engine.clock = engine.clock
    except _NothingToDo:
        return False
    return True
