"""The worker loop: fetch and lock jobs in batches, run their handlers, report, hold the locks.

Handlers run on daemon threads, at most `concurrency` at a time (a small pool of slots rather than
a ThreadPoolExecutor: Python cannot kill a thread, so a handler past its time limit is reported as
failed, its slot is freed and its late result is dropped, while the thread itself runs on until the
handler returns. A daemon thread at least cannot hold the process open at exit.)
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.errors import Conflict, NotFound
from engine.jobs import LockedJob, TopicRequest
from engine.redaction import describe
from workers.handler import HandlerRegistry, JobContext
from workers.loop import Loop
from workers.outcome import Failed, call, report

if TYPE_CHECKING:
    from engine.runtime import Engine
    from workers.services import Services

log = logging.getLogger("polku.workers")

IDLE_MIN_S = 0.1


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


@dataclass(eq=False)  # identity: the same job may be fetched again later
class _Held:
    """A job this runner holds the lock of: waiting for a slot, or running."""

    job: LockedJob
    extend_at: float  # time.monotonic() when the lock is next extended
    started: float | None = None
    done: bool = False  # its outcome has been reported (by the handler's thread or by the time limit)


class Runner(Loop):
    """Runs the registry's handlers for `topics` until stop() (or SIGTERM, wired by the caller)."""

    def __init__(self, engine: Engine, registry: HandlerRegistry, worker_id: str | None = None,
                 topics: Iterable[str] | None = None, concurrency: int = 1, batch: int = 10,
                 lock_ms: int = 30_000, time_limit_s: float = 300.0, grace_s: float = 30.0,
                 idle_max_s: float = 2.0, services: Services | None = None) -> None:
        if concurrency < 1 or batch < 1 or lock_ms <= 0 or time_limit_s <= 0 or grace_s < 0:
            raise ValueError("concurrency and batch must be >= 1, lock_ms and time_limit_s > 0, grace_s >= 0")
        self.engine = engine
        self.registry = registry
        self.services = services
        self.worker_id = worker_id or default_worker_id()
        self.topics = list(topics) if topics is not None else registry.topics()
        if not self.topics:
            raise ValueError("no topics to work on: the registry has no handlers")
        unknown = [t for t in self.topics if t not in registry]
        if unknown:
            raise ValueError(f"no handler for topic(s): {', '.join(unknown)}")
        self.concurrency = concurrency
        self.batch = batch
        self.lock_ms = lock_ms
        self.time_limit_s = time_limit_s
        self.grace_s = grace_s
        self.idle_max_s = max(idle_max_s, IDLE_MIN_S)
        # supervision (lock extension, time limits) runs at least this often
        self._tick = max(0.02, min(0.5, lock_ms / 4000, time_limit_s / 4))
        self._lock = threading.Lock()
        self._pending: deque[_Held] = deque()
        self._running: dict[str, _Held] = {}
        super().__init__()  # stop(): stop fetching; run() then waits for running handlers up to the grace period

    def run(self) -> None:
        """The loop; returns after stop() once running handlers finished (or the grace period ran out)."""
        log.info("worker %s running topics %s", self.worker_id, ", ".join(self.topics))
        delay = IDLE_MIN_S
        try:
            while not self._stopping.is_set():
                self._supervise()
                self._start_pending()
                with self._lock:
                    busy = bool(self._pending) or len(self._running) >= self.concurrency
                if busy:
                    self._sleep(self._tick)
                    continue
                if self._fetch():
                    delay = IDLE_MIN_S
                    continue
                self._sleep(min(delay, self._tick) if self._running else delay)
                delay = min(delay * 2, self.idle_max_s)
            self._shutdown()
        finally:
            self.stopped.set()
            log.info("worker %s stopped", self.worker_id)

    # -- the loop's steps --------------------------------------------------------------------------
    def _fetch(self) -> int:
        requests = [TopicRequest(topic, lock_duration_ms=self.lock_ms) for topic in self.topics]
        try:
            jobs = self.engine.fetch_and_lock(self.worker_id, requests, self.batch)
        except Exception as err:  # noqa: BLE001 - a database hiccup must not end the worker; it backs off
            log.error("fetching jobs failed\n%s", describe(err))
            return 0
        now = time.monotonic()
        with self._lock:
            self._pending.extend(_Held(job, now + self.lock_ms / 2000) for job in jobs)
        return len(jobs)

    def _start_pending(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                held = self._take_pending()
            if held is None:
                return
            thread = threading.Thread(target=self._work, args=(held,), name=f"polku-job-{held.job.id[:8]}",
                                      daemon=True)
            thread.start()

    def _take_pending(self) -> _Held | None:
        """The next waiting job, moved to running, if a slot is free (call with self._lock held)."""
        if not self._pending or len(self._running) >= self.concurrency:
            return None
        held = self._pending.popleft()
        held.started = time.monotonic()
        self._running[held.job.id] = held
        return held

    def _work(self, held: _Held) -> None:
        """Run the job, then the next waiting ones while the slot is still this thread's.

        Taking the next job here spares a thread start and a wake-up of the loop per job. A thread
        whose job ran past its time limit lost its slot, so it ends once its handler returns.
        """
        next_job: _Held | None = held
        while next_job is not None:
            held, next_job = next_job, None
            timed_out = True  # should _run_one raise after all, free the slot and take nothing more
            try:
                timed_out = self._run_one(held)
            finally:
                with self._lock:
                    if self._running.get(held.job.id) is held:
                        del self._running[held.job.id]
                    if not timed_out and not self._stopping.is_set():
                        next_job = self._take_pending()
                if next_job is None:
                    self._wake.set()
            if next_job is not None:
                threading.current_thread().name = f"polku-job-{next_job.job.id[:8]}"

    def _run_one(self, held: _Held) -> bool:
        """Run one job's handler and report its outcome; True if it had been timed out meanwhile."""
        job = held.job
        try:
            outcome = call(self.registry.get(job.topic), JobContext.of(job, self.services))
            with self._lock:
                if held.done:
                    log.warning("job %s: late result of a handler past its time limit dropped", job.id)
                    return True
                held.done = True
            report(self.engine, job.id, self.worker_id, outcome)
        except Exception as err:  # noqa: BLE001 - reporting failed (database down); the lock expires, the job returns
            log.error("job %s: reporting the outcome failed\n%s", job.id, describe(err))
        return False

    def _supervise(self) -> None:
        """Fail handlers past the time limit; extend the locks of held jobs at half the lock duration."""
        now = time.monotonic()
        with self._lock:
            held_jobs = [*self._running.values(), *self._pending]
        for held in held_jobs:
            if held.started is not None and now - held.started > self.time_limit_s:
                self._time_out(held)
            elif now >= held.extend_at:
                self._extend(held, now)

    def _time_out(self, held: _Held) -> None:
        with self._lock:
            if held.done:
                return
            held.done = True
            if self._running.get(held.job.id) is held:
                del self._running[held.job.id]
        message = f"handler exceeded the time limit of {self.time_limit_s:g} s"
        log.error("job %s (%s): %s; its thread runs on, its result will be dropped", held.job.id, held.job.topic,
                  message)
        try:
            report(self.engine, held.job.id, self.worker_id, Failed(message, f"topic {held.job.topic}: {message}"))
        except Exception as err:  # noqa: BLE001
            log.error("job %s: reporting the time-out failed\n%s", held.job.id, describe(err))

    def _extend(self, held: _Held, now: float) -> None:
        try:
            self.engine.extend_lock(held.job.id, self.worker_id, self.lock_ms)
        except (Conflict, NotFound) as err:
            if held.done:
                return
            # the lock is lost: a waiting job is given up; a running one finishes, and its report gets a Conflict
            log.warning("job %s: lock lost: %s", held.job.id, err)
            held.extend_at = float("inf")
            with self._lock:
                if held in self._pending:
                    self._pending.remove(held)
            return
        except Exception as err:  # noqa: BLE001 - try again at the next tick
            log.error("job %s: extending the lock failed\n%s", held.job.id, describe(err))
            held.extend_at = now + self._tick
            return
        held.extend_at = now + self.lock_ms / 2000

    def _shutdown(self) -> None:
        """Release the jobs never started, then wait for running handlers up to the grace period."""
        with self._lock:
            unstarted = list(self._pending)
            self._pending.clear()
        for held in unstarted:
            try:
                self.engine.unlock(held.job.id, self.worker_id)
            except Exception as err:  # noqa: BLE001 - its lock expires anyway
                log.error("job %s: unlocking failed\n%s", held.job.id, describe(err))
        deadline = time.monotonic() + self.grace_s
        while True:
            with self._lock:
                running = len(self._running)
            if not running:
                return
            left = deadline - time.monotonic()
            if left <= 0:
                log.warning("%d handler(s) still running after the grace period; their locks will expire", running)
                return
            self._supervise()
            self._sleep(min(self._tick, left))


def start_background(runner: Runner) -> threading.Thread:
    """Run `runner` on a daemon thread (the embedded `polku serve`); stop it with runner.stop()."""
    thread = threading.Thread(target=runner.run, name="polku-worker", daemon=True)
    thread.start()
    return thread


def run_until_idle(engine: Engine, registry: HandlerRegistry, services: Services | None = None,
                   worker_id: str = "inline", business_key: str | None = None, limit: int = 1000) -> int:
    """Run the due jobs of the registry's topics here, one by one, until none is left; returns how many ran.

    For the demo loader and scenario tests: the same handlers and reporting as the Runner, no threads.
    A failed job waits for its back-off, so it does not run again within one call.
    """
    requests = [TopicRequest(topic, lock_duration_ms=60_000, business_key=business_key) for topic in registry.topics()]
    done = 0
    while done < limit:
        jobs = engine.fetch_and_lock(worker_id, requests, min(10, limit - done))
        if not jobs:
            break
        for job in jobs:
            report(engine, job.id, worker_id, call(registry.get(job.topic), JobContext.of(job, services)))
            done += 1
    return done
