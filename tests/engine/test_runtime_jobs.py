"""External tasks through the Engine: fetch-and-lock, complete, fail/retry/incident, BPMN errors, locks."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest

from engine.errors import Conflict, EngineError, NotFound, OutcomeNotStored
from engine.jobs import FailureOutcome, LockedJob, TopicRequest
from engine.runtime import Engine
from tests.conftest import TestClock
from tests.diagrams import chain, process
from tests.engine.runtime_support import (
    case_version,
    deploy_start,
    history,
    history_count,
    incidents_of,
    jobs_of,
    open_task_elements,
    race,
    single_job,
    snapshot,
)


def same_instant(a: datetime | None, b: datetime) -> bool:
    """SQLite hands datetimes back without a zone; compare as UTC wall time."""
    return a is not None and a.replace(tzinfo=None) == b.replace(tzinfo=None)


def test_fetch_and_lock_by_topic_with_lock_duration_and_variables(engine: Engine, clock: TestClock) -> None:
    case_a = deploy_start(engine, single_job("a", topic="mail"), "a", "BK-A", {"to": "x@y", "secret": "s", "n": 1})
    deploy_start(engine, single_job("b", topic="print"), "b", "BK-B")

    assert engine.fetch_and_lock("w1", [TopicRequest("nothing")]) == []
    [job] = engine.fetch_and_lock("w1", [TopicRequest("mail", lock_duration_ms=30_000, variables=["to", "n"])])

    assert (job.topic, job.case_id, job.business_key, job.definition_key) == ("mail", case_a, "BK-A", "a")
    assert (job.element_id, job.worker_id) == ("work", "w1")
    assert job.lock_expires_at == clock.now + timedelta(seconds=30)
    assert job.variables == {"to": "x@y", "n": 1}
    [row] = jobs_of(engine, case_a)
    assert row.lock_owner == "w1"
    assert same_instant(row.lock_expires_at, clock.now + timedelta(seconds=30))
    # a locked job is not handed out again
    assert engine.fetch_and_lock("w2", [TopicRequest("mail")]) == []
    # without a filter every variable comes along
    [other] = engine.fetch_and_lock("w2", [TopicRequest("print")])
    assert other.definition_key == "b"


def test_fetch_filters_by_process_key_and_business_key_and_max_jobs(engine: Engine) -> None:
    engine.deploy({"a.bpmn": single_job("a", topic="t")})
    engine.deploy({"b.bpmn": single_job("b", topic="t")})
    a1 = engine.start("a", "K1")
    engine.start("a", "K2")
    b1 = engine.start("b", "K1")

    [by_key] = engine.fetch_and_lock("w", [TopicRequest("t", process_definition_key="b")])
    assert by_key.case_id == b1
    [by_bk] = engine.fetch_and_lock("w", [TopicRequest("t", business_key="K1")])
    assert by_bk.case_id == a1
    assert len(engine.fetch_and_lock("w", [TopicRequest("t")], max_jobs=5)) == 1


def test_complete_job_with_variables_advances_the_case(engine: Engine) -> None:
    case_id = deploy_start(engine, single_job(), "jobs", variables={"n": 1})
    [job] = engine.fetch_and_lock("w1", [TopicRequest("work")])

    engine.complete_job(job.id, "w1", {"result": "ok", "n": 2})

    case = engine.case(case_id)
    assert case["variables"] == {"n": 2, "result": "ok"}
    assert [w["id"] for w in case["waiting"]] == ["after"]
    assert jobs_of(engine, case_id) == []
    assert open_task_elements(engine, case_id) == ["after"]
    work = [h for h in history(engine, case_id) if h.element_id == "work"]
    assert [(h.state, h.actor) for h in work] == [("completed", "w1")]


def test_completing_a_job_twice_or_as_another_worker_is_a_conflict(engine: Engine) -> None:
    case_id = deploy_start(engine, single_job(), "jobs")
    [job] = engine.fetch_and_lock("w1", [TopicRequest("work")])

    with pytest.raises(Conflict, match="locked by w1, not by w2"):
        engine.complete_job(job.id, "w2", {"x": 1})
    assert [j.lock_owner for j in jobs_of(engine, case_id)] == ["w1"]

    engine.complete_job(job.id, "w1", {"x": 2})
    version = case_version(engine, case_id)
    with pytest.raises(Conflict, match="already been completed"):
        engine.complete_job(job.id, "w1", {"x": 3})
    assert case_version(engine, case_id) == version
    assert engine.case(case_id)["variables"]["x"] == 2
    with pytest.raises(NotFound):
        engine.complete_job("no-such-job", "w1")


def test_an_unlocked_job_cannot_be_completed(engine: Engine) -> None:
    case_id = deploy_start(engine, single_job(), "jobs")
    [row] = jobs_of(engine, case_id)
    with pytest.raises(Conflict, match="locked by nobody"):
        engine.complete_job(row.id, "w1")


def test_two_workers_completing_the_same_job_at_once(engine: Engine) -> None:
    case_id = deploy_start(engine, single_job(), "jobs")
    [job] = engine.fetch_and_lock("w1", [TopicRequest("work")])
    version = case_version(engine, case_id)

    results = race(lambda: engine.complete_job(job.id, "w1", {"by": 1}),
                   lambda: engine.complete_job(job.id, "w1", {"by": 2}))

    assert sum(r is None for r in results) == 1
    assert [type(r) for r in results if r is not None] == [Conflict]
    assert case_version(engine, case_id) == version + 1
    assert history_count(engine, case_id, "work") == 1
    assert open_task_elements(engine, case_id) == ["after"]


def test_fail_counts_retries_down_with_back_off_then_opens_an_incident(engine: Engine, clock: TestClock) -> None:
    case_id = deploy_start(engine, single_job(), "jobs")
    state_before = snapshot(engine, case_id)["state"]

    [job] = engine.fetch_and_lock("w1", [TopicRequest("work")])
    first = engine.fail_job(job.id, "w1", "mail server down", "trace 1")
    assert (first.retries_left, first.incident) == (2, False)
    assert first.next_attempt_at == clock.now + timedelta(seconds=10)
    [row] = jobs_of(engine, case_id)
    assert (row.retries, row.error_message, row.error_details, row.lock_owner) == (2, "mail server down", "trace 1",
                                                                                   None)

    # not fetchable until the back-off has passed
    assert engine.fetch_and_lock("w1", [TopicRequest("work")]) == []
    clock.advance(seconds=9)
    assert engine.fetch_and_lock("w1", [TopicRequest("work")]) == []
    clock.advance(seconds=1)
    [again] = engine.fetch_and_lock("w1", [TopicRequest("work")])
    assert (again.retries, again.error_message) == (2, "mail server down")

    second = engine.fail_job(again.id, "w1", "still down")
    assert second.retries_left == 1
    assert second.next_attempt_at == clock.now + timedelta(seconds=20)  # doubled
    clock.advance(seconds=20)
    [third] = engine.fetch_and_lock("w1", [TopicRequest("work")])
    last = engine.fail_job(third.id, "w1", "gave up")
    assert (last.retries_left, last.next_attempt_at, last.incident) == (0, None, True)

    [incident] = incidents_of(engine, case_id)
    assert (incident.kind, incident.job_id, incident.element_id, incident.message) == (
        "failedExternalTask", job.id, "work", "gave up")
    assert incident.resolved_at is None
    clock.advance(days=1)
    assert engine.fetch_and_lock("w1", [TopicRequest("work")]) == []
    # the case itself did not move
    assert snapshot(engine, case_id)["state"] == state_before
    assert engine.case(case_id)["status"] == "active"


def test_fail_with_explicit_retries_and_timeout(engine: Engine, clock: TestClock) -> None:
    case_id = deploy_start(engine, single_job(), "jobs")
    [job] = engine.fetch_and_lock("w1", [TopicRequest("work")])
    with pytest.raises(Conflict):
        engine.fail_job(job.id, "w2", "not mine")
    outcome = engine.fail_job(job.id, "w1", "later", retries=5, retry_timeout_ms=60_000)
    assert (outcome.retries_left, outcome.next_attempt_at) == (5, clock.now + timedelta(minutes=1))
    clock.advance(seconds=59)
    assert engine.fetch_and_lock("w1", [TopicRequest("work")]) == []
    clock.advance(seconds=1)
    [job] = engine.fetch_and_lock("w1", [TopicRequest("work")])
    assert engine.fail_job(job.id, "w1", "stop", retries=0).incident
    assert len(incidents_of(engine, case_id)) == 1


def error_boundary(with_boundary: bool = True) -> bytes:
    boundary = """
<bpmn:boundaryEvent id="no_consent" attachedToRef="check">
  <bpmn:errorEventDefinition errorRef="Err"/>
</bpmn:boundaryEvent>
<bpmn:userTask id="ask_consent" name="Ask consent"/>
<bpmn:endEvent id="end_err"/>
""" + chain("no_consent", "ask_consent", "end_err") if with_boundary else ""
    return process("consent", """
<bpmn:startEvent id="start"/>
<bpmn:serviceTask id="check" name="Check consent" camunda:type="external" camunda:topic="consent"/>
<bpmn:userTask id="proceed" name="Proceed"/>
<bpmn:endEvent id="end"/>
""" + boundary + chain("start", "check", "proceed", "end"),
        extra='<bpmn:error id="Err" name="No consent" errorCode="NO_CONSENT"/>')


def test_bpmn_error_is_caught_by_the_error_boundary_event(engine: Engine) -> None:
    case_id = deploy_start(engine, error_boundary(), "consent")
    [job] = engine.fetch_and_lock("w1", [TopicRequest("consent")])

    engine.bpmn_error(job.id, "w1", "NO_CONSENT", "customer said no", {"reason": "declined"})

    assert open_task_elements(engine, case_id) == ["ask_consent"]
    assert jobs_of(engine, case_id) == []
    assert engine.case(case_id)["variables"]["reason"] == "declined"
    states = {h.element_id: h.state for h in history(engine, case_id)}
    assert states["no_consent"] == "completed"
    assert states["check"] == "cancelled"
    assert "proceed" not in states


def test_bpmn_error_without_a_catching_boundary_is_a_failed_attempt_and_the_job_stays(engine: Engine,
                                                                                      clock: TestClock) -> None:
    case_id = deploy_start(engine, error_boundary(with_boundary=False), "consent")
    [job] = engine.fetch_and_lock("w1", [TopicRequest("consent")])
    before = snapshot(engine, case_id)

    with pytest.raises(OutcomeNotStored, match="NO_CONSENT") as err:
        engine.bpmn_error(job.id, "w1", "NO_CONSENT")
    assert (err.value.element_id, err.value.retries_left) == ("check", 2)
    assert without_jobs(snapshot(engine, case_id)) == without_jobs(before)
    # the job is still there, released with a retry fewer and the error recorded; it returns after the back-off
    [row] = jobs_of(engine, case_id)
    assert (row.lock_owner, row.retries) == (None, 2) and "NO_CONSENT" in row.error_message
    clock.advance(seconds=10)
    [again] = engine.fetch_and_lock("w1", [TopicRequest("consent")])
    engine.complete_job(again.id, "w1")
    assert open_task_elements(engine, case_id) == ["proceed"]


def without_jobs(state: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if k != "jobs"}


def test_bpmn_error_with_an_unknown_code_is_not_caught(engine: Engine) -> None:
    case_id = deploy_start(engine, error_boundary(), "consent")
    [job] = engine.fetch_and_lock("w1", [TopicRequest("consent")])
    before = snapshot(engine, case_id)
    with pytest.raises(OutcomeNotStored, match="OTHER"):
        engine.bpmn_error(job.id, "w1", "OTHER")
    assert without_jobs(snapshot(engine, case_id)) == without_jobs(before)


def test_extend_lock_and_unlock(engine: Engine, clock: TestClock) -> None:
    case_id = deploy_start(engine, single_job(), "jobs")
    [job] = engine.fetch_and_lock("w1", [TopicRequest("work", lock_duration_ms=1_000)])

    with pytest.raises(Conflict, match="not locked by w2"):
        engine.extend_lock(job.id, "w2", 60_000)
    engine.extend_lock(job.id, "w1", 60_000)
    [row] = jobs_of(engine, case_id)
    assert same_instant(row.lock_expires_at, clock.now + timedelta(minutes=1))
    clock.advance(seconds=30)
    engine.release_expired_locks()
    assert engine.fetch_and_lock("w2", [TopicRequest("work")]) == []  # still held by w1

    engine.unlock(job.id)
    [row] = jobs_of(engine, case_id)
    assert (row.lock_owner, row.lock_expires_at) == (None, None)
    with pytest.raises(Conflict):
        engine.extend_lock(job.id, "w1", 60_000)
    [taken] = engine.fetch_and_lock("w2", [TopicRequest("work")])
    assert taken.worker_id == "w2"
    with pytest.raises(NotFound):
        engine.unlock("no-such-job")
    with pytest.raises(NotFound):
        engine.extend_lock("no-such-job", "w1", 1)


def test_extending_an_expired_lock_is_a_conflict(engine: Engine, clock: TestClock) -> None:
    deploy_start(engine, single_job(), "jobs")
    [job] = engine.fetch_and_lock("w1", [TopicRequest("work", lock_duration_ms=1_000)])
    clock.advance(seconds=2)
    with pytest.raises(Conflict):
        engine.extend_lock(job.id, "w1", 60_000)


def test_expired_lock_passes_to_another_worker_and_the_late_completion_conflicts(engine: Engine,
                                                                                clock: TestClock) -> None:
    case_id = deploy_start(engine, single_job(), "jobs")
    [job_a] = engine.fetch_and_lock("A", [TopicRequest("work", lock_duration_ms=5_000)])
    clock.advance(seconds=6)
    assert engine.release_expired_locks() == 1
    assert engine.release_expired_locks() == 0

    [job_b] = engine.fetch_and_lock("B", [TopicRequest("work")])
    assert job_b.id == job_a.id
    engine.complete_job(job_b.id, "B", {"by": "B"})
    version = case_version(engine, case_id)

    with pytest.raises(Conflict):
        engine.complete_job(job_a.id, "A", {"by": "A"})
    assert case_version(engine, case_id) == version
    assert engine.case(case_id)["variables"] == {"by": "B"}
    assert history_count(engine, case_id, "work") == 1
    assert history_count(engine, case_id, "after") == 1


def test_expired_lock_can_be_fetched_by_another_worker_without_release(engine: Engine, clock: TestClock) -> None:
    case_id = deploy_start(engine, single_job(), "jobs")
    [job_a] = engine.fetch_and_lock("A", [TopicRequest("work", lock_duration_ms=5_000)])
    clock.advance(seconds=6)
    [job_b] = engine.fetch_and_lock("B", [TopicRequest("work")])
    assert job_b.id == job_a.id
    with pytest.raises(Conflict, match="not by A"):
        engine.complete_job(job_a.id, "A")
    engine.complete_job(job_b.id, "B")
    assert open_task_elements(engine, case_id) == ["after"]


def test_a_locked_job_of_a_suspended_case_cannot_be_completed_until_resume(engine: Engine) -> None:
    case_id = deploy_start(engine, error_boundary(), "consent")
    [job] = engine.fetch_and_lock("w1", [TopicRequest("consent")])
    engine.suspend(case_id)
    before = snapshot(engine, case_id)

    with pytest.raises(Conflict, match="is suspended"):
        engine.complete_job(job.id, "w1", {"x": 1})
    with pytest.raises(Conflict, match="is suspended"):
        engine.bpmn_error(job.id, "w1", "NO_CONSENT")
    assert snapshot(engine, case_id) == before

    engine.resume(case_id)
    engine.complete_job(job.id, "w1", {"x": 1})
    assert open_task_elements(engine, case_id) == ["proceed"]


def test_the_job_of_a_cancelled_case_is_gone(engine: Engine) -> None:
    case_id = deploy_start(engine, single_job(), "jobs")
    [job] = engine.fetch_and_lock("w1", [TopicRequest("work")])
    engine.cancel(case_id)
    with pytest.raises(Conflict, match="already been cancelled"):
        engine.complete_job(job.id, "w1")
    with pytest.raises(Conflict, match="already been cancelled"):
        engine.fail_job(job.id, "w1", "boom")
    assert incidents_of(engine, case_id) == []


def test_concurrent_fetches_never_hand_out_the_same_job(engine: Engine) -> None:
    engine.deploy({"jobs.bpmn": single_job()})
    cases = {engine.start("jobs") for _ in range(6)}

    got = race(*[lambda w=w: engine.fetch_and_lock(w, [TopicRequest("work")], max_jobs=2)
                 for w in ("w1", "w2", "w3", "w4")])

    assert all(isinstance(r, list) for r in got), got
    ids = [j.id for r in got for j in r]
    assert len(ids) == len(set(ids)) == 6
    assert {j.case_id for r in got for j in r} == cases
    owners = {j.id: j.worker_id for r in got for j in r}
    for case_id in cases:
        [row] = jobs_of(engine, case_id)
        assert row.lock_owner == owners[row.id]


def test_higher_priority_jobs_are_fetched_first(engine: Engine) -> None:
    low = deploy_start(engine, single_job("low", topic="t"), "low")
    high_xml = single_job("high", topic="t").replace(b'camunda:topic="t"',
                                                     b'camunda:topic="t" camunda:taskPriority="50"')
    high = deploy_start(engine, high_xml, "high")
    [first] = engine.fetch_and_lock("w", [TopicRequest("t")], max_jobs=1)
    [second] = engine.fetch_and_lock("w", [TopicRequest("t")], max_jobs=1)
    assert (first.case_id, first.priority) == (high, 50)
    assert (second.case_id, second.priority) == (low, 0)


def test_a_job_completion_that_fails_rolls_back_and_counts_a_failed_attempt(engine: Engine, clock: TestClock) -> None:
    xml = process("mapped", """
<bpmn:startEvent id="start"/>
<bpmn:serviceTask id="work" camunda:type="external" camunda:topic="work">
  <bpmn:extensionElements><camunda:inputOutput>
    <camunda:outputParameter name="total">${price * 2}</camunda:outputParameter>
  </camunda:inputOutput></bpmn:extensionElements>
</bpmn:serviceTask>
<bpmn:userTask id="after"/>
<bpmn:endEvent id="end"/>
""" + chain("start", "work", "after", "end"))
    case_id = deploy_start(engine, xml, "mapped")
    [job] = engine.fetch_and_lock("w1", [TopicRequest("work")])
    before = snapshot(engine, case_id)

    with pytest.raises(OutcomeNotStored, match="price") as err:
        engine.complete_job(job.id, "w1", {"cost": 3})  # the mapping needs `price`
    assert (err.value.element_id, err.value.retries_left) == ("work", 2)
    assert without_jobs(snapshot(engine, case_id)) == without_jobs(before)
    [row] = jobs_of(engine, case_id)
    assert (row.lock_owner, row.retries, row.element_id) == (None, 2, "work") and "price" in row.error_message

    clock.advance(seconds=10)
    [job] = engine.fetch_and_lock("w1", [TopicRequest("work")])
    engine.complete_job(job.id, "w1", {"price": 3})
    assert engine.case(case_id)["variables"]["total"] == 6
    assert open_task_elements(engine, case_id) == ["after"]


def test_unlock_by_a_worker_that_no_longer_holds_the_job_is_a_conflict(engine: Engine, clock: TestClock) -> None:
    body = ('<bpmn:startEvent id="s"/><bpmn:serviceTask id="t" camunda:type="external" camunda:topic="unlockme"/>'
            '<bpmn:endEvent id="e"/>' + chain("s", "t", "e"))
    engine.deploy({"unlock.bpmn": process("unlock_p", body)})
    case_id = engine.start("unlock_p")
    (job,) = engine.fetch_and_lock("a", [TopicRequest("unlockme", lock_duration_ms=1000)], 1)
    clock.advance(seconds=2)
    engine.release_expired_locks()
    (taken,) = engine.fetch_and_lock("b", [TopicRequest("unlockme")], 1)
    assert taken.id == job.id
    with pytest.raises(Conflict):
        engine.unlock(job.id, "a")
    assert engine.fetch_and_lock("c", [TopicRequest("unlockme")], 1) == []
    engine.unlock(job.id, "b")
    assert [j.id for j in engine.fetch_and_lock("c", [TopicRequest("unlockme")], 1)] == [job.id]
    assert engine.case(case_id)["status"] == "active"



# -- a worker whose lock ran out and passed to another ------------------------------------------------


def after_next_transaction(monkeypatch: pytest.MonkeyPatch, engine: Engine, action: Callable[[], Any]) -> None:
    """Run `action` once, as soon as the next database transaction has committed.

    A call that checks the holder in one transaction and acts in a second one lets `action` (another
    worker taking the job over) slip in between; a call that does both in one transaction does not.
    """
    original = engine.db.transaction
    pending = [action]

    @contextmanager
    def transaction() -> Iterator[Any]:
        with original() as session:
            yield session
        if pending:
            pending.pop()()

    monkeypatch.setattr(engine.db, "transaction", transaction)


def takeover(engine: Engine, clock: TestClock, complete: bool = False) -> tuple[Callable[[], None], list[LockedJob]]:
    """What B does: A's 1-second lock runs out, B fetches the job (and completes it); and what B took."""
    taken: list[LockedJob] = []

    def run() -> None:
        clock.advance(seconds=2)
        taken.extend(engine.fetch_and_lock("B", [TopicRequest("work")]))
        if complete and taken:
            engine.complete_job(taken[0].id, "B", {"by": "B"})

    return run, taken


def attempt(action: Callable[[], Any]) -> Any:
    try:
        return action()
    except EngineError as err:
        return err


def test_a_late_failure_never_clears_the_new_holders_lock_nor_uses_its_retries(engine: Engine, clock: TestClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    case_id = deploy_start(engine, single_job(), "jobs")
    [job] = engine.fetch_and_lock("A", [TopicRequest("work", lock_duration_ms=1_000)])
    run, taken = takeover(engine, clock)
    after_next_transaction(monkeypatch, engine, run)

    outcome = attempt(lambda: engine.fail_job(job.id, "A", "A gave up"))

    [row] = jobs_of(engine, case_id)
    if taken:  # B holds the job: A's failure came too late and changed nothing
        assert isinstance(outcome, Conflict), outcome
        assert (row.lock_owner, row.retries, row.error_message) == ("B", None, None)
    else:  # A failed while it still held the job; B found it backing off
        assert isinstance(outcome, FailureOutcome) and outcome.retries_left == 2
        assert (row.lock_owner, row.retries, row.error_message) == (None, 2, "A gave up")
    assert incidents_of(engine, case_id) == []


def test_a_late_failure_of_a_job_completed_meanwhile_is_a_conflict(engine: Engine, clock: TestClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    case_id = deploy_start(engine, single_job(), "jobs")
    [job] = engine.fetch_and_lock("A", [TopicRequest("work", lock_duration_ms=1_000)])
    run, taken = takeover(engine, clock, complete=True)
    after_next_transaction(monkeypatch, engine, run)

    outcome = attempt(lambda: engine.fail_job(job.id, "A", "A gave up", retries=0))

    if taken:  # B completed the job: A learns it is gone, as a Conflict, never a raw database error
        assert isinstance(outcome, Conflict), outcome
        assert engine.case(case_id)["variables"] == {"by": "B"}
        assert open_task_elements(engine, case_id) == ["after"]
        assert incidents_of(engine, case_id) == []
    else:
        assert isinstance(outcome, FailureOutcome) and outcome.incident
        assert [i.job_id for i in incidents_of(engine, case_id)] == [job.id]


def test_a_late_bpmn_error_is_not_thrown_into_a_case_whose_job_another_worker_holds(engine: Engine, clock: TestClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    case_id = deploy_start(engine, error_boundary().replace(b'camunda:topic="consent"', b'camunda:topic="work"'),
                           "consent")
    [job] = engine.fetch_and_lock("A", [TopicRequest("work", lock_duration_ms=1_000)])
    run, taken = takeover(engine, clock)
    after_next_transaction(monkeypatch, engine, run)

    outcome = attempt(lambda: engine.bpmn_error(job.id, "A", "NO_CONSENT"))

    if taken:  # B holds the job: the case did not move
        assert isinstance(outcome, Conflict), outcome
        assert open_task_elements(engine, case_id) == []
        assert [j.lock_owner for j in jobs_of(engine, case_id)] == ["B"]
    else:  # A's error went in while A held the job: the job is gone, nothing was left for B
        assert outcome is None
        assert open_task_elements(engine, case_id) == ["ask_consent"]
        assert jobs_of(engine, case_id) == []


def test_after_the_lock_passed_on_the_old_holder_can_neither_fail_nor_error_nor_extend_nor_unlock(
        engine: Engine, clock: TestClock) -> None:
    case_id = deploy_start(engine, error_boundary().replace(b'camunda:topic="consent"', b'camunda:topic="work"'),
                           "consent")
    [job] = engine.fetch_and_lock("A", [TopicRequest("work", lock_duration_ms=1_000)])
    clock.advance(seconds=2)
    [taken] = engine.fetch_and_lock("B", [TopicRequest("work", lock_duration_ms=60_000)])
    before = snapshot(engine, case_id)

    for late in (lambda: engine.fail_job(job.id, "A", "late"), lambda: engine.bpmn_error(job.id, "A", "NO_CONSENT"),
                 lambda: engine.extend_lock(job.id, "A", 60_000), lambda: engine.unlock(job.id, "A"),
                 lambda: engine.complete_job(job.id, "A")):
        with pytest.raises(Conflict, match="not by A|not locked by A|no longer locked by A"):
            late()
    assert snapshot(engine, case_id) == before
    [row] = jobs_of(engine, case_id)
    assert (row.lock_owner, row.retries) == ("B", None)
    engine.complete_job(taken.id, "B")
    assert open_task_elements(engine, case_id) == ["proceed"]


def test_locks_of_a_job_that_is_gone_are_typed_errors(engine: Engine) -> None:
    case_id = deploy_start(engine, single_job(), "jobs")
    [job] = engine.fetch_and_lock("w1", [TopicRequest("work")])
    engine.complete_job(job.id, "w1")
    assert open_task_elements(engine, case_id) == ["after"]
    for late in (lambda: engine.fail_job(job.id, "w1", "late"), lambda: engine.bpmn_error(job.id, "w1", "X"),
                 lambda: engine.extend_lock(job.id, "w1", 1_000), lambda: engine.unlock(job.id, "w1"),
                 lambda: engine.unlock(job.id)):
        with pytest.raises(Conflict, match="already been completed"):
            late()
    for unknown in (lambda: engine.fail_job("no-such-job", "w1", "x"),
                    lambda: engine.bpmn_error("no-such-job", "w1", "X"),
                    lambda: engine.extend_lock("no-such-job", "w1", 1), lambda: engine.unlock("no-such-job", "w1")):
        with pytest.raises(NotFound):
            unknown()
