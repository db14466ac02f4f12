"""engine.case_path: where a case and the instances it called are, and the way they came, from the engine's tables."""

from __future__ import annotations

from datetime import timedelta

from engine.case_path import CasePath, case_path, process_diagram
from engine.runtime import Engine
from tests.conftest import TestClock
from tests.diagrams import chain, flow, process
from tests.engine.runtime_support import open_task

CALLER = ('<bpmn:startEvent id="start"/><bpmn:userTask id="prepare"/>'
          '<bpmn:exclusiveGateway id="gw" default="to_call"/>'
          '<bpmn:callActivity id="call" calledElement="callee"><bpmn:extensionElements>'
          '<camunda:in source="item" target="item"/></bpmn:extensionElements>'
          '<bpmn:multiInstanceLoopCharacteristics camunda:collection="${items}" camunda:elementVariable="item"/>'
          '</bpmn:callActivity>'
          '<bpmn:endEvent id="end"/><bpmn:endEvent id="skipped"/>'
          + chain("start", "prepare", "gw") + flow("to_call", "gw", "call")
          + flow("to_skip", "gw", "skipped", "${skip}") + flow("after_call", "call", "end"))
CALLEE = ('<bpmn:startEvent id="c_start"/><bpmn:userTask id="wait"/><bpmn:endEvent id="c_end"/>'
          '<bpmn:boundaryEvent id="late" attachedToRef="wait" cancelActivity="false">'
          '<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>'
          '</bpmn:boundaryEvent><bpmn:userTask id="chase"/><bpmn:endEvent id="chased"/>'
          + chain("c_start", "wait", "c_end") + chain("late", "chase", "chased"))


def started(engine: Engine) -> str:
    engine.deploy({"caller.bpmn": process("caller", CALLER), "callee.bpmn": process("callee", CALLEE)})
    case_id = engine.start("caller", "PATH-1", {"items": ["a", "b"], "skip": False})
    engine.complete_task(open_task(engine, case_id, "prepare").id)
    return case_id


def path_of(engine: Engine, case_id: str) -> CasePath:
    with engine.db.read() as session:
        found = case_path(session, case_id)
    assert found is not None
    return found


def test_the_case_waits_in_two_called_instances_with_their_timers(engine: Engine, clock: TestClock) -> None:
    case_id = started(engine)
    path = path_of(engine, case_id)
    top = path.top
    assert top.process_key == "caller" and not top.ended
    assert top.active_ids == ["call"]
    assert {"start", "prepare", "gw"} <= set(top.completed) and "skipped" not in top.completed
    assert top.flows == ["f_start_prepare", "f_prepare_gw", "to_call"]  # the branch not taken is not drawn
    assert top.timers == []
    called = path.called()
    assert len(called) == 2
    assert {c.inputs.get("item") for c in called} == {"a", "b"}
    for instance in called:
        assert instance.process_key == "callee" and instance.parent_id == case_id and instance.called_from == "call"
        assert instance.active_ids == ["wait"] and instance.completed == ["c_start"]
        assert instance.flows == ["f_c_start_wait"]
        assert [(t.element_id, t.due) for t in instance.timers] == [("late", clock() + timedelta(hours=1))]


def test_a_fired_timer_and_a_finished_instance(engine: Engine, clock: TestClock) -> None:
    case_id = started(engine)
    first, second = path_of(engine, case_id).called()
    late = engine.waiting_timers(case_id, "late")
    clock.advance(hours=2)
    assert engine.fire_due_timers() == len(late)
    path = path_of(engine, case_id)
    for instance in path.called():
        assert sorted(instance.active_ids) == ["chase", "wait"]  # non-interrupting: both open
        assert "late" in instance.completed and "f_late_chase" in instance.flows
        assert instance.timers == []
    wait_a = next(t for t in engine.open_tasks(case_id) if t.element_id == "wait")
    engine.complete_task(wait_a.id)
    path = path_of(engine, case_id)
    still = [i for i in path.called() if "wait" in i.active_ids]
    assert len(still) == 1  # the other instance finished its wait
    assert path.top.active_ids == ["call"]


def test_no_call_and_the_diagram_of_each_process(engine: Engine) -> None:
    engine.deploy({"caller.bpmn": process("caller", CALLER), "callee.bpmn": process("callee", CALLEE)})
    case_id = engine.start("caller", "PATH-2", {"items": [], "skip": True})
    engine.complete_task(open_task(engine, case_id, "prepare").id)
    path = path_of(engine, case_id)
    assert path.top.ended and path.top.active == [] and path.called() == []
    assert path.top.completed[-1] == "skipped" and "to_skip" in path.top.flows and "to_call" not in path.top.flows
    with engine.db.read() as session:
        caller = process_diagram(session, path.deployment_id, "caller")
        callee = process_diagram(session, path.deployment_id, "callee")
        assert process_diagram(session, path.deployment_id, "nothing") is None
        assert case_path(session, "no-such-case") is None
    assert caller is not None and callee is not None
    assert caller[0].resource == "caller.bpmn" and b'id="caller"' in caller[1]
    assert callee[0].calls == {} and caller[0].calls == {"call": "callee"}
