"""Firing due timers: each in its own case transaction, exactly once across schedulers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from engine.models import Case, CaseStatus, Timer
from engine.transition import run_steps

if TYPE_CHECKING:
    from engine.runtime import Engine


class _NothingToDo(Exception):
    """Raised inside a transaction to roll it back without saving (another scheduler was first)."""


def due_timers(engine: Engine, now: datetime, limit: int) -> list[tuple[str, datetime]]:
    with engine.db.transaction() as session:
        rows = session.execute(
            select(Timer.id, Timer.due_at).join(Case, Case.id == Timer.case_id)
            .where(Timer.due_at <= now, Case.status == CaseStatus.ACTIVE).order_by(Timer.due_at).limit(limit)).all()
    return [(r[0], r[1]) for r in rows]


def fire_due(engine: Engine, now: datetime, limit: int) -> int:
    """Fire every timer due at `now`; returns how many fired here."""
    fired = 0
    for timer_id, _due in due_timers(engine, now, limit):
        if fire(engine, timer_id, now):
            fired += 1
    return fired


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
            due = timer.due_at if timer.due_at.tzinfo else timer.due_at.replace(tzinfo=UTC)
            moment = max(at or engine.clock(), due)
            ctx.workflow.script_engine.clock = lambda: moment
            ctx.now = moment if at is not None and at > engine.clock() else ctx.now
            ctx.workflow.refresh_timers()
            run_steps(ctx.workflow)
            ctx.workflow.script_engine.clock = engine.clock
    except _NothingToDo:
        return False
    return True
