"""A handler whose result cannot be stored is a failed attempt of its job, never a job rerun for ever.

Before, such a result (a NaN, which PostgreSQL's JSON refuses; a duration the next timer cannot use;
anything the database will not store) left the job locked until its lock ran out, and the worker ran
the handler again, every lock expiry, with no retry counted, no error recorded and no incident.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from engine.jobs import TopicRequest
from engine.runtime import Engine
from tests.conftest import POSTGRES_URL, TestClock, wait_for
from tests.diagrams import chain, process
from tests.engine.runtime_support import deploy_start, incidents_of, jobs_of, open_task_elements, single_job
from tests.workers.test_runner import make_runner, running
from workers.handler import HandlerRegistry, JobContext
from workers.outcome import Completed, report


def job_then_timer() -> bytes:
    """start → work (external job) → pause (a timer reading the job's `waitFor`) → after → end."""
    return process("prepared", """
<bpmn:startEvent id="start"/>
<bpmn:serviceTask id="work" camunda:type="external" camunda:topic="work"/>
<bpmn:intermediateCatchEvent id="pause">
  <bpmn:timerEventDefinition><bpmn:timeDuration>${waitFor}</bpmn:timeDuration></bpmn:timerEventDefinition>
</bpmn:intermediateCatchEvent>
<bpmn:userTask id="after"/>
<bpmn:endEvent id="end"/>
""" + chain("start", "work", "pause", "after", "end"))


def job_then_assigned_task() -> bytes:
    """start → work (external job) → after (assigned to the job's `who`) → end."""
    return process("assigned", """
<bpmn:startEvent id="start"/>
<bpmn:serviceTask id="work" camunda:type="external" camunda:topic="work"/>
<bpmn:userTask id="after" camunda:assignee="${who}"/>
<bpmn:endEvent id="end"/>
""" + chain("start", "work", "after", "end"))


def job_row(engine: Engine, case_id: str) -> Any:
    [row] = jobs_of(engine, case_id)
    return row


def run_to_incident(engine: Engine, clock: TestClock, case_id: str, result: Callable[[], dict[str, Any]]
                    ) -> tuple[list[int | None], list[Any]]:
    """Run the job under the worker runner until its incident; (retries each run saw, the job after each attempt)."""
    registry = HandlerRegistry()
    runs: list[int | None] = []

    @registry.handler("work")
    def work(job: JobContext) -> dict[str, Any]:
        runs.append(job.retries)  # stands for a side effect, such as a mail sent
        return result()

    attempts: list[Any] = []
    with running(make_runner(engine, registry, lock_ms=30_000)):
        for retries_left, back_off in ((2, 10), (1, 20), (0, None)):
            row = wait_for(lambda r=retries_left: (lambda j: j if j.retries == r else None)(job_row(engine, case_id)),
                           message=f"the attempt leaving {retries_left} retries")
            attempts.append(row)
            if back_off is not None:
                clock.advance(seconds=back_off)
        wait_for(lambda: incidents_of(engine, case_id), message="the incident")
    return runs, attempts


def assert_failed_for_good(engine: Engine, clock: TestClock, case_id: str, runs: list[int | None],
                           attempts: list[Any]) -> None:
    """Three runs, each a counted attempt with its back-off and error, then an incident and no fourth run."""
    assert runs == [None, 2, 1]
    assert [(a.retries, a.lock_owner) for a in attempts] == [(2, None), (1, None), (0, None)]
    assert all(a.error_message and a.error_details for a in attempts)
    assert attempts[0].next_attempt_at is not None and attempts[-1].next_attempt_at is None
    [incident] = incidents_of(engine, case_id)
    assert (incident.kind, incident.element_id) == ("failedExternalTask", "work")
    assert incident.message == attempts[-1].error_message
    clock.advance(hours=1)
    engine.release_expired_locks()
    assert engine.fetch_and_lock("another", [TopicRequest("work")]) == []  # nothing left to run it again
    assert open_task_elements(engine, case_id) == [] and engine.case(case_id)["status"] == "active"


def test_a_handler_returning_nan_fails_its_job_three_times_then_opens_an_incident(engine: Engine,
                                                                                  clock: TestClock) -> None:
    """PostgreSQL's JSON refuses NaN; SQLite would store text its own JSON functions cannot read: refused on both."""
    case_id = deploy_start(engine, single_job(), "jobs", variables={"n": 1})

    runs, attempts = run_to_incident(engine, clock, case_id, lambda: {"ratio": float("nan"), "n": 2})

    assert_failed_for_good(engine, clock, case_id, runs, attempts)
    for attempt in attempts:
        assert "'ratio'" in attempt.error_message and "not finite" in attempt.error_message
    assert engine.case(case_id)["variables"] == {"n": 1}  # nothing of the refused result was kept


def test_a_handler_returning_a_duration_the_next_timer_cannot_use_fails_then_opens_an_incident(
        engine: Engine, clock: TestClock) -> None:
    case_id = deploy_start(engine, job_then_timer(), "prepared")

    runs, attempts = run_to_incident(engine, clock, case_id, lambda: {"waitFor": "garbage"})

    assert_failed_for_good(engine, clock, case_id, runs, attempts)
    assert all("duration" in a.error_message.lower() for a in attempts)
    assert engine.case(case_id)["variables"] == {}


def test_the_same_result_reported_again_after_an_incident_changes_nothing(engine: Engine, clock: TestClock) -> None:
    """A late report (a worker that held the result while the retries ran out) is a lost lock, not a fourth attempt."""
    case_id = deploy_start(engine, job_then_timer(), "prepared")
    for _ in range(3):
        [job] = engine.fetch_and_lock("w1", [TopicRequest("work")])
        report(engine, job.id, "w1", Completed({"waitFor": "garbage"}))
        clock.advance(minutes=1)
    assert job_row(engine, case_id).retries == 0 and len(incidents_of(engine, case_id)) == 1

    report(engine, job.id, "w1", Completed({"waitFor": "garbage"}))

    assert job_row(engine, case_id).retries == 0 and len(incidents_of(engine, case_id)) == 1


@pytest.mark.skipif(not POSTGRES_URL, reason="SQLite stores a string of any length in a VARCHAR(200)")
def test_a_value_the_database_refuses_is_a_failed_attempt_whose_error_quotes_no_data(engine: Engine,
                                                                                     clock: TestClock) -> None:
    """The task's assignee column holds 200 characters: PostgreSQL refuses the case transaction on this result.
    The job's error names the database error and the statement, never the row's values."""
    case_id = deploy_start(engine, job_then_assigned_task(), "assigned")
    secret = "Maija Meikäläinen " + "x" * 300

    runs, attempts = run_to_incident(engine, clock, case_id, lambda: {"who": secret})

    assert_failed_for_good(engine, clock, case_id, runs, attempts)
    for attempt in attempts:
        assert attempt.error_message.startswith("the database refused the outcome: sqlalchemy.exc.DataError")
        assert "22001" in attempt.error_message  # string data right truncation
        assert "Maija" not in attempt.error_message and "Maija" not in attempt.error_details
