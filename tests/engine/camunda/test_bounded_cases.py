"""An expression or script over its limits stops its own case, naming the element, and nothing else.

For a person's action it is a refusal (the case stays as it was); for a timer it is an incident on
that case while other cases go on.
"""

from __future__ import annotations

import pytest

from engine.errors import ProcessError
from engine.runtime import Engine
from tests.diagrams import chain, flow, process
from tests.engine.runtime_support import incidents_of, open_task_elements

POWER = "base ** exponent &gt; 1"  # 4000000 ** 4000000 took 27 s inside the case lock
HUNGRY = "s = set(range(1000000))\nt = [set(s) for i in range(100)]"  # about 3 GB


def review_then(tail: str, *ids: str, key: str = "bounded") -> bytes:
    return process(key, '<bpmn:startEvent id="start"/><bpmn:userTask id="review"/>' + tail
                   + '<bpmn:endEvent id="end"/>' + chain("start", "review", *ids))


def script_task(script: str) -> str:
    return f'<bpmn:scriptTask id="calc" scriptFormat="python"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>'


def gateway_after(first: str) -> str:
    return ('<bpmn:exclusiveGateway id="gw" default="small"/><bpmn:userTask id="big"/><bpmn:userTask id="later"/>'
            + flow("large", "gw", "big", POWER) + flow("small", "gw", "later"))


def test_a_condition_over_its_limit_refuses_the_action_and_names_the_gateway(engine: Engine) -> None:
    engine.deploy({"bounded.bpmn": review_then(gateway_after("review"), "gw")})
    case_id = engine.start("bounded", variables={"base": 4_000_000, "exponent": 4_000_000})
    [task] = engine.open_tasks(case_id)

    with pytest.raises(ProcessError) as info:
        engine.complete_task(task.id, {}, actor="ann")

    assert info.value.element_id == "gw"
    assert "4000000 ** 4000000 would have about 26,408,240 digits, which exceeds the limit" in info.value.message
    assert open_task_elements(engine, case_id) == ["review"]  # the case is as it was


def test_a_script_out_of_memory_refuses_the_action_and_other_cases_go_on(engine: Engine) -> None:
    engine.deploy({"bounded.bpmn": review_then(script_task(HUNGRY), "calc", "end"),
                   "plain.bpmn": review_then(script_task("total = 6 * 7"), "calc", "end", key="plain")})
    hungry, fine = engine.start("bounded"), engine.start("plain")

    with pytest.raises(ProcessError) as info:
        engine.complete_task(engine.open_tasks(hungry)[0].id, {}, actor="ann")
    assert info.value.element_id == "calc"
    assert "script ran out of memory (limit 256 MB)" in info.value.message

    engine.complete_task(engine.open_tasks(fine)[0].id, {}, actor="ann")
    assert engine.case(fine)["status"] == "completed" and engine.case(fine)["variables"]["total"] == 42
    assert open_task_elements(engine, hungry) == ["review"]


def test_a_timer_whose_condition_is_over_its_limit_gets_an_incident(engine: Engine, clock) -> None:
    timer = ('<bpmn:intermediateCatchEvent id="pause"><bpmn:timerEventDefinition><bpmn:timeDuration>PT1H'
             '</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>')
    engine.deploy({"timed.bpmn": process("timed", '<bpmn:startEvent id="start"/>' + timer + gateway_after("pause")
                                         + chain("start", "pause", "gw"))})
    broken = engine.start("timed", variables={"base": 4_000_000, "exponent": 4_000_000})
    fine = engine.start("timed", variables={"base": 2, "exponent": 3})
    clock.advance(hours=2)

    assert engine.fire_due_timers() == 1

    assert open_task_elements(engine, fine) == ["big"]
    [incident] = incidents_of(engine, broken)
    assert incident.element_id == "pause" and "which exceeds the limit" in incident.message
