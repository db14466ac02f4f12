"""Reads never queue behind a writer, and a cold definition cache never stalls a case transaction.

These matter most on SQLite, the embedded default (one writer at a time), and run on PostgreSQL too.
Threads meet through Events; `wait_for` is only a deadline, never a timing assertion.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import literal, select, update

from engine import db as engine_db
from engine.db import Database
from engine.jobs import TopicRequest
from engine.models import Case
from engine.runtime import Engine
from tests.conftest import WAIT, TestClock, wait_for
from tests.engine.runtime_support import deploy_start, open_task, single_job, two_tasks


def in_thread(action: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    """Start `action` in a thread; the dict gets its "result" or "error" when it ends."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["result"] = action()
        except Exception as err:  # noqa: BLE001 - the test looks at what the thread got
            out["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def hold_write(db: Database, case_id: str, held: threading.Event, release: threading.Event) -> None:
    """A write transaction that has written (on SQLite: holds the write lock) until `release`."""
    with db.transaction() as session:
        session.execute(update(Case).where(Case.id == case_id).values(business_key="being-written"))
        held.set()
        release.wait(WAIT * 2)


def test_reads_return_while_a_write_transaction_is_open(engine: Engine, db: Database, clock: TestClock) -> None:
    case_id = deploy_start(engine, two_tasks(), "two", "BK-1")
    job_case = deploy_start(engine, single_job(), "jobs")
    definition_id = engine.case(case_id)["definitionId"]
    held, release = threading.Event(), threading.Event()
    writer, _ = in_thread(lambda: hold_write(db, case_id, held, release))
    wait_for(held.is_set, "the writer to hold its transaction")

    def reads() -> dict[str, Any]:
        cold = Engine(db, clock)  # another process: nothing parsed yet, so the definition is read too
        return {
            "case": cold.case(case_id), "cases": cold.cases(), "tasks": cold.open_tasks(case_id),
            "jobs": cold.external_jobs(case_id=job_case), "timers": cold.waiting_timers(case_id),
            "latest": cold.definitions.latest("two"), "versions": cold.definitions.latest_versions(),
            "loaded": cold.definitions.load(definition_id),
        }

    try:
        reader, got = in_thread(reads)
        wait_for(lambda: not reader.is_alive(), "the reads, while the write transaction is still open")
        assert writer.is_alive() and not release.is_set()
    finally:
        release.set()
        writer.join(WAIT)
    assert "error" not in got, got.get("error")
    seen = got["result"]
    assert seen["case"]["businessKey"] == "BK-1"  # the last committed state, not the write in progress
    assert [t.element_id for t in seen["tasks"]] == ["first"]
    assert [j["elementId"] for j in seen["jobs"]] == ["work"]
    assert seen["latest"].key == "two" and {d.key for d in seen["versions"]} == {"jobs", "two"}
    assert seen["loaded"].key == "two"
    assert engine.case(case_id)["businessKey"] == "being-written"


def test_a_case_transaction_needing_a_cold_definition_while_a_start_loads_it_does_not_stall(
        db: Database, clock: TestClock) -> None:
    """The case transaction holds the database and asks for the definition; a start is loading it.

    Before, the start held the store's lock while waiting for the database, and the case transaction
    waited for that lock: on SQLite both stalled until "database is locked" 30 seconds later.
    """
    warm = Engine(db, clock)
    case_id = deploy_start(warm, two_tasks(), "two")
    definition_id = warm.case(case_id)["definitionId"]
    cold = Engine(db, clock)  # a process that has parsed nothing yet
    store = cold.definitions
    in_case, start_loaded = threading.Event(), threading.Event()

    def case_transaction() -> str:
        with db.transaction() as session:  # as CaseTransaction.open_found: the case row first, then the definition
            session.execute(update(Case).where(Case.id == case_id).values(updated_at=clock()))
            in_case.set()
            # go on once the start is inside the store (or already past it)
            wait_for(lambda: store._lock.locked() or start_loaded.is_set(), "the start to load the definition")
            return str(store.load(definition_id, session).key)

    def start() -> str:
        wait_for(in_case.is_set, "the case transaction")
        store.load(definition_id)
        start_loaded.set()
        return cold.start_definition(definition_id)

    first, case_out = in_thread(case_transaction)
    second, start_out = in_thread(start)
    wait_for(lambda: not first.is_alive() and not second.is_alive(), "the case transaction and the start")
    assert case_out == {"result": "two"}
    assert "error" not in start_out, start_out.get("error")
    assert cold.case(start_out["result"])["status"] == "active"


def all_at_once(*actions: Callable[[], Any]) -> list[dict[str, Any]]:
    """Run the actions in threads released together; each one's result or error, once all ended (a deadline)."""
    barrier = threading.Barrier(len(actions))

    def released(action: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            barrier.wait(WAIT)
            return action()
        return run

    runs = [in_thread(released(action)) for action in actions]
    wait_for(lambda: not any(thread.is_alive() for thread, _ in runs), "all of them to finish")
    return [out for _, out in runs]


def complete_and_start_on_a_cold_cache(warm: Engine, db: Database, clock: TestClock) -> None:
    case_id = warm.start("two")
    task = open_task(warm, case_id)
    job_case = warm.start("jobs")
    [job] = warm.fetch_and_lock("w", [TopicRequest("work")])
    cold = Engine(db, clock)  # a process that has parsed nothing yet
    outs = all_at_once(lambda: cold.complete_task(task.id, {}, actor="anna"), lambda: cold.start("two"),
                       lambda: cold.complete_job(job.id, "w"))
    assert all("error" not in out for out in outs), [out.get("error") for out in outs]
    assert [w["id"] for w in warm.case(job_case)["waiting"]] == ["after"]
    assert [w["id"] for w in warm.case(case_id)["waiting"]] == ["second"]


def test_starting_and_completing_on_cold_caches_at_once_all_finish(db: Database, clock: TestClock) -> None:
    """The scenario as users met it: a fresh process completes a task and a job while it starts a case."""
    warm = Engine(db, clock)
    warm.deploy({"two.bpmn": two_tasks(), "jobs.bpmn": single_job()})
    for _ in range(5):
        complete_and_start_on_a_cold_cache(warm, db, clock)


def test_reads_and_writes_alternate_on_connections_that_sat_idle(db: Database,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A pooled connection idle a while is pinged at checkout; a read-only transaction must still begin on it."""
    monkeypatch.setattr(engine_db, "PING_IDLE_S", -1.0)  # every checkout counts as after a pause
    for n in range(3):
        with db.transaction() as session:
            assert session.execute(select(literal(n))).scalar() == n
        with db.read() as session:
            assert session.execute(select(literal(n))).scalar() == n
