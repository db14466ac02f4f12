"""APScheduler jobs that keep cases moving: fire due timers, release expired job locks.

Safe in several processes at once, and they share the work: each round claims one case with a due
timer at a time (PostgreSQL skips cases another scheduler holds) and fires it in the case's own
transaction, until nothing is due (engine/timers.py).
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler

from engine import timers

if TYPE_CHECKING:
    from engine.runtime import Engine

log = logging.getLogger("polku.scheduler")


def tick(engine: Engine, stop: threading.Event | None = None) -> tuple[int, int]:
    """One round: fire everything due now (until `stop` is set) and free expired locks; errors are logged."""
    fired = released = 0
    try:
        fired = timers.fire_due(engine, engine.clock(), keep_going=None if stop is None else _until(stop))
    except Exception:  # noqa: BLE001 - one bad case must not stop the scheduler
        log.exception("firing due timers failed")
    try:
        released = engine.release_expired_locks()
    except Exception:  # noqa: BLE001
        log.exception("releasing expired locks failed")
    if fired or released:
        log.info("fired %d timers, released %d job locks", fired, released)
    return fired, released


def _until(stop: threading.Event) -> Callable[[], bool]:
    return lambda: not stop.is_set()


def start_background(engine: Engine, interval_seconds: float = 1.0, stop: threading.Event | None = None
                     ) -> BackgroundScheduler:
    """A round every `interval_seconds`; a round still draining when the next is due lets that one go."""
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(tick, "interval", seconds=interval_seconds, args=[engine, stop], id="polku-tick",
                      max_instances=1, coalesce=True)
    scheduler.start()
    return scheduler


def run_forever(engine: Engine, interval_seconds: float = 1.0) -> None:
    """Run until SIGTERM or SIGINT; a round in progress stops after the case it is firing."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    scheduler = start_background(engine, interval_seconds, stop)
    log.info("scheduler running, a round every %s s", interval_seconds)
    stop.wait()
    scheduler.shutdown(wait=True)
