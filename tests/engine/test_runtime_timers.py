"""Timers through the Engine: boundary timers, JUEL durations, and firing exactly once across schedulers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.db import Database
from engine.errors import ProcessError
from engine.jobs import TopicRequest
from engine.models import Incident
from engine.runtime import Engine
from tests.diagrams import chain, flow, process
from tests.engine.runtime_support import (
    deploy_start,
    history,
    history_count,
    incidents_of,
    jobs_of,
    open_task,
    open_task_elements,
    race,
    snapshot,
    timers_of,
)


def same_instant(a, b) -> bool:
    return a.replace(tzinfo=None) == b.replace(tzinfo=None)


def boundary_timer(interrupting: bool = True) -> bytes:
    """review has a PT1H timer; when it fires the case goes to escalate."""
    cancel = "true" if interrupting else "false"
    return process("sla", f"""
<bpmn:startEvent id="start"/>
<bpmn:userTask id="review" name="Review"/>
<bpmn:boundaryEvent id="overdue" name="Overdue" attachedToRef="review" cancelActivity="{cancel}">
  <bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>
</bpmn:boundaryEvent>
<bpmn:userTask id="escalate" name="Escalate"/>
<bpmn:endEvent id="end"/><bpmn:endEvent id="end_late"/>
""" + chain("start", "review", "end") + chain("overdue", "escalate", "end_late"))


def test_boundary_timer_fires_only_after_its_due_time(engine: Engine, clock) -> None:
    started = clock.now
    case_id = deploy_start(engine, boundary_timer(), "sla")
    [timer] = timers_of(engine, case_id)
    assert timer.element_id == "overdue"
    assert same_instant(timer.due_at, started + timedelta(hours=1))
    waiting = {w["id"]: w for w in engine.case(case_id)["waiting"]}
    assert waiting["overdue"]["kind"] == "timer"

    clock.advance(minutes=59)
    assert engine.fire_due_timers() == 0
    assert open_task_elements(engine, case_id) == ["review"]

    clock.advance(hours=2)
    assert engine.fire_due_timers() == 1
    assert open_task_elements(engine, case_id) == ["escalate"]
    assert timers_of(engine, case_id) == []
    states = {h.element_id: h.state for h in history(engine, case_id)}
    assert (states["overdue"], states["review"]) == ("completed", "cancelled")
    assert engine.fire_due_timers() == 0


def test_non_interrupting_boundary_timer_keeps_the_task(engine: Engine, clock) -> None:
    case_id = deploy_start(engine, boundary_timer(interrupting=False), "sla")
    review = open_task(engine, case_id, "review")
    clock.advance(hours=2)
    assert engine.fire_due_timers() == 1
    assert open_task_elements(engine, case_id) == ["escalate", "review"]
    assert open_task(engine, case_id, "review").id == review.id
    assert engine.fire_due_timers() == 0
    assert history_count(engine, case_id, "escalate") == 1


def test_completing_the_task_first_removes_its_timer(engine: Engine, clock) -> None:
    case_id = deploy_start(engine, boundary_timer(), "sla")
    engine.complete_task(open_task(engine, case_id).id, {})
    assert timers_of(engine, case_id) == []
    clock.advance(hours=2)
    assert engine.fire_due_timers() == 0
    assert engine.case(case_id)["status"] == "completed"


def juel_wait() -> bytes:
    return process("wait", """
<bpmn:startEvent id="start"/>
<bpmn:intermediateCatchEvent id="pause" name="Pause">
  <bpmn:timerEventDefinition><bpmn:timeDuration>${waitFor}</bpmn:timeDuration></bpmn:timerEventDefinition>
</bpmn:intermediateCatchEvent>
<bpmn:userTask id="resume" name="Resume"/>
<bpmn:endEvent id="end"/>
""" + chain("start", "pause", "resume", "end"))


def test_timer_catch_event_duration_comes_from_a_variable(engine: Engine, clock) -> None:
    started = clock.now
    case_id = deploy_start(engine, juel_wait(), "wait", variables={"waitFor": "P2D"})
    [timer] = timers_of(engine, case_id)
    assert (timer.element_id, same_instant(timer.due_at, started + timedelta(days=2))) == ("pause", True)

    clock.advance(days=1, hours=23)
    assert engine.fire_due_timers() == 0
    assert open_task_elements(engine, case_id) == []
    clock.advance(hours=1)
    assert engine.fire_due_timers() == 1
    assert open_task_elements(engine, case_id) == ["resume"]
    assert engine.case(case_id)["waiting"][0]["id"] == "resume"


def test_fire_timer_by_id_and_a_gone_timer(engine: Engine, clock) -> None:
    case_id = deploy_start(engine, juel_wait(), "wait", variables={"waitFor": "PT5M"})
    [timer] = timers_of(engine, case_id)
    # firing early moves the case as if the due time had come
    assert engine.fire_timer(timer.id) is True
    assert open_task_elements(engine, case_id) == ["resume"]
    assert engine.fire_timer(timer.id) is False


def test_firing_a_timer_leaves_other_cases_alone(engine: Engine, clock) -> None:
    engine.deploy({"wait.bpmn": juel_wait()})
    soon = engine.start("wait", variables={"waitFor": "PT1H"})
    later = engine.start("wait", variables={"waitFor": "PT3H"})
    before_later = snapshot(engine, later)
    clock.advance(hours=2)
    assert engine.fire_due_timers() == 1
    assert open_task_elements(engine, soon) == ["resume"]
    assert snapshot(engine, later) == before_later


def test_two_schedulers_fire_each_timer_exactly_once(db: Database, clock) -> None:
    first = Engine(db, clock=clock)
    second = Engine(Database(db.url), clock=clock)  # another process: its own engine and connection pool
    try:
        first.deploy({"sla.bpmn": boundary_timer(interrupting=False)})
        cases = [first.start("sla") for _ in range(6)]
        clock.advance(hours=2)

        fired = race(first.fire_due_timers, second.fire_due_timers)

        assert all(isinstance(n, int) for n in fired), fired
        assert sum(fired) == len(cases)
        for case_id in cases:
            assert history_count(first, case_id, "overdue") == 1
            assert history_count(first, case_id, "escalate") == 1
            assert open_task_elements(first, case_id) == ["escalate", "review"]
            assert timers_of(first, case_id) == []
        assert first.fire_due_timers() + second.fire_due_timers() == 0
    finally:
        second.db.dispose()


def wait_then_decide() -> bytes:
    return process("decide", """
<bpmn:startEvent id="start"/>
<bpmn:intermediateCatchEvent id="pause">
  <bpmn:timerEventDefinition><bpmn:timeDuration>${waitFor}</bpmn:timeDuration></bpmn:timerEventDefinition>
</bpmn:intermediateCatchEvent>
<bpmn:exclusiveGateway id="gw" name="Big?"/>
<bpmn:userTask id="big"/><bpmn:userTask id="small"/>
""" + chain("start", "pause", "gw") + flow("to_big", "gw", "big", "${n > 1}")
        + flow("to_small", "gw", "small", "${n &lt;= 1}"))


def test_a_timer_whose_case_fails_gets_an_incident_and_does_not_block_later_timers(engine: Engine, clock) -> None:
    engine.deploy({"decide.bpmn": wait_then_decide()})
    broken = engine.start("decide", variables={"waitFor": "PT1H"})  # no n: the gateway fails
    fine = engine.start("decide", variables={"waitFor": "PT2H", "n": 5})
    before = snapshot(engine, broken)
    clock.advance(hours=3)

    assert engine.fire_due_timers() == 1

    assert open_task_elements(engine, fine) == ["big"]
    after = snapshot(engine, broken)
    assert after == before  # rolled back: still waiting on its timer
    [incident] = incidents_of(engine, broken)
    assert (incident.kind, incident.element_id, incident.job_id) == ("failedTimer", "pause", before["timers"][0][0])
    assert "Unknown variable 'n'" in incident.message
    # the broken timer is not retried on every tick, and the incident is not duplicated
    assert engine.fire_due_timers() == 0
    assert len(incidents_of(engine, broken)) == 1
    # firing it by hand still reports the error
    with pytest.raises(ProcessError) as err:
        engine.fire_timer(before["timers"][0][0])
    assert err.value.element_id == "gw"


def test_a_waiting_timer_keeps_the_version_it_started_with(engine: Engine, clock) -> None:
    case_id = deploy_start(engine, wait_then_decide(), "decide", variables={"waitFor": "PT1H", "n": 0})
    engine.deploy({"decide.bpmn": wait_then_decide().replace(b'id="small"', b'id="small" name="v2"')})
    clock.advance(hours=1)
    assert engine.fire_due_timers() == 1
    assert engine.case(case_id)["version"] == 1
    assert open_task(engine, case_id).name is None


# -- every job a timer starts has its job row; a scheduler fires only what is due at its now ------------------


def reminders(cycle: str = "R2/PT1S", timers: int = 1) -> bytes:
    """review has `timers` non-interrupting cycle timers, each leading to an external task (topic remind)."""
    boundaries = "".join(
        f'<bpmn:boundaryEvent id="remind{n}" attachedToRef="review" cancelActivity="false">'
        f'<bpmn:timerEventDefinition><bpmn:timeCycle>{cycle}</bpmn:timeCycle></bpmn:timerEventDefinition>'
        f'</bpmn:boundaryEvent><bpmn:serviceTask id="notify{n}" camunda:type="external" camunda:topic="remind"/>'
        f'<bpmn:endEvent id="reminded{n}"/>' + chain(f"remind{n}", f"notify{n}", f"reminded{n}")
        for n in range(timers))
    return process("remind", '<bpmn:startEvent id="start"/><bpmn:userTask id="review"/><bpmn:endEvent id="end"/>'
                   + chain("start", "review", "end") + boundaries)


def waiting_externals(engine: Engine, case_id: str) -> list[str]:
    """Ids of the external tasks the case waits at, from the engine's history (not the job table)."""
    return sorted(h.task_id for h in history(engine, case_id)
                  if h.element_type == "ExternalTask" and h.state == "active")


def assert_one_job_per_waiting_external(engine: Engine, case_id: str, expected: int) -> None:
    job_ids = sorted(j.id for j in jobs_of(engine, case_id))
    assert job_ids == waiting_externals(engine, case_id)
    assert len(job_ids) == expected
    assert sum(1 for w in engine.case(case_id)["waiting"] if w["kind"] == "job") == expected


def test_cycle_occurrences_fired_together_each_get_their_job(engine: Engine, clock) -> None:
    case_id = deploy_start(engine, reminders("R2/PT1S"), "remind")
    clock.advance(seconds=5)  # both occurrences are due when the scheduler reaches the case

    assert engine.fire_due_timers() == 1

    assert_one_job_per_waiting_external(engine, case_id, 2)
    assert timers_of(engine, case_id) == []  # R2: nothing more to fire
    assert engine.fire_due_timers() == 0
    for job in engine.fetch_and_lock("w", [TopicRequest("remind")], max_jobs=10):
        engine.complete_job(job.id, "w")
    assert jobs_of(engine, case_id) == [] and waiting_externals(engine, case_id) == []
    assert open_task_elements(engine, case_id) == ["review"]


def test_cycle_occurrences_fired_in_separate_ticks_each_get_their_job(engine: Engine, clock) -> None:
    case_id = deploy_start(engine, reminders("R2/PT1S"), "remind")
    clock.advance(seconds=1)
    assert engine.fire_due_timers() == 1
    assert_one_job_per_waiting_external(engine, case_id, 1)
    [timer] = timers_of(engine, case_id)
    assert same_instant(timer.due_at, clock.now + timedelta(seconds=1))

    clock.advance(seconds=1)
    assert engine.fire_due_timers() == 1
    assert_one_job_per_waiting_external(engine, case_id, 2)
    assert timers_of(engine, case_id) == []


def parallel_review_and_other() -> bytes:
    """review (non-interrupting R2/PT1H timer → notify job) and, in parallel, other → file (job)."""
    return process("both", """
<bpmn:startEvent id="start"/><bpmn:parallelGateway id="split"/>
<bpmn:userTask id="review"/><bpmn:userTask id="other"/>
<bpmn:boundaryEvent id="remind" attachedToRef="review" cancelActivity="false">
  <bpmn:timerEventDefinition><bpmn:timeCycle>R2/PT1H</bpmn:timeCycle></bpmn:timerEventDefinition>
</bpmn:boundaryEvent>
<bpmn:serviceTask id="notify" camunda:type="external" camunda:topic="remind"/>
<bpmn:serviceTask id="file" camunda:type="external" camunda:topic="file"/>
<bpmn:endEvent id="end1"/><bpmn:endEvent id="end2"/><bpmn:endEvent id="end3"/>
""" + chain("start", "split") + chain("split", "review", "end1") + chain("split", "other", "file", "end2")
        + chain("remind", "notify", "end3"))


def test_a_due_timer_fired_by_another_action_gets_its_job(engine: Engine, clock) -> None:
    case_id = deploy_start(engine, parallel_review_and_other(), "both")
    clock.advance(hours=3)  # both occurrences are due, no scheduler ran yet; someone completes the other task

    engine.complete_task(open_task(engine, case_id, "other").id, {})

    assert_one_job_per_waiting_external(engine, case_id, 3)  # notify twice, file once
    assert timers_of(engine, case_id) == []
    assert engine.fire_due_timers() == 0


def test_two_cycle_timers_due_together_fire_once_each_never_ahead(engine: Engine, clock) -> None:
    case_id = deploy_start(engine, reminders("R3/PT1H", timers=2), "remind")
    clock.advance(hours=1)

    assert engine.fire_due_timers() == 2

    # one occurrence each; the next ones (same timer ids, due in an hour) wait for their time
    assert_one_job_per_waiting_external(engine, case_id, 2)
    assert [same_instant(t.due_at, clock.now + timedelta(hours=1)) for t in timers_of(engine, case_id)] == [True] * 2
    assert engine.fire_due_timers() == 0
    clock.advance(minutes=59)
    assert engine.fire_due_timers() == 0
    clock.advance(minutes=1)
    assert engine.fire_due_timers() == 2
    assert_one_job_per_waiting_external(engine, case_id, 4)


def test_one_round_fires_everything_due(engine: Engine, clock) -> None:
    engine.deploy({"wait.bpmn": juel_wait()})
    cases = [engine.start("wait", variables={"waitFor": "PT1H"}) for _ in range(130)]
    clock.advance(hours=1)

    assert engine.fire_due_timers() == len(cases)  # not 100 a round

    assert all(open_task_elements(engine, c) == ["resume"] for c in cases[::13])
    assert engine.fire_due_timers() == 0


def test_a_timer_whose_incident_is_resolved_is_fired_again(engine: Engine, clock) -> None:
    engine.deploy({"decide.bpmn": wait_then_decide()})
    broken = engine.start("decide", variables={"waitFor": "PT1H"})
    clock.advance(hours=2)
    assert engine.fire_due_timers() == 0
    [incident] = incidents_of(engine, broken)
    assert engine.fire_due_timers() == 0  # excluded while the incident is open

    with engine.db.transaction() as s:  # what the incident repair does to the row
        row = s.get(Incident, incident.id)
        assert row is not None
        row.resolved_at, row.resolved_by, row.resolution = clock.now, "admin", "rearmed"

    assert engine.fire_due_timers() == 0  # tried again (still broken): a new open incident
    assert sorted(i.resolved_at is None for i in incidents_of(engine, broken)) == [False, True]
