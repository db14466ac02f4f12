"""A script in a language other than Python is refused wherever it is in a file, with element and reason."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.errors import ValidationFailed
from tests.diagrams import flow, process
from tests.engine.camunda.compat_support import accepted, linear, refused_at


def extensions(xml: str) -> str:
    return f"<bpmn:extensionElements>{xml}</bpmn:extensionElements>"


def connector(parameters: str) -> str:
    """A service task implemented by Camunda's http-connector, with the connector's own parameters."""
    return ('<bpmn:serviceTask id="call">' + extensions(
        '<camunda:connector><camunda:connectorId>http-connector</camunda:connectorId>'
        f'<camunda:inputOutput>{parameters}</camunda:inputOutput></camunda:connector>') + '</bpmn:serviceTask>')


JS_OUTPUT = ('<camunda:outputParameter name="status"><camunda:script scriptFormat="javascript">'
             'S(response).prop("status").stringValue()</camunda:script></camunda:outputParameter>')


def on_task(xml: str, tag: str = "userTask") -> str:
    return linear(f'<bpmn:{tag} id="t">{extensions(xml)}</bpmn:{tag}>', ids=("t",))


@pytest.mark.parametrize(("body", "element", "words"), [
    # a connector's JavaScript output mapping used to be dropped silently while the case ran on
    (linear(connector('<camunda:inputParameter name="url">http://x</camunda:inputParameter>' + JS_OUTPUT),
            ids=("call",)), "call", ["camunda:connector outputParameter 'status' script", "javascript"]),
    (linear(connector('<camunda:inputParameter name="payload"><camunda:script scriptFormat="groovy">'
                      'JSON.toJson(order)</camunda:script></camunda:inputParameter>'), ids=("call",)),
     "call", ["camunda:connector inputParameter 'payload'", "groovy"]),
    (linear(connector('<camunda:outputParameter name="status"><camunda:script scriptFormat="javascript" '
                      'resource="deployment://status.js"/></camunda:outputParameter>'), ids=("call",)),
     "call", ["external script resource", "status.js"]),
    # an external script resource in the task's own mapping, even when it names Python
    (on_task('<camunda:inputOutput><camunda:inputParameter name="x"><camunda:script scriptFormat="python" '
             'resource="classpath://calc.py"/></camunda:inputParameter></camunda:inputOutput>'),
     "t", ["inputParameter 'x'", "external script resource", "calc.py"]),
    # a script inside a list of a parameter
    (on_task('<camunda:inputOutput><camunda:inputParameter name="xs"><camunda:list><camunda:value>1</camunda:value>'
             '<camunda:script scriptFormat="javascript">2</camunda:script></camunda:list>'
             '</camunda:inputParameter></camunda:inputOutput>'), "t", ["inputParameter 'xs'", "javascript"]),
    # listeners with scripts (Camunda's invoice example assigns its approver this way)
    (on_task('<camunda:taskListener event="create"><camunda:script scriptFormat="javascript">'
             'task.setAssignee(approver)</camunda:script></camunda:taskListener>'),
     "t", ["camunda:taskListener (create) script", "javascript"]),
    (on_task('<camunda:executionListener event="end"><camunda:script scriptFormat="groovy">println 1'
             '</camunda:script></camunda:executionListener>'), "t", ["camunda:executionListener (end) script",
                                                                   "groovy"]),
    (on_task('<camunda:executionListener event="start"><camunda:script scriptFormat="python" '
             'resource="audit.py"/></camunda:executionListener>'), "t", ["external script resource"]),
    # conditions and other formal expressions with a language
    (linear('<bpmn:exclusiveGateway id="g" default="other"/><bpmn:endEvent id="e2"/>', ids=("g",))
     + flow("other", "g", "e2")
     + '<bpmn:sequenceFlow id="js" sourceRef="g" targetRef="e2"><bpmn:conditionExpression '
       'xsi:type="bpmn:tFormalExpression" language="javascript">amount &gt; 5</bpmn:conditionExpression>'
       '</bpmn:sequenceFlow>', "js", ["condition is written in javascript"]),
    (linear('<bpmn:exclusiveGateway id="g" default="other"/><bpmn:endEvent id="e2"/>', ids=("g",))
     + flow("other", "g", "e2")
     + '<bpmn:sequenceFlow id="ext" sourceRef="g" targetRef="e2"><bpmn:conditionExpression '
       'xsi:type="bpmn:tFormalExpression" language="juel" camunda:resource="cond.juel"/></bpmn:sequenceFlow>',
     "ext", ["external script resource", "cond.juel"]),
    (linear('<bpmn:intermediateCatchEvent id="c"><bpmn:conditionalEventDefinition id="cdef">'
            '<bpmn:condition xsi:type="bpmn:tFormalExpression" language="groovy">x &gt; 1</bpmn:condition>'
            '</bpmn:conditionalEventDefinition></bpmn:intermediateCatchEvent>', ids=("c",)),
     "c", ["condition is written in groovy"]),
    (linear('<bpmn:userTask id="mi"><bpmn:multiInstanceLoopCharacteristics camunda:collection="${xs}" '
            'camunda:elementVariable="x"><bpmn:completionCondition xsi:type="bpmn:tFormalExpression" '
            'language="javascript">nrOfCompletedInstances &gt; 1</bpmn:completionCondition>'
            '</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>', ids=("mi",)),
     "mi", ["completionCondition is written in javascript"]),
])
def test_refused_with_the_element_and_the_reason(body, element, words):
    problems = refused_at({"s.bpmn": process("s", body)})
    assert element in problems, problems
    for word in words:
        assert word in problems[element], problems[element]


def test_a_process_listener_script_names_the_process():
    xml = process("whole", linear()).replace(
        b'isExecutable="true">', b'isExecutable="true"><bpmn:extensionElements><camunda:executionListener '
        b'event="start"><camunda:script scriptFormat="javascript">x</camunda:script></camunda:executionListener>'
        b'</bpmn:extensionElements>')
    assert "javascript" in refused_at({"w.bpmn": xml})["whole"]


def test_a_listener_on_a_sequence_flow_names_the_flow():
    body = ('<bpmn:startEvent id="start"/><bpmn:endEvent id="end"/><bpmn:sequenceFlow id="taken" sourceRef="start" '
            'targetRef="end"><bpmn:extensionElements><camunda:executionListener event="take"><camunda:script '
            'scriptFormat="javascript">x</camunda:script></camunda:executionListener></bpmn:extensionElements>'
            '</bpmn:sequenceFlow>')
    assert "camunda:executionListener (take) script" in refused_at({"f.bpmn": process("f", body)})["taken"]


def test_python_and_juel_are_still_accepted_and_unapplied_connector_parameters_are_warned():
    body = linear(connector('<camunda:inputParameter name="url">${base}/x</camunda:inputParameter>'
                            '<camunda:outputParameter name="status"><camunda:script scriptFormat="python">'
                            'response["status"]</camunda:script></camunda:outputParameter>'),
                  '<bpmn:userTask id="t">' + extensions(
                      '<camunda:inputOutput><camunda:inputParameter name="n"><camunda:script scriptFormat="python">'
                      '1 + 1</camunda:script></camunda:inputParameter></camunda:inputOutput>') + '</bpmn:userTask>',
                  ids=("call", "t"))
    parsed = accepted({"ok.bpmn": process("ok", body)})
    assert list(parsed.processes) == ["ok"]
    assert [w.element_id for w in parsed.warnings if "camunda:connector" in w.reason] == ["call"]


def test_the_connector_with_a_javascript_mapping_no_longer_deploys(engine):
    body = linear(connector(JS_OUTPUT), ids=("call",))
    with pytest.raises(ValidationFailed) as info:
        engine.deploy({"c.bpmn": process("c", body)})
    (problem,) = info.value.problems
    assert problem.line() == ("c.bpmn: call: camunda:connector outputParameter 'status' script is written in "
                              "javascript; only Python scripts are supported")
    assert engine.definitions.latest_versions() == []


def test_polku_validate_prints_file_element_reason(tmp_path: Path):
    (tmp_path / "listener.bpmn").write_bytes(process("listener", on_task(
        '<camunda:taskListener event="assignment"><camunda:script scriptFormat="javascript">x'
        '</camunda:script></camunda:taskListener>')))
    (tmp_path / "flows.bpmn").write_bytes(process("flows", '<bpmn:startEvent id="s"/><bpmn:endEvent id="e"/>'
                                                           '<bpmn:sequenceFlow sourceRef="s" targetRef="e"/>'))
    env = {k: v for k, v in os.environ.items() if k != "POLKU_DEBUG"}
    polku = str(Path(sys.executable).with_name("polku"))
    refused = subprocess.run([polku, "validate", "listener.bpmn", "flows.bpmn"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120, check=False)
    assert refused.returncode == 1
    assert refused.stdout.splitlines() == [
        "listener.bpmn: t: camunda:taskListener (assignment) script is written in javascript; "
        "only Python scripts are supported"]
    fine = subprocess.run([polku, "validate", "flows.bpmn"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert fine.returncode == 0 and fine.stdout.strip() == "ok: 1 process(es): flows"
