"""APScheduler jobs that keep cases moving: fire due timers, release expired job locks.

Safe in several processes at once: each timer fires inside its case's transaction, which locks
the case and re-checks that the timer is still there (engine/timers.py).
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler

if TYPE_CHECKING:
    from engine.runtime import Engine

log = logging.getLogger("polku.scheduler")


def tick(engine: Engine) -> tuple[int, int]:
    """One round: fire what is due and free expired locks. Errors are logged, never raised."""
    fired = released = 0
    try:
        fired = engine.fire_due_timers()
    except Exception:  # noqa: BLE001 - one bad case must not stop the scheduler
        log.exception("firing due timers failed")
    try:
        released = engine.release_expired_locks()
    except Exception:  # noqa: BLE001
        log.exception("releasing expired locks failed")
    return fired, released


def start_background(engine: Engine, interval_seconds: float = 1.0) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(tick, "interval", seconds=interval_seconds, args=[engine], id="polku-tick",
                      max_instances=1, coalesce=True)
    scheduler.start()
    return scheduler


def run_forever(engine: Engine, interval_seconds: float = 1.0) -> None:
    """Run until SIGTERM or SIGINT."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    scheduler = start_background(engine, interval_seconds)
    log.info("scheduler running")
    stop.wait()
    scheduler.shutdown(wait=True)
