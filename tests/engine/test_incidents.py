"""Incidents can be repaired: retry a failed job, re-arm a failed timer, set variables first, or resolve."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.errors import Conflict, NotFound, ProcessError
from engine.jobs import TopicRequest
from engine.runtime import Engine
from tests.engine.runtime_support import (
    deploy_start,
    incidents_of,
    jobs_of,
    open_task_elements,
    race,
    single_job,
    timers_of,
)
from tests.engine.test_runtime_timers import wait_then_decide


def same_instant(a, b) -> bool:
    return a.replace(tzinfo=None) == b.replace(tzinfo=None)


def failed_job(engine: Engine, business_key: str = "BK-1", variables: dict | None = None) -> tuple[str, str]:
    """A case whose job failed for the last time: (case id, job id)."""
    case_id = deploy_start(engine, single_job(), "jobs", business_key, variables)
    [job] = engine.fetch_and_lock("w1", [TopicRequest("work")])
    assert engine.fail_job(job.id, "w1", "mail server down", "trace", retries=0).incident
    return case_id, job.id


def failed_timer(engine: Engine, clock) -> tuple[str, str]:
    """A case whose timer fired into a gateway that cannot decide (no `n`): (case id, timer id)."""
    case_id = deploy_start(engine, wait_then_decide(), "decide", variables={"waitFor": "PT1H"})
    [timer] = timers_of(engine, case_id)
    clock.advance(hours=2)
    assert engine.fire_due_timers() == 0
    return case_id, timer.id


def test_a_retried_job_is_fetched_again_and_the_case_moves_on(engine: Engine, clock) -> None:
    case_id, job_id = failed_job(engine)
    [incident] = engine.incidents()
    assert (incident.case_id, incident.business_key, incident.element_id, incident.kind, incident.message) == (
        case_id, "BK-1", "work", "failedExternalTask", "mail server down")
    assert (incident.job_id, incident.created_at, incident.open) == (job_id, clock.now, True)
    assert engine.fetch_and_lock("w1", [TopicRequest("work")]) == []

    clock.advance(minutes=5)
    repaired = engine.retry_incident(incident.id, actor="ops", note="mail server is back")

    assert (repaired.resolution, repaired.resolved_by, repaired.note) == ("retried", "ops", "mail server is back")
    assert repaired.resolved_at == clock.now and not repaired.open
    assert engine.incidents() == []
    assert engine.incidents(open_only=False) == [repaired]
    [row] = jobs_of(engine, case_id)
    assert (row.retries, row.error_message, row.error_details) == (engine.retry.retries, "mail server down", "trace")
    [again] = engine.fetch_and_lock("w2", [TopicRequest("work")])
    assert (again.id, again.error_message) == (job_id, "mail server down")
    engine.complete_job(again.id, "w2", {"sent": True})
    assert open_task_elements(engine, case_id) == ["after"]
    assert engine.case(case_id)["variables"]["sent"] is True


def test_a_retry_can_give_the_retries_and_a_time_to_wait_for(engine: Engine, clock) -> None:
    case_id, _ = failed_job(engine)
    [incident] = engine.incidents()
    engine.retry_incident(incident.id, "ops", "after the maintenance break", retries=7,
                          at=clock.now + timedelta(hours=1))
    assert jobs_of(engine, case_id)[0].retries == 7
    clock.advance(minutes=59)
    assert engine.fetch_and_lock("w1", [TopicRequest("work")]) == []
    clock.advance(minutes=1)
    [job] = engine.fetch_and_lock("w1", [TopicRequest("work")])
    # failing again counts down from the given retries; at zero a new incident opens
    assert engine.fail_job(job.id, "w1", "down again").retries_left == 6
    clock.advance(hours=1)
    [job] = engine.fetch_and_lock("w1", [TopicRequest("work")])
    assert engine.fail_job(job.id, "w1", "down for good", retries=0).incident
    [new] = engine.incidents()
    assert new.id != incident.id and new.message == "down for good"
    assert [i.resolution for i in incidents_of(engine, case_id)] == ["retried", None]


def test_set_variables_and_retry_in_one_transaction(engine: Engine, clock) -> None:
    case_id, _ = failed_job(engine, variables={"to": "wrong address"})
    [incident] = engine.incidents()

    engine.retry_incident(incident.id, "ops", "address corrected", variables={"to": "a@b.fi", "checked": True})

    assert engine.case(case_id)["variables"]["to"] == "a@b.fi"
    [job] = engine.fetch_and_lock("w1", [TopicRequest("work")])
    assert job.variables["to"] == "a@b.fi" and job.variables["checked"] is True
    engine.complete_job(job.id, "w1")
    assert open_task_elements(engine, case_id) == ["after"]
    assert engine.case(case_id)["variables"]["to"] == "a@b.fi"


def test_variables_that_cannot_be_saved_change_nothing(engine: Engine) -> None:
    case_id, _ = failed_job(engine, variables={"to": "x"})
    [incident] = engine.incidents()
    with pytest.raises(ProcessError, match="cannot be saved"):
        engine.retry_incident(incident.id, "ops", "oops", variables={"to": object()})
    assert engine.incidents() == [incident]
    assert jobs_of(engine, case_id)[0].retries == 0
    assert engine.case(case_id)["variables"]["to"] == "x"


def test_a_failed_timer_is_rearmed_with_fixed_variables_and_fires(engine: Engine, clock) -> None:
    case_id, timer_id = failed_timer(engine, clock)
    [incident] = engine.incidents()
    assert (incident.kind, incident.element_id, incident.job_id) == ("failedTimer", "pause", timer_id)
    clock.advance(hours=1)
    assert engine.fire_due_timers() == 0  # skipped while the incident is open

    engine.retry_incident(incident.id, "ops", "n was missing", variables={"n": 5})

    assert engine.fire_due_timers() == 1
    assert open_task_elements(engine, case_id) == ["big"]
    assert engine.case(case_id)["variables"]["n"] == 5
    [closed] = engine.incidents(open_only=False)
    assert (closed.resolution, closed.resolved_by, closed.note) == ("rearmed", "ops", "n was missing")


def test_a_rearmed_timer_can_wait_for_a_given_time(engine: Engine, clock) -> None:
    case_id, timer_id = failed_timer(engine, clock)
    [incident] = engine.incidents()
    at = clock.now + timedelta(days=1)
    engine.retry_incident(incident.id, "ops", "tomorrow", at=at, variables={"n": 0})
    [timer] = timers_of(engine, case_id)
    assert timer.id == timer_id and same_instant(timer.due_at, at)
    assert [w.get("due") for w in engine.case(case_id)["waiting"]] == [at.isoformat()]
    clock.advance(hours=23)
    assert engine.fire_due_timers() == 0
    clock.advance(hours=1)
    assert engine.fire_due_timers() == 1
    assert open_task_elements(engine, case_id) == ["small"]


def test_a_timer_rearmed_without_a_fix_fails_again_into_a_new_incident(engine: Engine, clock) -> None:
    case_id, _ = failed_timer(engine, clock)
    [first] = engine.incidents()
    engine.retry_incident(first.id, "ops", "try once more")
    assert engine.fire_due_timers() == 0
    [second] = engine.incidents()
    assert second.id != first.id and "Unknown variable 'n'" in second.message
    assert [i.resolution for i in incidents_of(engine, case_id)] == ["rearmed", None]


def test_a_timer_has_no_retries_to_set(engine: Engine, clock) -> None:
    failed_timer(engine, clock)
    [incident] = engine.incidents()
    with pytest.raises(Conflict, match="no retries"):
        engine.retry_incident(incident.id, "ops", "x", retries=3)
    assert engine.incidents() == [incident]


def test_resolving_a_job_incident_leaves_the_job_parked_at_zero_retries(engine: Engine, clock) -> None:
    case_id, job_id = failed_job(engine)
    [incident] = engine.incidents()

    resolved = engine.resolve_incident(incident.id, "ops", "letter sent by hand")

    assert (resolved.resolution, resolved.resolved_by, resolved.note) == ("resolved", "ops", "letter sent by hand")
    assert engine.incidents() == []
    assert jobs_of(engine, case_id)[0].retries == 0
    clock.advance(days=1)
    assert engine.fetch_and_lock("w1", [TopicRequest("work")]) == []
    with pytest.raises(Conflict, match="already resolved by ops"):
        engine.retry_incident(incident.id, "ops", "again")
    # the job's retries can still be set again (Camunda's "set retries")
    engine.set_job_retries(job_id, 2, "ops")
    [job] = engine.fetch_and_lock("w1", [TopicRequest("work")])
    assert job.id == job_id


def test_a_waiting_timer_cannot_be_resolved_and_cancelling_its_case_closes_it(engine: Engine, clock) -> None:
    case_id, _ = failed_timer(engine, clock)
    [incident] = engine.incidents()
    with pytest.raises(Conflict, match="re-arm"):
        engine.resolve_incident(incident.id, "ops", "fixed")
    assert engine.incidents() == [incident]

    engine.cancel(case_id, actor="ops")
    assert engine.incidents() == []
    [closed] = engine.incidents(open_only=False)
    assert (closed.resolution, closed.resolved_by, closed.resolved_at) == ("obsolete", "ops", clock.now)
    with pytest.raises(Conflict, match="already obsolete"):
        engine.retry_incident(incident.id, "ops", "too late")


def job_with_deadline() -> bytes:
    """start → work (external job, interrupting boundary timer PT1H → manual) → end."""
    from tests.diagrams import chain, flow, process

    return process("deadline", """
<bpmn:startEvent id="start"/>
<bpmn:serviceTask id="work" name="Work" camunda:type="external" camunda:topic="work"/>
<bpmn:boundaryEvent id="late" attachedToRef="work">
  <bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>
</bpmn:boundaryEvent>
<bpmn:userTask id="manual" name="Do it by hand"/>
<bpmn:endEvent id="end"/>
<bpmn:endEvent id="end_manual"/>
""" + chain("start", "work", "end") + flow("f_late_manual", "late", "manual") + flow("f_manual_end", "manual",
                                                                                   "end_manual"))


def test_an_incident_closes_itself_when_the_case_moves_on_from_the_failed_job(engine: Engine, clock) -> None:
    """As Camunda removes it: nobody has to resolve an incident the case has left behind."""
    case_id = deploy_start(engine, job_with_deadline(), "deadline")
    [job] = engine.fetch_and_lock("w1", [TopicRequest("work")])
    engine.fail_job(job.id, "w1", "partner system down", retries=0)
    [incident] = engine.incidents()
    clock.advance(hours=2)
    engine.fire_due_timers()

    assert open_task_elements(engine, case_id) == ["manual"]
    assert engine.incidents() == []
    [closed] = engine.incidents(open_only=False)
    assert (closed.id, closed.resolution, closed.note) == (incident.id, "obsolete", "the case no longer waits there")


def test_unknown_and_already_repaired_incidents(engine: Engine) -> None:
    with pytest.raises(NotFound):
        engine.retry_incident(999, "ops", "x")
    with pytest.raises(NotFound):
        engine.resolve_incident(999, "ops", "x")
    with pytest.raises(NotFound):
        engine.incident(999)
    failed_job(engine)
    [incident] = engine.incidents()
    engine.retry_incident(incident.id, "ops", "first")
    with pytest.raises(Conflict, match="already retried by ops"):
        engine.retry_incident(incident.id, "someone", "second")
    with pytest.raises(Conflict, match="already retried"):
        engine.resolve_incident(incident.id, "someone", "second")
    assert engine.incident(incident.id).note == "first"


def test_two_operators_retrying_at_once_retry_once(engine: Engine) -> None:
    case_id, _ = failed_job(engine)
    [incident] = engine.incidents()
    results = race(lambda: engine.retry_incident(incident.id, "ann", "a"),
                   lambda: engine.retry_incident(incident.id, "bob", "b"))
    assert sorted(type(r).__name__ for r in results) == ["Conflict", "IncidentRecord"]
    winner = next(r for r in results if not isinstance(r, Exception))
    assert engine.incident(incident.id).resolved_by == winner.resolved_by
    assert jobs_of(engine, case_id)[0].retries == engine.retry.retries


def test_listing_filters_and_counts(engine: Engine, clock) -> None:
    job_case, job_id = failed_job(engine, "BK-J")
    timer_case, timer_id = failed_timer(engine, clock)
    [job_incident, timer_incident] = engine.incidents()
    assert (job_incident.job_id, timer_incident.job_id) == (job_id, timer_id)
    assert engine.incidents(case_id=timer_case) == [timer_incident]
    assert engine.incidents(kind="failedExternalTask") == [job_incident]
    assert engine.incidents(element_id="pause") == [timer_incident]
    assert engine.incidents(job_id=job_id) == [job_incident]
    assert engine.count_incidents() == 2
    engine.resolve_incident(job_incident.id, "ops", "done by hand")
    assert engine.count_incidents() == 1 and engine.count_incidents(open_only=False) == 2
    assert job_incident.as_json()["businessKey"] == "BK-J"


def test_set_job_retries_opens_and_closes_incidents(engine: Engine) -> None:
    case_id = deploy_start(engine, single_job(), "jobs")
    [job] = jobs_of(engine, case_id)
    engine.set_job_retries(job.id, 0, "ops")
    [incident] = engine.incidents()
    assert (incident.kind, incident.message) == ("failedExternalTask", "retries set to 0 by ops")
    assert engine.fetch_and_lock("w1", [TopicRequest("work")]) == []
    engine.set_job_retries(job.id, 1, "ops")
    assert engine.incident(incident.id).resolution == "retried"
    assert len(engine.fetch_and_lock("w1", [TopicRequest("work")])) == 1
    with pytest.raises(NotFound):
        engine.set_job_retries("nope", 1, "ops")


def test_set_timer_retries_rearms_and_moves_the_due_time(engine: Engine, clock) -> None:
    case_id, timer_id = failed_timer(engine, clock)
    [incident] = engine.incidents()
    engine.set_timer_retries(timer_id, 1, "ops", due=clock.now + timedelta(hours=3))
    assert engine.incident(incident.id).resolution == "rearmed"
    assert engine.fire_due_timers() == 0
    # the failure is still there: at its new time it fails into a new incident, which parks it again
    clock.advance(hours=3)
    assert engine.fire_due_timers() == 0
    assert len(engine.incidents()) == 1
    engine.set_timer_retries(timer_id, 0, "ops")  # already parked: no second incident
    assert len(engine.incidents()) == 1
    with pytest.raises(NotFound):
        engine.set_timer_retries("nope", 1, "ops")


def parallel_job_and_task() -> bytes:
    """start → fork → (work: external job | review: user task) → join → end."""
    from tests.diagrams import chain, flow, process

    return process("parallel", """
<bpmn:startEvent id="start"/>
<bpmn:parallelGateway id="fork"/>
<bpmn:serviceTask id="work" name="Work" camunda:type="external" camunda:topic="work"/>
<bpmn:userTask id="review" name="Review"/>
<bpmn:parallelGateway id="join"/>
<bpmn:endEvent id="end"/>
""" + chain("start", "fork", "work", "join", "end") + flow("f_fork_review", "fork", "review")
        + flow("f_review_join", "review", "join"))


def test_variables_set_by_a_repair_are_process_variables_seen_at_once(engine: Engine) -> None:
    """As in Camunda, the variables an operator sets reach the other branch now, not when the job completes."""
    case_id = deploy_start(engine, parallel_job_and_task(), "parallel", variables={"mailbox": "wrong"})
    [job] = engine.fetch_and_lock("w1", [TopicRequest("work")])
    engine.fail_job(job.id, "w1", "no such mailbox", retries=0)
    [incident] = engine.incidents()
    engine.retry_incident(incident.id, "ops", "mailbox fixed", variables={"mailbox": "right"})

    assert engine.case(case_id)["variables"]["mailbox"] == "right"
    [review] = engine.open_tasks(case_id)
    engine.complete_task(review.id, {})
    [again] = engine.fetch_and_lock("w1", [TopicRequest("work")])
    assert again.variables["mailbox"] == "right"
    engine.complete_job(again.id, "w1", {})
    case = engine.case(case_id)
    assert (case["status"], case["variables"]["mailbox"]) == ("completed", "right")
