"""Firing due timers: each in its own case transaction, exactly once across schedulers."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from SpiffWorkflow.exceptions import SpiffWorkflowException
from sqlalchemy import exists, select

from engine.errors import EngineError
from engine.models import Case, CaseStatus, Incident, Timer, aware
from engine.transition import process_error, run_steps

if TYPE_CHECKING:
    from engine.runtime import Engine

log = logging.getLogger("polku.timers")


class _NothingToDo(Exception):
    """Raised inside a transaction to roll it back without saving (another scheduler was first)."""


def due_timers(engine: Engine, now: datetime, limit: int) -> list[tuple[str, datetime]]:
    with engine.db.transaction() as session:
        rows = session.execute(
            select(Timer.id, Timer.due_at).join(Case, Case.id == Timer.case_id)
            .where(Timer.due_at <= now, Case.status == CaseStatus.ACTIVE,
                   ~exists().where(Incident.job_id == Timer.id, Incident.resolved_at.is_(None)))
            .order_by(Timer.due_at).limit(limit)).all()
    return [(r[0], r[1]) for r in rows]


def fire_due(engine: Engine, now: datetime, limit: int) -> int:
    """Fire every timer due at `now`; returns how many fired here.

    A timer whose case fails to move (expression error after it) is rolled back and gets an
    incident instead, so one broken case does not hold up every timer due after it.
    """
    fired = 0
    for timer_id, _due in due_timers(engine, now, limit):
        try:
            if fire(engine, timer_id, now):
                fired += 1
        except (EngineError, SpiffWorkflowException) as err:
            failure = err if isinstance(err, EngineError) else process_error(err)
            log.warning("timer %s failed: %s", timer_id, failure)
            _timer_incident(engine, timer_id, str(failure), now)
    return fired


def _timer_incident(engine: Engine, timer_id: str, message: str, now: datetime) -> None:
    with engine.db.transaction() as session:
        timer = session.get(Timer, timer_id)
        already = session.execute(select(Incident.id).where(Incident.job_id == timer_id,
                                                            Incident.resolved_at.is_(None))).first()
        if timer is not None and already is None:
            session.add(Incident(case_id=timer.case_id, job_id=timer.id, element_id=timer.element_id,
                                 kind="failedTimer", message=message, created_at=now))


def fire(engine: Engine, timer_id: str, at: datetime | None = None) -> bool:
    """Fire one timer (at its due time or `at`, whichever is later); False if it is already gone."""
    with engine.db.transaction() as session:
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
