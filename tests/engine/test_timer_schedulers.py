"""Several schedulers at once: each due timer fires exactly once, none ahead of its time, and they share the work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from engine import case_store
from engine.clock import aware
from engine.db import Database
from engine.models import HistoryEvent, Job, Timer
from engine.runtime import Engine
from tests.conftest import WAIT, wait_for
from tests.diagrams import chain, process
from tests.engine.runtime_support import race, timers_of

if TYPE_CHECKING:
    from tests.conftest import TestClock

ROOT = Path(__file__).resolve().parents[2]
POLKU = Path(sys.executable).with_name("polku")


def reminder() -> bytes:
    """review with a non-interrupting R2/PT1H timer; each occurrence starts an external task (topic remind)."""
    return process("remind", """
<bpmn:startEvent id="start"/><bpmn:userTask id="review"/><bpmn:endEvent id="end"/>
<bpmn:boundaryEvent id="remind_timer" attachedToRef="review" cancelActivity="false">
  <bpmn:timerEventDefinition><bpmn:timeCycle>R2/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition>
</bpmn:boundaryEvent>
<bpmn:serviceTask id="notify" camunda:type="external" camunda:topic="remind"/><bpmn:endEvent id="reminded"/>
""" + chain("start", "review", "end") + chain("remind_timer", "notify", "reminded"))


def start_cases(engine: Engine, count: int) -> list[str]:
    engine.deploy({"remind.bpmn": reminder()})
    return [engine.start("remind") for _ in range(count)]


def assert_first_occurrence_fired_once(engine: Engine, cases: list[str], next_due: datetime) -> None:
    """Each case: one notify started (history), its one job row, and the timer waiting for the second occurrence."""
    with engine.db.transaction() as s:
        notified = dict(s.execute(select(HistoryEvent.case_id, func.count()).where(
            HistoryEvent.element_id == "notify", HistoryEvent.case_id.in_(cases)).group_by(HistoryEvent.case_id)).all())
        jobs = dict(s.execute(select(Job.case_id, func.count()).where(Job.case_id.in_(cases))
                              .group_by(Job.case_id)).all())
        timers = s.execute(select(Timer.case_id, Timer.due_at).where(Timer.case_id.in_(cases))).all()
    assert notified == dict.fromkeys(cases, 1)
    assert jobs == dict.fromkeys(cases, 1)
    assert sorted(case for case, _ in timers) == sorted(cases)
    assert {aware(due) for _, due in timers} == {next_due}


def test_two_schedulers_on_many_cycle_timers_fire_each_occurrence_once(db: Database, clock: TestClock) -> None:
    first = Engine(db, clock=clock)
    second = Engine(Database(db.url), clock=clock)  # another process: its own engine and connection pool
    try:
        started = clock.now
        cases = start_cases(first, 40)
        clock.advance(hours=1, minutes=30)  # the first occurrence is due, the second (same timer id) is not

        fired = race(first.fire_due_timers, second.fire_due_timers)

        assert all(isinstance(n, int) for n in fired), fired
        assert sum(fired) == len(cases)
        assert_first_occurrence_fired_once(first, cases, started + timedelta(hours=2))
        assert first.fire_due_timers() + second.fire_due_timers() == 0
    finally:
        second.db.dispose()


def test_a_scheduler_skips_a_case_someone_holds_instead_of_waiting(db: Database, clock: TestClock) -> None:
    if not db.is_postgres:
        pytest.skip("SQLite has one writer: a held case holds every scheduler")
    engine = Engine(db, clock=clock)
    other = Engine(Database(db.url), clock=clock)
    try:
        started = clock.now
        held, *free = start_cases(engine, 5)
        clock.advance(hours=1, minutes=30)
        result: list[int] = []
        with engine.db.transaction() as session:
            case_store.load_locked(session, held)  # a user's action on that case, still running
            scheduler = threading.Thread(target=lambda: result.append(other.fire_due_timers()))
            scheduler.start()
            scheduler.join(WAIT)  # a deadline only: on a blocked scheduler the assert below fails
            finished = not scheduler.is_alive()
        scheduler.join()
        assert finished and result == [len(free)]
        assert_first_occurrence_fired_once(engine, free, started + timedelta(hours=2))
        assert [aware(t.due_at) for t in timers_of(engine, held)] == [started + timedelta(hours=1)]  # still due
        assert engine.fire_due_timers() == 1
        assert_first_occurrence_fired_once(engine, [held, *free], started + timedelta(hours=2))
    finally:
        other.db.dispose()


def test_two_polku_scheduler_processes_fire_each_due_timer_once(database_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "POLKU_DATABASE_URL": database_url, "POLKU_SECRET_KEY": "a-test-secret-of-32-characters!!",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    logs = [tmp_path / f"scheduler-{n}.log" for n in range(2)]
    procs = []
    for log in logs:
        with log.open("w") as out:
            procs.append(subprocess.Popen([str(POLKU), "scheduler", "--interval", "0.2"], env=env, cwd=tmp_path,
                                          stdout=out, stderr=subprocess.STDOUT))
    real_start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=90)
    db = Database(database_url)
    engine = Engine(db, clock=lambda: real_start)  # started 90 minutes ago: first occurrence due, second not
    try:
        try:
            wait_for(lambda: all("scheduler running" in log.read_text() for log in logs), timeout=60,
                     message="both schedulers to start")
            cases = start_cases(engine, 30)  # due at once: both schedulers take them as they come
            wait_for(lambda: _due_left(db) == 0, timeout=60, message="the schedulers to fire every due timer")
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGTERM)
            for proc in procs:
                proc.wait(60)
        assert [proc.returncode for proc in procs] == [0, 0], [log.read_text()[-2000:] for log in logs]
        assert_first_occurrence_fired_once(engine, cases, real_start + timedelta(hours=2))
    finally:
        db.dispose()


def _due_left(db: Database) -> int:
    with db.read() as s:
        return int(s.execute(select(func.count()).select_from(Timer).where(Timer.due_at <= datetime.now(UTC)))
                   .scalar_one())


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _answers(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.mark.parametrize("flag", ["--no-scheduler", "--scheduler"])
def test_polku_serve_fires_timers_unless_told_a_scheduler_runs_apart(database_url: str, tmp_path: Path,
                                                                     flag: str) -> None:
    real_start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=90)
    db = Database(database_url)
    engine = Engine(db, clock=lambda: real_start)
    port = _free_port()
    env = {**os.environ, "POLKU_DATABASE_URL": database_url, "POLKU_SECRET_KEY": "a-test-secret-of-32-characters!!",
           "POLKU_PORT": str(port), "POLKU_HANDLER_MODULES": "",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    try:
        cases = start_cases(engine, 2)
        with (tmp_path / "serve.log").open("w") as out:
            proc = subprocess.Popen([str(POLKU), "serve", "--no-demo", flag], env=env, cwd=tmp_path, stdout=out,
                                    stderr=subprocess.STDOUT)
        try:
            wait_for(lambda: _answers(f"http://127.0.0.1:{port}/health"), timeout=60, message="polku serve to answer")
            if flag == "--scheduler":
                wait_for(lambda: _due_left(db) == 0, message="the in-process scheduler to fire the timers")
            else:
                threading.Event().wait(2.5)  # over two of the scheduler's 1 s rounds, had it started one
                assert _due_left(db) == len(cases)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(60)
    finally:
        db.dispose()
