"""Event subprocesses and message events as Camunda runs them."""

from __future__ import annotations

import pytest

from tests.diagrams import chain, process
from tests.engine.camunda.compat_support import (
    complete_only_task,
    fetch,
    linear,
    open_task_ids,
    refused_at,
    run,
    waiting,
)

MESSAGES = '<bpmn:message id="m_stop" name="stopRequest"/><bpmn:message id="m_go" name="go"/>'


def with_event_subprocess(start_event: str) -> str:
    return ('<bpmn:startEvent id="start"/><bpmn:userTask id="work"/><bpmn:userTask id="more"/>'
            '<bpmn:endEvent id="end"/>' + chain("start", "work", "more", "end")
            + f'<bpmn:subProcess id="esp" triggeredByEvent="true">{start_event}'
            '<bpmn:userTask id="handle"/><bpmn:endEvent id="esp_end"/>'
            + chain("esp_start", "handle", "esp_end") + '</bpmn:subProcess>')


def message_start(interrupting: bool) -> str:
    flag = "true" if interrupting else "false"
    return (f'<bpmn:startEvent id="esp_start" isInterrupting="{flag}">'
            '<bpmn:messageEventDefinition messageRef="m_stop"/></bpmn:startEvent>')


def test_interrupting_message_event_subprocess_cancels_the_main_flow(engine):
    case_id = run(engine, "esp_i", with_event_subprocess(message_start(True)), extra=MESSAGES)
    assert ("message", "esp_start") in waiting(engine, case_id)
    assert engine.correlate("stopRequest", case_id=case_id) == [case_id]
    assert open_task_ids(engine, case_id) == ["handle"]
    assert ("userTask", "work") not in waiting(engine, case_id)
    complete_only_task(engine, case_id)
    case = engine.case(case_id)
    assert case["status"] == "completed" and case["waiting"] == []


def test_non_interrupting_message_event_subprocess_runs_beside_the_main_flow(engine):
    case_id = run(engine, "esp_n", with_event_subprocess(message_start(False)), extra=MESSAGES)
    engine.correlate("stopRequest", case_id=case_id)
    assert sorted(open_task_ids(engine, case_id)) == ["handle", "work"]
    complete_only_task(engine, case_id, element="handle")
    assert open_task_ids(engine, case_id) == ["work"]
    complete_only_task(engine, case_id, element="work")
    complete_only_task(engine, case_id, element="more")
    assert engine.case(case_id)["status"] == "completed"


def test_interrupting_timer_event_subprocess(engine, clock):
    start = ('<bpmn:startEvent id="esp_start"><bpmn:timerEventDefinition><bpmn:timeDuration>PT3M'
             '</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:startEvent>')
    case_id = run(engine, "esp_t", with_event_subprocess(start))
    assert sorted(waiting(engine, case_id)) == [("timer", "esp_start"), ("userTask", "work")]
    clock.advance(minutes=3)
    assert engine.fire_due_timers() == 1
    assert open_task_ids(engine, case_id) == ["handle"]
    complete_only_task(engine, case_id)
    assert engine.case(case_id)["status"] == "completed"


def test_waiting_timer_event_subprocess_ends_with_the_process(engine, clock):
    start = ('<bpmn:startEvent id="esp_start"><bpmn:timerEventDefinition><bpmn:timeDuration>P30D'
             '</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:startEvent>')
    case_id = run(engine, "esp_timer_ends", with_event_subprocess(start))
    complete_only_task(engine, case_id, element="work")
    complete_only_task(engine, case_id, element="more")
    case = engine.case(case_id)
    assert case["status"] == "completed" and case["waiting"] == []
    clock.advance(days=31)
    assert engine.fire_due_timers() == 0


def test_running_event_subprocess_keeps_the_process_alive(engine):
    case_id = run(engine, "esp_alive", with_event_subprocess(message_start(False)), extra=MESSAGES)
    engine.correlate("stopRequest", case_id=case_id)
    complete_only_task(engine, case_id, element="work")
    complete_only_task(engine, case_id, element="more")
    assert engine.case(case_id)["status"] == "active"
    complete_only_task(engine, case_id, element="handle")
    assert engine.case(case_id)["status"] == "completed"


def test_non_interrupting_timer_event_subprocess(engine, clock):
    start = ('<bpmn:startEvent id="esp_start" isInterrupting="false"><bpmn:timerEventDefinition>'
             '<bpmn:timeDuration>PT3M</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:startEvent>')
    case_id = run(engine, "esp_tn", with_event_subprocess(start))
    clock.advance(minutes=3)
    assert engine.fire_due_timers() == 1
    assert sorted(open_task_ids(engine, case_id)) == ["handle", "work"]


def test_interrupting_event_subprocess_cancels_jobs_and_embedded_subprocesses(engine):
    body = ('<bpmn:startEvent id="start"/><bpmn:parallelGateway id="split"/>'
            '<bpmn:serviceTask id="job" camunda:type="external" camunda:topic="slow"/>'
            '<bpmn:subProcess id="inner"><bpmn:startEvent id="inner_start"/><bpmn:userTask id="inner_task"/>'
            '<bpmn:endEvent id="inner_end"/>' + chain("inner_start", "inner_task", "inner_end") + '</bpmn:subProcess>'
            '<bpmn:parallelGateway id="join"/><bpmn:endEvent id="end"/>'
            + chain("start", "split", "job", "join", "end") + chain("split", "inner", "join")
            + '<bpmn:subProcess id="esp" triggeredByEvent="true">' + message_start(True)
            + '<bpmn:userTask id="handle"/><bpmn:endEvent id="esp_end"/>'
            + chain("esp_start", "handle", "esp_end") + '</bpmn:subProcess>')
    case_id = run(engine, "esp_deep", body, extra=MESSAGES)
    assert sorted(waiting(engine, case_id)) == [("job", "job"), ("message", "esp_start"),
                                               ("userTask", "inner_task")]
    engine.correlate("stopRequest", case_id=case_id)
    assert open_task_ids(engine, case_id) == ["handle"]
    assert [w for w in waiting(engine, case_id) if w[0] in ("job", "userTask")] == [("userTask", "handle")]
    assert fetch(engine, "slow") == []
    complete_only_task(engine, case_id)
    assert engine.case(case_id)["status"] == "completed"


def test_interrupting_event_subprocess_is_triggered_only_once(engine):
    case_id = run(engine, "esp_once", with_event_subprocess(message_start(True)), extra=MESSAGES)
    engine.correlate("stopRequest", case_id=case_id)
    assert waiting(engine, case_id) == [("userTask", "handle")]


def test_message_catch_and_payload(engine):
    body = ('<bpmn:startEvent id="start"/><bpmn:intermediateCatchEvent id="wait_go">'
            '<bpmn:messageEventDefinition messageRef="m_go"/></bpmn:intermediateCatchEvent>'
            '<bpmn:userTask id="after" camunda:assignee="${who}"/><bpmn:endEvent id="end"/>'
            + chain("start", "wait_go", "after", "end"))
    case_id = run(engine, "catch", body, extra=MESSAGES, business_key="B-7")
    assert waiting(engine, case_id) == [("message", "wait_go")]
    engine.correlate("go", business_key="B-7", variables={"who": "anna"})
    (task,) = engine.open_tasks(case_id)
    assert task.element_id == "after" and task.assignee == "anna"


def test_message_start_event_starts_a_case(engine):
    body = ('<bpmn:startEvent id="start"><bpmn:messageEventDefinition messageRef="m_go"/></bpmn:startEvent>'
            '<bpmn:userTask id="after"/><bpmn:endEvent id="end"/>' + chain("start", "after", "end"))
    engine.deploy({"by_message.bpmn": process("by_message", body, MESSAGES)})
    (case_id,) = engine.correlate("go", business_key="B-9", variables={"x": 1})
    assert open_task_ids(engine, case_id) == ["after"]
    assert engine.case(case_id)["variables"]["x"] == 1


@pytest.mark.parametrize("interrupting", [True, False])
def test_boundary_message_on_a_user_task(engine, interrupting):
    flag = "true" if interrupting else "false"
    body = ('<bpmn:startEvent id="start"/><bpmn:userTask id="work"/><bpmn:endEvent id="end"/>'
            f'<bpmn:boundaryEvent id="stop" cancelActivity="{flag}" attachedToRef="work">'
            '<bpmn:messageEventDefinition messageRef="m_stop"/></bpmn:boundaryEvent>'
            '<bpmn:userTask id="stopped"/><bpmn:endEvent id="end2"/>'
            + chain("start", "work", "end") + chain("stop", "stopped", "end2"))
    case_id = run(engine, f"boundary_{flag}", body, extra=MESSAGES)
    engine.correlate("stopRequest", case_id=case_id)
    expected = ["stopped"] if interrupting else ["stopped", "work"]
    assert sorted(open_task_ids(engine, case_id)) == expected


def in_subprocess(start_event: str) -> str:
    """start → sub (work, with an event subprocess) → after → end."""
    inner = ('<bpmn:startEvent id="i_start"/><bpmn:userTask id="work"/><bpmn:endEvent id="i_end"/>'
             + chain("i_start", "work", "i_end") + f'<bpmn:subProcess id="esp" triggeredByEvent="true">{start_event}'
             '<bpmn:userTask id="handle"/><bpmn:endEvent id="esp_end"/>'
             + chain("esp_start", "handle", "esp_end") + '</bpmn:subProcess>')
    return (f'<bpmn:startEvent id="start"/><bpmn:subProcess id="sub">{inner}</bpmn:subProcess>'
            '<bpmn:userTask id="after"/><bpmn:endEvent id="end"/>' + chain("start", "sub", "after", "end"))


def test_interrupting_timer_event_subprocess_inside_a_subprocess_ends_only_that_scope(engine, clock):
    start = ('<bpmn:startEvent id="esp_start"><bpmn:timerEventDefinition><bpmn:timeDuration>PT3M'
             '</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:startEvent>')
    case_id = run(engine, "nested_timer", in_subprocess(start))
    clock.advance(minutes=3)
    assert engine.fire_due_timers() == 1
    assert open_task_ids(engine, case_id) == ["handle"]
    complete_only_task(engine, case_id)
    assert open_task_ids(engine, case_id) == ["after"]


def test_message_event_subprocess_where_messages_cannot_reach_it_is_refused():
    nested = refused_at({"n.bpmn": process("n", in_subprocess(message_start(True)), MESSAGES)})
    assert "inside a subprocess" in nested["esp_start"]
    caller = process("caller", linear('<bpmn:callActivity id="call" calledElement="callee"/>', ids=("call",)))
    callee = process("callee", with_event_subprocess(message_start(False)), MESSAGES)
    called = refused_at({"callee.bpmn": callee, "caller.bpmn": caller})
    assert "call activity" in called["esp_start"]


def test_event_subprocess_sees_and_changes_process_variables(engine):
    body = ('<bpmn:startEvent id="start"/><bpmn:userTask id="work" camunda:assignee="${caseManager}"/>'
            '<bpmn:userTask id="more" camunda:assignee="${caseManager}"/><bpmn:endEvent id="end"/>'
            + chain("start", "work", "more", "end")
            + '<bpmn:subProcess id="esp" triggeredByEvent="true">' + message_start(False)
            + '<bpmn:userTask id="handle" camunda:assignee="${caseManager}"/><bpmn:endEvent id="esp_end"/>'
            + chain("esp_start", "handle", "esp_end") + '</bpmn:subProcess>')
    case_id = run(engine, "esp_vars", body, {"caseManager": "anna"}, extra=MESSAGES)
    engine.correlate("stopRequest", case_id=case_id)
    handle = next(t for t in engine.open_tasks(case_id) if t.element_id == "handle")
    assert handle.assignee == "anna"
    engine.complete_task(handle.id, {"caseManager": "ben"})
    complete_only_task(engine, case_id, element="work")
    (more,) = engine.open_tasks(case_id)
    assert more.element_id == "more" and more.assignee == "ben"


def _assignee_body(main: str, flow: str) -> str:
    return ('<bpmn:startEvent id="start"/>' + main + '<bpmn:userTask id="more" camunda:assignee="${caseManager}"/>'
            '<bpmn:endEvent id="end"/>' + flow
            + '<bpmn:subProcess id="esp" triggeredByEvent="true">' + message_start(False)
            + '<bpmn:userTask id="handle" camunda:assignee="${caseManager}"/><bpmn:endEvent id="esp_end"/>'
            + chain("esp_start", "handle", "esp_end") + '</bpmn:subProcess>')


def test_event_subprocess_sees_variables_set_after_the_case_started_in_every_case(engine):
    """The scope is taken when the message arrives, whatever another case of the definition did before."""
    body = _assignee_body('<bpmn:userTask id="work"/><bpmn:userTask id="wait"/>',
                          chain("start", "work", "wait", "more", "end"))
    first = run(engine, "esp_late", body, {"caseManager": "anna"}, extra=MESSAGES)
    second = engine.start("esp_late", variables={"caseManager": "anna"})
    for case_id, manager in ((first, "ben"), (second, "carl")):
        complete_only_task(engine, case_id, element="work", data={"caseManager": manager})
        engine.correlate("stopRequest", case_id=case_id)
        handle = next(t for t in engine.open_tasks(case_id) if t.element_id == "handle")
        assert handle.assignee == manager


def test_a_change_made_by_the_event_subprocess_survives_a_running_multi_instance(engine):
    body = _assignee_body('<bpmn:userTask id="work"><bpmn:multiInstanceLoopCharacteristics '
                          'camunda:collection="${items}" camunda:elementVariable="item"/></bpmn:userTask>',
                          chain("start", "work", "more", "end"))
    case_id = run(engine, "esp_mi", body, {"caseManager": "anna", "items": ["a", "b"]}, extra=MESSAGES)
    first_item = next(t for t in engine.open_tasks(case_id) if t.element_id == "work")
    engine.complete_task(first_item.id, {})
    engine.correlate("stopRequest", case_id=case_id)
    handle = next(t for t in engine.open_tasks(case_id) if t.element_id == "handle")
    engine.complete_task(handle.id, {"caseManager": "ben"})
    complete_only_task(engine, case_id, element="work")
    (more,) = engine.open_tasks(case_id)
    assert more.element_id == "more" and more.assignee == "ben"
