"""A receive task without a message is a wait state, continued through the API (Camunda's `signal`)."""

from __future__ import annotations

import pytest

from engine.errors import Conflict, NotFound
from engine.simulate import simulate
from tests.diagrams import chain, process
from tests.engine.camunda.compat_support import linear, open_task_ids, run, waiting

RECEIVE = linear('<bpmn:receiveTask id="papers" name="Papers arrive"/><bpmn:userTask id="check"/>',
                 ids=("papers", "check"))


def test_it_waits_and_shows_in_waiting(engine):
    case_id = run(engine, "recv", RECEIVE)
    case = engine.case(case_id)
    assert case["status"] == "active"
    assert case["waiting"] == [{"kind": "trigger", "id": "papers", "name": "Papers arrive"}]
    assert open_task_ids(engine, case_id) == []


def test_trigger_continues_with_its_variables(engine):
    case_id = run(engine, "recv", RECEIVE, {"client": "A"})
    engine.trigger(case_id, "papers", {"pages": 3}, actor="integration")
    assert waiting(engine, case_id) == [("userTask", "check")]
    assert engine.case(case_id)["variables"] == {"client": "A", "pages": 3}


def test_trigger_where_the_case_does_not_wait_is_not_found(engine):
    case_id = run(engine, "recv", RECEIVE)
    with pytest.raises(NotFound, match="does not wait at 'check'"):
        engine.trigger(case_id, "check")
    engine.trigger(case_id, "papers")
    with pytest.raises(NotFound):
        engine.trigger(case_id, "papers")  # once only
    assert waiting(engine, case_id) == [("userTask", "check")]


def test_trigger_of_a_suspended_case_is_a_conflict(engine):
    case_id = run(engine, "recv", RECEIVE)
    engine.suspend(case_id)
    with pytest.raises(Conflict, match="suspended"):
        engine.trigger(case_id, "papers")
    engine.resume(case_id)
    engine.trigger(case_id, "papers")
    assert waiting(engine, case_id) == [("userTask", "check")]


def test_a_boundary_timer_on_it_still_interrupts(engine, clock):
    body = ('<bpmn:startEvent id="start"/><bpmn:receiveTask id="papers"/><bpmn:endEvent id="end"/>'
            '<bpmn:boundaryEvent id="late" attachedToRef="papers"><bpmn:timerEventDefinition>'
            '<bpmn:timeDuration>P14D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>'
            '<bpmn:userTask id="remind"/>' + chain("start", "papers", "end") + chain("late", "remind"))
    case_id = run(engine, "recv_late", body)
    assert sorted(waiting(engine, case_id)) == [("timer", "late"), ("trigger", "papers")]
    clock.advance(days=15)
    assert engine.fire_due_timers() == 1
    assert waiting(engine, case_id) == [("userTask", "remind")]
    with pytest.raises(NotFound):
        engine.trigger(case_id, "papers")


def test_its_output_mapping_applies_when_triggered(engine):
    body = linear('<bpmn:receiveTask id="papers"><bpmn:extensionElements><camunda:inputOutput>'
                  '<camunda:outputParameter name="received">${pages * 2}</camunda:outputParameter>'
                  '</camunda:inputOutput></bpmn:extensionElements></bpmn:receiveTask><bpmn:userTask id="check"/>',
                  ids=("papers", "check"))
    case_id = run(engine, "recv_io", body)
    engine.trigger(case_id, "papers", {"pages": 4})
    assert engine.case(case_id)["variables"]["received"] == 8


def test_a_receive_task_with_a_message_still_waits_for_the_message(engine):
    body = linear('<bpmn:receiveTask id="papers" messageRef="m"/><bpmn:userTask id="check"/>',
                  ids=("papers", "check"))
    case_id = run(engine, "recv_msg", body, extra='<bpmn:message id="m" name="papersIn"/>')
    assert waiting(engine, case_id) == [("message", "papers")]
    with pytest.raises(NotFound):
        engine.trigger(case_id, "papers")
    engine.correlate("papersIn", case_id=case_id)
    assert waiting(engine, case_id) == [("userTask", "check")]


def test_simulate_stops_at_it_as_at_a_message():
    result = simulate({"recv.bpmn": process("recv", RECEIVE)}, drive=True)
    assert result["status"] == "waiting"
    assert result["waiting"] == [{"kind": "trigger", "id": "papers", "name": "Papers arrive"}]
    assert result["path"] == ["start"]
