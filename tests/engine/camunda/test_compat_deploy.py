"""What deploys and what is refused: collaborations, data stores, warnings, refusals, the sandbox, bad XML."""

from __future__ import annotations

import pytest

from engine.errors import ValidationFailed
from tests.diagrams import chain, definitions, flow, process
from tests.engine.camunda.compat_support import accepted, fetch, linear, open_task_ids, refusal, refused_at, run

# -- what deploys --------------------------------------------------------------------------------


def test_data_store_and_data_object_references_need_no_implementation(engine):
    body = ('<bpmn:startEvent id="start"/>'
            '<bpmn:serviceTask id="book" camunda:type="external" camunda:topic="book">'
            '<bpmn:property id="prop" name="__targetRef_placeholder"/>'
            '<bpmn:dataInputAssociation id="in_store"><bpmn:sourceRef>ledger</bpmn:sourceRef>'
            '<bpmn:targetRef>prop</bpmn:targetRef></bpmn:dataInputAssociation>'
            '<bpmn:dataOutputAssociation id="out_store"><bpmn:targetRef>ledger</bpmn:targetRef>'
            '</bpmn:dataOutputAssociation></bpmn:serviceTask>'
            '<bpmn:dataStoreReference id="ledger" name="Financial system"/>'
            '<bpmn:dataObjectReference id="letter_ref" dataObjectRef="letter"/><bpmn:dataObject id="letter"/>'
            '<bpmn:userTask id="after"/><bpmn:endEvent id="end"/>' + chain("start", "book", "after", "end"))
    case_id = run(engine, "stores", body)
    (job,) = fetch(engine, "book")
    engine.complete_job(job.id, "worker", {})
    assert open_task_ids(engine, case_id) == ["after"]


def collaboration(second_executable: bool) -> bytes:
    flag = "true" if second_executable else "false"
    return definitions(
        '<bpmn:collaboration id="collab"><bpmn:participant id="p_office" processRef="office"/>'
        '<bpmn:participant id="p_client" processRef="client"/>'
        '<bpmn:participant id="p_partner" processRef="partner"/>'
        '<bpmn:messageFlow id="mf" sourceRef="office_task" targetRef="client_task"/></bpmn:collaboration>'
        '<bpmn:process id="office" isExecutable="true"><bpmn:startEvent id="o_start"/>'
        '<bpmn:userTask id="office_task"/><bpmn:endEvent id="o_end"/>' + chain("o_start", "office_task", "o_end")
        + f'</bpmn:process><bpmn:process id="client" isExecutable="{flag}"><bpmn:startEvent id="c_start"/>'
        '<bpmn:userTask id="client_task"/><bpmn:endEvent id="c_end"/>' + chain("c_start", "client_task", "c_end")
        # a pool only drawn for documentation: what it holds does not matter when it is not executable
        + '</bpmn:process><bpmn:process id="partner" isExecutable="false"><bpmn:serviceTask id="unimplemented"/>'
        '<bpmn:scriptTask id="groovy" scriptFormat="groovy"><bpmn:script>x</bpmn:script></bpmn:scriptTask>'
        '</bpmn:process>')


def test_collaboration_deploys_every_executable_process(engine):
    result = engine.deploy({"collab.bpmn": collaboration(True)})
    assert sorted(key for key, _, _ in result.definitions) == ["client", "office"]
    assert open_task_ids(engine, engine.start("client")) == ["client_task"]
    assert open_task_ids(engine, engine.start("office")) == ["office_task"]


def test_collaboration_skips_non_executable_processes(engine):
    result = engine.deploy({"collab.bpmn": collaboration(False)})
    assert [key for key, _, _ in result.definitions] == ["office"]


def test_file_without_executable_process_is_refused_cleanly():
    xml = process("drawing", linear('<bpmn:userTask id="t"/>', ids=("t",)), executable=False)
    (problem,) = refusal({"drawing.bpmn": xml})
    assert problem.file == "drawing.bpmn"
    assert "no executable process" in problem.reason
    assert problem.line().startswith("drawing.bpmn: ")


def test_missing_is_executable_means_executable_like_camunda():
    xml = definitions('<bpmn:process id="implicit">' + linear() + '</bpmn:process>')
    assert list(accepted({"implicit.bpmn": xml}).processes) == ["implicit"]


# -- accepted with a warning ---------------------------------------------------------------------------


def test_listeners_async_and_history_time_to_live_are_accepted_with_warnings():
    listeners = ('<bpmn:extensionElements>'
                 '<camunda:executionListener event="start" class="org.example.Audit"/>'
                 '<camunda:taskListener event="create" expression="${audit.created(task)}"/>'
                 '</bpmn:extensionElements>')
    body = linear(f'<bpmn:userTask id="review" camunda:asyncBefore="true">{listeners}</bpmn:userTask>'
                  '<bpmn:serviceTask id="send" camunda:type="external" camunda:topic="t" camunda:asyncAfter="true" '
                  'camunda:exclusive="false"/>', ids=("review", "send"))
    xml = process("warned", body).replace(b'isExecutable="true"',
                                          b'isExecutable="true" camunda:historyTimeToLive="P180D"')
    parsed = accepted({"warned.bpmn": xml})
    assert list(parsed.processes) == ["warned"]
    found = {(w.element_id, w.reason) for w in parsed.warnings}
    assert ("warned", "camunda:historyTimeToLive is accepted and ignored") in found
    assert ("review", "camunda:asyncBefore is accepted and ignored") in found
    assert ("review", "camunda:executionListener is ignored") in found
    assert ("review", "camunda:taskListener is ignored") in found
    assert ("send", "camunda:asyncAfter is accepted and ignored") in found
    assert all(w.file == "warned.bpmn" for w in parsed.warnings)


def test_deploy_keeps_the_warnings(engine):
    xml = process("warned2", linear('<bpmn:userTask id="t" camunda:asyncBefore="true"/>', ids=("t",)))
    result = engine.deploy({"warned2.bpmn": xml})
    assert result.warnings == ["warned2.bpmn: t: camunda:asyncBefore is accepted and ignored"]


# -- refused at validation, with the element and the reason -----------------------------------------

GROOVY_SCRIPT = '<bpmn:scriptTask id="calc" scriptFormat="groovy"><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>'
JS_INPUT = ('<bpmn:serviceTask id="call" camunda:type="external" camunda:topic="t"><bpmn:extensionElements>'
            '<camunda:inputOutput><camunda:inputParameter name="total"><camunda:script scriptFormat="javascript">'
            'a + b</camunda:script></camunda:inputParameter></camunda:inputOutput></bpmn:extensionElements>'
            '</bpmn:serviceTask>')


def gateway_with(condition_xml: str) -> str:
    return ('<bpmn:startEvent id="start"/><bpmn:exclusiveGateway id="gw" default="other"/>'
            '<bpmn:endEvent id="end"/><bpmn:endEvent id="end2"/>' + flow("f0", "start", "gw")
            + flow("other", "gw", "end2")
            + f'<bpmn:sequenceFlow id="groovy_flow" sourceRef="gw" targetRef="end">{condition_xml}</bpmn:sequenceFlow>')


@pytest.mark.parametrize(("body", "element", "words"), [
    (linear(GROOVY_SCRIPT, ids=("calc",)), "calc", ["groovy", "only Python"]),
    (linear(JS_INPUT, ids=("call",)), "call", ["inputParameter 'total'", "javascript"]),
    (gateway_with('<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression" language="groovy">'
                  'amount &gt; 5</bpmn:conditionExpression>'), "groovy_flow", ["groovy"]),
    (linear('<bpmn:callActivity id="case_call" camunda:caseRef="complaintCase"/>', ids=("case_call",)),
     "case_call", ["CMMN", "caseRef"]),
    (linear('<bpmn:serviceTask id="bare"/>', ids=("bare",)), "bare", ["no implementation"]),
    (linear('<bpmn:serviceTask id="no_topic" camunda:type="external"/>', ids=("no_topic",)), "no_topic",
     ["no camunda:topic"]),
    (linear('<bpmn:businessRuleTask id="rule"/>', ids=("rule",)), "rule", ["decisionRef"]),
    (linear('<bpmn:scriptTask id="ext" scriptFormat="python" camunda:resource="classpath://x.py"/>',
            ids=("ext",)), "ext", ["external script resource"]),
    (linear('<bpmn:complexGateway id="complex"/>', ids=("complex",)), "complex", ["complex gateway"]),
])
def test_unsupported_elements_are_refused_with_id_and_reason(body, element, words):
    problems = refused_at({"refused.bpmn": process("refused", body)})
    assert element in problems, problems
    for word in words:
        assert word in problems[element]


def test_refusal_lists_every_problem_of_every_file():
    problems = refusal({
        "a.bpmn": process("a", linear(GROOVY_SCRIPT, '<bpmn:serviceTask id="bare"/>', ids=("calc", "bare"))),
        "b.bpmn": process("b", linear('<bpmn:serviceTask id="no_topic" camunda:type="external"/>',
                                      ids=("no_topic",))),
    })
    assert sorted((p.file, p.element_id) for p in problems) == [("a.bpmn", "bare"), ("a.bpmn", "calc"),
                                                                  ("b.bpmn", "no_topic")]


def test_a_python_listener_script_is_accepted_and_ignored_with_a_warning():
    body = linear('<bpmn:userTask id="t"><bpmn:extensionElements><camunda:executionListener event="end">'
                  '<camunda:script scriptFormat="python">x = 1</camunda:script></camunda:executionListener>'
                  '</bpmn:extensionElements></bpmn:userTask>', ids=("t",))
    parsed = accepted({"l.bpmn": process("l", body)})
    assert list(parsed.processes) == ["l"]
    assert [(w.element_id, w.reason) for w in parsed.warnings] == [("t", "camunda:executionListener is ignored")]


# -- the sandbox ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("script", [
    "os = __import__('os')\nos.system('true')",
    "import os",
    "from subprocess import run",
    "data = open('/etc/passwd').read()",
    "x = ().__class__.__bases__[0].__subclasses__()",
    "exec('y = 1')",
    "f = eval",
])
def test_unsafe_python_script_task_is_refused_at_validation(script):
    body = linear(f'<bpmn:scriptTask id="evil" scriptFormat="python"><bpmn:script><![CDATA[{script}]]>'
                  '</bpmn:script></bpmn:scriptTask>', ids=("evil",))
    problems = refused_at({"evil.bpmn": process("p_evil", body)})
    assert "not a safe Python script" in problems["evil"]


@pytest.mark.parametrize("condition", ["__import__('os').getcwd()", "open('/etc/passwd')", "x.__class__"])
def test_unsafe_python_condition_is_refused_at_validation(condition):
    problems = refused_at({"c.bpmn": process("c", gateway_with(
        f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">{condition}</bpmn:conditionExpression>'))})
    assert "groovy_flow" in problems


def test_safe_python_script_task_runs(engine):
    body = linear('<bpmn:scriptTask id="calc" scriptFormat="python" camunda:resultVariable="ignored">'
                  '<bpmn:script>total = sum(items) * 2</bpmn:script></bpmn:scriptTask><bpmn:userTask id="after"/>',
                  ids=("calc", "after"))
    case_id = run(engine, "script", body, {"items": [1, 2, 3]})
    assert engine.case(case_id)["variables"]["total"] == 12


# -- never a raw exception from the parser ------------------------------------------------------------

ODD = {
    "empty": b"",
    "not xml": b"this is not xml",
    "truncated": process("p", linear())[:-30],
    "html": b"<html><body>a page</body></html>",
    "other namespace": b'<definitions xmlns="urn:x"><process id="p" isExecutable="true"/></definitions>',
    "external entity": (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                        b'<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">'
                        b'<bpmn:process id="p"><bpmn:startEvent id="s" name="&x;"/></bpmn:process>'
                        b'</bpmn:definitions>'),
    "missing targetRef": process("p", '<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>'
                                      '<bpmn:sequenceFlow id="f" sourceRef="s"/>'),
    "missing sourceRef": process("p", '<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>'
                                      '<bpmn:sequenceFlow id="f" targetRef="e"/>'),
    "dangling targetRef": process("p", '<bpmn:startEvent id="s"/>' + flow("f", "s", "nowhere")),
    "duplicate id": process("p", '<bpmn:startEvent id="s"/><bpmn:userTask id="s"/><bpmn:endEvent id="e"/>'
                            + chain("s", "e")),
    "element without id": process("p", '<bpmn:startEvent/><bpmn:endEvent id="e"/>'),
    "process without id": definitions('<bpmn:process isExecutable="true"><bpmn:startEvent id="s"/>'
                                      '</bpmn:process>'),
    "no start event": process("p", '<bpmn:userTask id="t"/><bpmn:endEvent id="e"/>' + chain("t", "e")),
    "boundary without attachedToRef": process("p", linear('<bpmn:userTask id="t"/>', ids=("t",))
                                              + '<bpmn:boundaryEvent id="b"><bpmn:timerEventDefinition>'
                                                '<bpmn:timeDuration>PT1H</bpmn:timeDuration>'
                                                '</bpmn:timerEventDefinition></bpmn:boundaryEvent>'),
    "boundary on nothing": process("p", linear() + '<bpmn:boundaryEvent id="b" attachedToRef="zz">'
                                   '<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration>'
                                   '</bpmn:timerEventDefinition></bpmn:boundaryEvent>'),
    "unknown messageRef": process("p", linear('<bpmn:intermediateCatchEvent id="c"><bpmn:messageEventDefinition '
                                              'messageRef="nope"/></bpmn:intermediateCatchEvent>', ids=("c",))),
    "catch without messageRef": process("p", linear('<bpmn:intermediateCatchEvent id="c">'
                                                    '<bpmn:messageEventDefinition/></bpmn:intermediateCatchEvent>',
                                                    ids=("c",))),
    "message without name": process("p", linear('<bpmn:intermediateCatchEvent id="c"><bpmn:messageEventDefinition '
                                                'messageRef="m"/></bpmn:intermediateCatchEvent>', ids=("c",)),
                                     extra='<bpmn:message id="m"/>'),
    "catch event without definition": process("p", linear('<bpmn:intermediateCatchEvent id="c"/>', ids=("c",))),
    "boundary without definition": process("p", linear('<bpmn:userTask id="t"/>', ids=("t",))
                                           + '<bpmn:boundaryEvent id="b" attachedToRef="t"/>'),
    "unknown errorRef": process("p", '<bpmn:startEvent id="s"/><bpmn:endEvent id="e">'
                                     '<bpmn:errorEventDefinition errorRef="zz"/></bpmn:endEvent>' + chain("s", "e")),
    "signal without signalRef": process("p", linear('<bpmn:intermediateCatchEvent id="c">'
                                                    '<bpmn:signalEventDefinition/></bpmn:intermediateCatchEvent>',
                                                    ids=("c",))),
    "empty timer": process("p", linear('<bpmn:intermediateCatchEvent id="c"><bpmn:timerEventDefinition/>'
                                       '</bpmn:intermediateCatchEvent>', ids=("c",))),
    "bad timer": process("p", linear('<bpmn:intermediateCatchEvent id="c"><bpmn:timerEventDefinition>'
                                     '<bpmn:timeDuration>soon</bpmn:timeDuration></bpmn:timerEventDefinition>'
                                     '</bpmn:intermediateCatchEvent>', ids=("c",))),
    "empty condition": process("p", linear('<bpmn:intermediateCatchEvent id="c"><bpmn:conditionalEventDefinition>'
                                           '<bpmn:condition xsi:type="bpmn:tFormalExpression"/>'
                                           '</bpmn:conditionalEventDefinition></bpmn:intermediateCatchEvent>',
                                           ids=("c",))),
    "script without script": process("p", linear('<bpmn:scriptTask id="t" scriptFormat="python"/>', ids=("t",))),
    "unknown default flow": process("p", '<bpmn:startEvent id="s"/><bpmn:exclusiveGateway id="g" default="x"/>'
                                         '<bpmn:endEvent id="e"/>' + chain("s", "g", "e")),
    "bad JUEL": process("p", gateway_with('<bpmn:conditionExpression>${a &amp;&amp;}</bpmn:conditionExpression>')),
    "unknown callee": process("p", linear('<bpmn:callActivity id="c" calledElement="other"/>', ids=("c",))),
    "call without calledElement": process("p", linear('<bpmn:callActivity id="c"/>', ids=("c",))),
    "unpaired link": process("p", '<bpmn:startEvent id="s"/><bpmn:intermediateThrowEvent id="l">'
                                  '<bpmn:linkEventDefinition name="L"/></bpmn:intermediateThrowEvent>'
                                  + chain("s", "l")),
    "empty subprocess": process("p", linear('<bpmn:subProcess id="sp"/>', ids=("sp",))),
    "multi-instance without collection": process("p", linear('<bpmn:userTask id="t">'
                                                             '<bpmn:multiInstanceLoopCharacteristics/></bpmn:userTask>',
                                                             ids=("t",))),
    "bad form field": process("p", linear('<bpmn:userTask id="t"><bpmn:extensionElements><camunda:formData>'
                                          '<camunda:formField id="n" type="long" defaultValue="abc"/>'
                                          '</camunda:formData></bpmn:extensionElements></bpmn:userTask>', ids=("t",))),
    "bad assignee": process("p", linear('<bpmn:userTask id="t" camunda:assignee="${(}"/>', ids=("t",))),
}


@pytest.mark.parametrize("name", list(ODD))
def test_odd_input_is_refused_cleanly(name):
    with pytest.raises(ValidationFailed) as info:
        accepted({"odd.bpmn": ODD[name]})
    for problem in info.value.problems:
        assert problem.file == "odd.bpmn"
        assert problem.reason and "Error(" not in problem.reason and "Exception(" not in problem.reason
        assert "Traceback" not in problem.reason


@pytest.mark.parametrize(("name", "element"), [
    ("missing targetRef", "f"), ("missing sourceRef", "f"), ("dangling targetRef", "f"), ("duplicate id", "s"),
    ("boundary without attachedToRef", "b"), ("boundary on nothing", "b"), ("unknown messageRef", "c"),
    ("catch without messageRef", "c"), ("message without name", "c"), ("catch event without definition", "c"),
    ("boundary without definition", "b"), ("unknown errorRef", "e"), ("signal without signalRef", "c"),
    ("empty timer", "c"), ("bad timer", "c"), ("empty condition", "c"), ("script without script", "t"),
    ("unknown default flow", "g"), ("bad JUEL", "groovy_flow"), ("unknown callee", "c"),
    ("call without calledElement", "c"), ("unpaired link", "l"), ("empty subprocess", "sp"),
    ("multi-instance without collection", "t"), ("bad form field", "t"), ("bad assignee", "t"),
])
def test_odd_input_names_the_element(name, element):
    assert element in refused_at({"odd.bpmn": ODD[name]})


def test_form_errors_are_reported_once_by_element_not_as_a_repr():
    (problem,) = refusal({"odd.bpmn": ODD["bad form field"]})
    assert problem.element_id == "t"
    assert problem.reason.startswith("form field 'n': defaultValue 'abc'")


@pytest.mark.parametrize("data", [b"", b"<definitions/>", b"<dmn:definitions xmlns:dmn='x'/>", b"\xff\xfe"])
def test_odd_dmn_is_refused_cleanly(data):
    problems = refusal({"rules.dmn": data, "p.bpmn": process("p", linear())})
    assert {p.file for p in problems} == {"rules.dmn"}
