"""Sequence flows without an id (Camunda's own test diagrams have them) get stable generated ids."""

from __future__ import annotations

from lxml import etree

from engine.camunda.parser.parser import name_unnamed_flows
from engine.runtime import Engine
from tests.diagrams import process
from tests.engine.camunda.compat_support import accepted, complete_only_task, open_task_ids, refused_at, waiting

# the style of Camunda's engine test resources: flows with only sourceRef and targetRef
UNNAMED = process("unnamed", (
    '<bpmn:startEvent id="theStart"/><bpmn:userTask id="review"/><bpmn:exclusiveGateway id="decide"/>'
    '<bpmn:userTask id="fix"/><bpmn:endEvent id="theEnd"/>'
    '<bpmn:sequenceFlow sourceRef="theStart" targetRef="review"/>'
    '<bpmn:sequenceFlow sourceRef="review" targetRef="decide"/>'
    '<bpmn:sequenceFlow sourceRef="decide" targetRef="fix">'
    '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${!ok}</bpmn:conditionExpression>'
    '</bpmn:sequenceFlow>'
    '<bpmn:sequenceFlow sourceRef="decide" targetRef="theEnd">'
    '<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">${ok}</bpmn:conditionExpression>'
    '</bpmn:sequenceFlow>'
    '<bpmn:sequenceFlow sourceRef="fix" targetRef="review"/>'))


def generated_ids(xml: bytes) -> list[str]:
    root = etree.fromstring(xml)
    name_unnamed_flows(root)
    return [f.get("id") for f in root.iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}sequenceFlow")]


def test_flows_without_ids_are_accepted():
    assert list(accepted({"unnamed.bpmn": UNNAMED}).processes) == ["unnamed"]


def test_the_generated_ids_come_from_source_and_target_and_are_the_same_every_time():
    expected = ["flow_theStart_review", "flow_review_decide", "flow_decide_fix", "flow_decide_theEnd",
                "flow_fix_review"]
    assert generated_ids(UNNAMED) == expected
    assert generated_ids(UNNAMED) == expected


def test_generated_ids_never_take_an_id_the_file_uses():
    xml = process("p", '<bpmn:startEvent id="s"/><bpmn:parallelGateway id="fork"/><bpmn:endEvent id="flow_s_fork"/>'
                       '<bpmn:sequenceFlow sourceRef="s" targetRef="fork"/>'
                       '<bpmn:sequenceFlow sourceRef="s" targetRef="fork"/>'
                       '<bpmn:sequenceFlow id="flow_s_fork_2" sourceRef="fork" targetRef="flow_s_fork"/>')
    assert generated_ids(xml) == ["flow_s_fork_3", "flow_s_fork_4", "flow_s_fork_2"]


def test_a_problem_on_an_unnamed_flow_names_its_generated_id():
    xml = process("p", '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="g"/><bpmn:endEvent id="e"/>'
                       '<bpmn:sequenceFlow sourceRef="s" targetRef="g"/>'
                       '<bpmn:sequenceFlow sourceRef="g" targetRef="e"><bpmn:conditionExpression>${a &amp;&amp;}'
                       '</bpmn:conditionExpression></bpmn:sequenceFlow>')
    assert "condition" in refused_at({"p.bpmn": xml})["flow_g_e"]


def test_a_case_runs_through_unnamed_flows_and_survives_a_fresh_parse(engine, db, clock):
    engine.deploy({"unnamed.bpmn": UNNAMED})
    case_id = engine.start("unnamed")
    complete_only_task(engine, case_id, {"ok": False})
    assert open_task_ids(engine, case_id) == ["fix"]
    # another process (no definition cache) parses the stored file again and carries the case on
    fresh = Engine(db, clock=clock)
    complete_only_task(fresh, case_id)
    complete_only_task(fresh, case_id, {"ok": True})
    assert fresh.case(case_id)["status"] == "completed"
    assert waiting(fresh, case_id) == []
