"""Timers as Camunda Modeler writes them: ISO dates, durations, repeating cycles and Quartz cron."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.diagrams import chain
from tests.engine.camunda.compat_support import complete_only_task, fetch, open_task_ids, run, waiting


def timer(kind: str, value: str) -> str:
    return (f'<bpmn:timerEventDefinition><bpmn:{kind} xsi:type="bpmn:tFormalExpression">{value}</bpmn:{kind}>'
            '</bpmn:timerEventDefinition>')


def catch(value_kind: str, value: str) -> str:
    """start → wait (timer catch) → after (user task) → end."""
    return ('<bpmn:startEvent id="start"/>'
            f'<bpmn:intermediateCatchEvent id="wait">{timer(value_kind, value)}</bpmn:intermediateCatchEvent>'
            '<bpmn:userTask id="after"/><bpmn:endEvent id="end"/>' + chain("start", "wait", "after", "end"))


def due_of(engine, case_id: str) -> datetime:
    (item,) = [w for w in engine.case(case_id)["waiting"] if w["kind"] == "timer"]
    return datetime.fromisoformat(item["due"])


def test_iso_date_fires_once_at_its_moment(engine, clock):
    case_id = run(engine, "date", catch("timeDate", "2026-01-10T12:00:00Z"))
    assert waiting(engine, case_id) == [("timer", "wait")]
    assert due_of(engine, case_id) == datetime(2026, 1, 10, 12, tzinfo=UTC)
    clock.advance(days=5)  # 2026-01-10 09:00, still early
    assert engine.fire_due_timers() == 0
    clock.advance(hours=3)
    assert engine.fire_due_timers() == 1
    assert open_task_ids(engine, case_id) == ["after"]
    assert engine.fire_due_timers() == 0


@pytest.mark.parametrize(("value", "hours"), [("PT1H", 1), ("P2D", 48), ("PT90M", 1.5)])
def test_iso_duration_counts_from_arrival(engine, clock, value, hours):
    case_id = run(engine, "duration", catch("timeDuration", value))
    assert (due_of(engine, case_id) - clock.now).total_seconds() == hours * 3600
    clock.advance(hours=hours, seconds=-1)
    assert engine.fire_due_timers() == 0
    clock.advance(seconds=1)
    assert engine.fire_due_timers() == 1
    assert open_task_ids(engine, case_id) == ["after"]


def test_duration_from_a_juel_variable(engine, clock):
    case_id = run(engine, "juel_timer", catch("timeDuration", "${reminderDelay}"), {"reminderDelay": "PT2H"})
    assert (due_of(engine, case_id) - clock.now).total_seconds() == 7200


def test_date_from_a_juel_builtin(engine, clock):
    case_id = run(engine, "juel_date", catch("timeDate", "${dateTime().plusDays(1).toDate()}"))
    assert (due_of(engine, case_id) - clock.now).days == 1


def test_interrupting_boundary_duration_cancels_the_task(engine, clock):
    body = ('<bpmn:startEvent id="start"/><bpmn:userTask id="work"/><bpmn:endEvent id="end"/>'
            f'<bpmn:boundaryEvent id="late" attachedToRef="work">{timer("timeDuration", "P3D")}</bpmn:boundaryEvent>'
            '<bpmn:userTask id="escalate"/><bpmn:endEvent id="end2"/>'
            + chain("start", "work", "end") + chain("late", "escalate", "end2"))
    case_id = run(engine, "boundary", body)
    assert open_task_ids(engine, case_id) == ["work"]
    clock.advance(days=3)
    assert engine.fire_due_timers() == 1
    assert open_task_ids(engine, case_id) == ["escalate"]


def test_repeating_cycle_fires_three_times(engine, clock):
    body = ('<bpmn:startEvent id="start"/><bpmn:userTask id="work"/><bpmn:endEvent id="end"/>'
            '<bpmn:boundaryEvent id="remind" cancelActivity="false" attachedToRef="work">'
            f'{timer("timeCycle", "R3/PT10M")}</bpmn:boundaryEvent>'
            '<bpmn:serviceTask id="send_reminder" camunda:type="external" camunda:topic="remind"/>'
            '<bpmn:endEvent id="reminded"/>'
            + chain("start", "work", "end") + chain("remind", "send_reminder", "reminded"))
    case_id = run(engine, "cycle", body)
    fired = []
    for _ in range(5):
        clock.advance(minutes=10)
        fired.append(engine.fire_due_timers())
    assert fired == [1, 1, 1, 0, 0]
    assert [j.topic for j in fetch(engine, "remind")] == ["remind"] * 3
    assert open_task_ids(engine, case_id) == ["work"]  # non-interrupting: the task stays open
    complete_only_task(engine, case_id)


def test_quartz_cron_cycle_fires_at_the_next_match(engine, clock):
    # clock starts on Monday 2026-01-05 09:00 UTC; "every weekday at 12:00"
    case_id = run(engine, "cron", catch("timeCycle", "0 0 12 ? * MON-FRI"))
    assert due_of(engine, case_id) == datetime(2026, 1, 5, 12, tzinfo=UTC)
    clock.advance(hours=2, minutes=59)
    assert engine.fire_due_timers() == 0
    clock.advance(minutes=1)
    assert engine.fire_due_timers() == 1
    assert open_task_ids(engine, case_id) == ["after"]


def test_quartz_cron_with_increments(engine, clock):
    # Camunda's loan-granting example style: seconds 0/5 → the next multiple of five seconds
    case_id = run(engine, "cron2", catch("timeCycle", "0/5 0/1 * 1/1 * ? *"))
    due = due_of(engine, case_id)
    assert clock.now < due and (due - clock.now).total_seconds() <= 5


def test_timer_fires_once_even_when_asked_twice(engine, clock):
    case_id = run(engine, "once", catch("timeDuration", "PT1M"))
    clock.advance(minutes=1)
    assert engine.fire_due_timers() == 1
    assert engine.fire_due_timers() == 0
    assert open_task_ids(engine, case_id) == ["after"]
