"""User tasks, worker-run elements and variable mappings as Camunda Modeler writes them."""

from __future__ import annotations

import pytest

from engine.errors import FormError
from engine.jobs import TopicRequest
from tests.diagrams import NS, chain, process
from tests.engine.camunda.compat_support import (
    complete_only_task,
    fetch,
    linear,
    open_task_ids,
    run,
    waiting,
)

# -- user tasks: assignment attributes ---------------------------------------------------------


def user_task(attrs: str) -> str:
    return linear(f'<bpmn:userTask id="review" name="Review" {attrs}/>', ids=("review",))


def test_literal_assignment_attributes_on_the_task_row(engine):
    case_id = run(engine, "assign", user_task(
        'camunda:assignee="anna" camunda:candidateUsers="bert, cecilia" '
        'camunda:candidateGroups="coordinators,leads , case-managers" camunda:priority="70" '
        'camunda:dueDate="2026-02-01T10:00:00Z" camunda:followUpDate="2026-01-20T08:30:00Z"'))
    (task,) = engine.open_tasks(case_id)
    assert task.element_id == "review" and task.name == "Review"
    assert task.assignee == "anna"
    assert task.candidate_users == ["bert", "cecilia"]
    assert task.candidate_groups == ["coordinators", "leads", "case-managers"]
    assert task.priority == 70
    assert task.due.isoformat().startswith("2026-02-01T10:00:00")
    assert task.follow_up.isoformat().startswith("2026-01-20T08:30:00")


def test_assignment_attributes_from_expressions(engine):
    case_id = run(engine, "assign_expr", user_task(
        'camunda:assignee="${initiator}" camunda:candidateUsers="#{helpers}" '
        'camunda:candidateGroups="${approverGroups}" camunda:priority="${urgent ? 90 : 20}"'),
        {"initiator": "dora", "helpers": "erik,fanny", "approverGroups": ["accounting", "sales"], "urgent": True})
    (task,) = engine.open_tasks(case_id)
    assert task.assignee == "dora"
    assert task.candidate_users == ["erik", "fanny"]
    assert task.candidate_groups == ["accounting", "sales"]
    assert task.priority == 90


def test_mixed_literal_and_expression_candidate_groups(engine):
    case_id = run(engine, "assign_mix", user_task('camunda:candidateGroups="team-${region}, leads"'),
                  {"region": "north"})
    (task,) = engine.open_tasks(case_id)
    assert task.candidate_groups == ["team-north", "leads"]


def test_task_without_assignment_has_defaults(engine):
    case_id = run(engine, "assign_none", user_task(""))
    (task,) = engine.open_tasks(case_id)
    assert (task.assignee, task.candidate_users, task.candidate_groups, task.due, task.priority) == (
        None, [], [], None, 50)


def test_waiting_entry_of_a_user_task(engine):
    case_id = run(engine, "assign_wait", user_task('camunda:candidateGroups="leads" camunda:assignee="anna"'))
    (item,) = engine.case(case_id)["waiting"]
    assert item["kind"] == "userTask" and item["id"] == "review" and item["name"] == "Review"
    assert item["candidateGroups"] == ["leads"] and item["assignee"] == "anna"


# -- forms ------------------------------------------------------------------------------------

FORM = ('<bpmn:extensionElements><camunda:formData>'
        '<camunda:formField id="amount" label="Amount" type="long" defaultValue="10">'
        '<camunda:validation><camunda:constraint name="min" config="1"/></camunda:validation></camunda:formField>'
        '<camunda:formField id="decision" type="enum"><camunda:value id="yes" name="Yes"/>'
        '<camunda:value id="no" name="No"/></camunda:formField>'
        '</camunda:formData></bpmn:extensionElements>')


@pytest.mark.parametrize("namespace", ["http://camunda.org/schema/1.0/bpmn", "http://activiti.org/bpmn"])
def test_form_fields_in_either_namespace(engine, namespace):
    body = linear(f'<bpmn:userTask id="review">{FORM}</bpmn:userTask>', ids=("review",))
    xml = (b'<?xml version="1.0" encoding="UTF-8"?>'
           + f'<bpmn:definitions {NS.replace("http://camunda.org/schema/1.0/bpmn", namespace)} id="d" '
             f'targetNamespace="t"><bpmn:process id="legacy" isExecutable="true">{body}</bpmn:process>'
             f'</bpmn:definitions>'.encode())
    engine.deploy({"legacy.bpmn": xml})
    case_id = engine.start("legacy")
    (task,) = engine.open_tasks(case_id)
    fields = {f["id"]: f for f in task.form["fields"]}
    assert fields["amount"]["type"] == "long" and fields["amount"]["default"] == "10"
    assert [o["id"] for o in fields["decision"]["options"]] == ["yes", "no"]
    with pytest.raises(FormError) as info:
        engine.complete_task(task.id, {"amount": "0", "decision": "maybe"})
    assert set(info.value.errors) == {"amount", "decision"}
    engine.complete_task(task.id, {"amount": "5", "decision": "yes"})
    case = engine.case(case_id)
    assert case["status"] == "completed"
    assert case["variables"]["amount"] == 5 and case["variables"]["decision"] == "yes"


def test_form_key_is_recorded_on_the_task(engine):
    case_id = run(engine, "form_key", user_task('camunda:formKey="embedded:app:forms/review.html"'))
    (task,) = engine.open_tasks(case_id)
    assert task.form_key == "embedded:app:forms/review.html"
    assert task.form["form_key"] == "embedded:app:forms/review.html"


def test_form_ref_is_recorded_on_the_task(engine):
    case_id = run(engine, "form_ref", user_task('camunda:formRef="reviewForm" camunda:formRefBinding="latest"'))
    (task,) = engine.open_tasks(case_id)
    assert task.form_key == "reviewForm"
    assert task.form["form_ref"] == "reviewForm"


# -- elements run by workers ---------------------------------------------------------------------


@pytest.mark.parametrize(("attrs", "extension", "topic"), [
    ('camunda:type="external" camunda:topic="send-letter"', "", "send-letter"),
    ('camunda:class="org.example.SendLetterDelegate"', "", "org.example.SendLetterDelegate"),
    ('camunda:expression="${letters.send(execution)}"', "", "${letters.send(execution)}"),
    ('camunda:delegateExpression="${sendLetterDelegate}"', "", "${sendLetterDelegate}"),
    ("", "<bpmn:extensionElements><camunda:connector><camunda:connectorId>http-connector</camunda:connectorId>"
         "</camunda:connector></bpmn:extensionElements>", "http-connector"),
])
@pytest.mark.parametrize("tag", ["serviceTask", "sendTask", "businessRuleTask"])
def test_implementations_become_jobs_with_their_topic(engine, tag, attrs, extension, topic):
    body = linear(f'<bpmn:{tag} id="work" {attrs}>{extension}</bpmn:{tag}>', '<bpmn:userTask id="after"/>',
                  ids=("work", "after"))
    case_id = run(engine, "impl", body, {"letterId": 7})
    assert waiting(engine, case_id) == [("job", "work")]
    (job,) = fetch(engine, topic)
    assert (job.element_id, job.topic, job.case_id) == ("work", topic, case_id)
    assert job.variables["letterId"] == 7
    engine.complete_job(job.id, "worker", {"sent": True})
    assert open_task_ids(engine, case_id) == ["after"]
    assert engine.case(case_id)["variables"]["sent"] is True


def test_external_task_priority(engine):
    body = linear('<bpmn:serviceTask id="low" camunda:type="external" camunda:topic="t" camunda:taskPriority="1"/>'
                  '<bpmn:parallelGateway id="split"/><bpmn:parallelGateway id="join"/>'
                  '<bpmn:serviceTask id="high" camunda:type="external" camunda:topic="t" '
                  'camunda:taskPriority="${boost}"/>', ids=("split",))
    body = body.replace(chain("start", "split", "end"), chain("start", "split", "low", "join", "end")
                        + chain("split", "high", "join"))
    run(engine, "prio", body, {"boost": 9})
    first = engine.fetch_and_lock("worker", [TopicRequest("t")], max_jobs=1)
    assert [(j.element_id, j.priority) for j in first] == [("high", 9)]
    assert [(j.element_id, j.priority) for j in fetch(engine, "t")] == [("low", 1)]


def test_message_end_event_with_an_implementation_is_a_job(engine):
    body = ('<bpmn:startEvent id="start"/><bpmn:endEvent id="notify_end"><bpmn:messageEventDefinition '
            'camunda:type="external" camunda:topic="notify"/></bpmn:endEvent>' + chain("start", "notify_end"))
    case_id = run(engine, "msg_end", body)
    assert waiting(engine, case_id) == [("job", "notify_end")]
    (job,) = fetch(engine, "notify")
    engine.complete_job(job.id, "worker", {})
    assert engine.case(case_id)["status"] == "completed"


def test_message_throw_event_with_a_class_is_a_job(engine):
    body = linear('<bpmn:intermediateThrowEvent id="tell"><bpmn:messageEventDefinition '
                  'camunda:class="org.example.Tell"/></bpmn:intermediateThrowEvent><bpmn:userTask id="after"/>',
                  ids=("tell", "after"))
    case_id = run(engine, "msg_throw", body)
    (job,) = fetch(engine, "org.example.Tell")
    engine.complete_job(job.id, "worker", {})
    assert open_task_ids(engine, case_id) == ["after"]


@pytest.mark.parametrize("tag", ["task", "manualTask"])
def test_plain_and_manual_tasks_pass_through_like_in_camunda(engine, tag):
    body = linear(f'<bpmn:{tag} id="note"/><bpmn:userTask id="after"/>', ids=("note", "after"))
    case_id = run(engine, "plain", body)
    assert waiting(engine, case_id) == [("userTask", "after")]


# -- camunda:inputOutput ---------------------------------------------------------------------------

IO = ('<bpmn:extensionElements><camunda:inputOutput>'
      '<camunda:inputParameter name="greeting">Hello ${name}</camunda:inputParameter>'
      '<camunda:inputParameter name="literal">plain text</camunda:inputParameter>'
      '<camunda:inputParameter name="limit">${amount * 2}</camunda:inputParameter>'
      '<camunda:inputParameter name="recipients"><camunda:list><camunda:value>${name}</camunda:value>'
      '<camunda:value>office</camunda:value></camunda:list></camunda:inputParameter>'
      '<camunda:inputParameter name="headers"><camunda:map><camunda:entry key="to">${name}</camunda:entry>'
      '<camunda:entry key="tags"><camunda:list><camunda:value>a</camunda:value></camunda:list></camunda:entry>'
      '</camunda:map></camunda:inputParameter>'
      '<camunda:outputParameter name="total">${response + limit}</camunda:outputParameter>'
      '<camunda:outputParameter name="summary"><camunda:map><camunda:entry key="who">${greeting}</camunda:entry>'
      '</camunda:map></camunda:outputParameter>'
      '</camunda:inputOutput></bpmn:extensionElements>')


def test_input_output_text_list_and_map(engine):
    body = linear(f'<bpmn:serviceTask id="call" camunda:type="external" camunda:topic="io">{IO}</bpmn:serviceTask>'
                  '<bpmn:userTask id="after"/>', ids=("call", "after"))
    case_id = run(engine, "io", body, {"name": "Anna", "amount": 4})
    (job,) = fetch(engine, "io")
    assert job.variables["greeting"] == "Hello Anna"
    assert job.variables["literal"] == "plain text"
    assert job.variables["limit"] == 8
    assert job.variables["recipients"] == ["Anna", "office"]
    assert job.variables["headers"] == {"to": "Anna", "tags": ["a"]}
    engine.complete_job(job.id, "worker", {"response": 100})
    variables = engine.case(case_id)["variables"]
    assert variables["total"] == 108
    assert variables["summary"] == {"who": "Hello Anna"}
    # input parameters are local to the activity
    assert not {"greeting", "literal", "limit", "recipients", "headers"} & set(variables)


def test_input_output_on_a_user_task_and_an_event(engine):
    body = ('<bpmn:startEvent id="start"><bpmn:extensionElements><camunda:inputOutput>'
            '<camunda:outputParameter name="origin">start</camunda:outputParameter>'
            '</camunda:inputOutput></bpmn:extensionElements></bpmn:startEvent>'
            '<bpmn:userTask id="review"><bpmn:extensionElements><camunda:inputOutput>'
            '<camunda:inputParameter name="hint">check ${origin}</camunda:inputParameter>'
            '<camunda:outputParameter name="reviewed">${verdict == "ok"}</camunda:outputParameter>'
            '<camunda:outputParameter name="hintShown">${hint}</camunda:outputParameter>'
            '</camunda:inputOutput></bpmn:extensionElements></bpmn:userTask>'
            '<bpmn:endEvent id="end"/>' + chain("start", "review", "end"))
    case_id = run(engine, "io_user", body)
    assert "hint" not in engine.case(case_id)["variables"]  # local to the open task, not a process variable
    complete_only_task(engine, case_id, {"verdict": "ok"})
    variables = engine.case(case_id)["variables"]
    assert variables["reviewed"] is True and variables["hintShown"] == "check start" and "hint" not in variables


# -- call activities: camunda:in / camunda:out ---------------------------------------------------

CALLEE = linear('<bpmn:serviceTask id="inner" camunda:type="external" camunda:topic="inner"/>', ids=("inner",))


def call(mappings: str) -> str:
    return linear(f'<bpmn:callActivity id="call" calledElement="callee"><bpmn:extensionElements>{mappings}'
                  '</bpmn:extensionElements></bpmn:callActivity><bpmn:userTask id="after"/>', ids=("call", "after"))


def run_call(engine, mappings: str) -> tuple[str, dict, dict]:
    """Run caller → callee; the callee's worker sees (job vars) and returns `result` and `scratch`."""
    engine.deploy({"caller.bpmn": process("caller", call(mappings)), "callee.bpmn": process("callee", CALLEE)})
    case_id = engine.start("caller", "BK-1", {"a": 1, "b": 2, "secret": "s"})
    (job,) = fetch(engine, "inner")
    seen = dict(job.variables)
    engine.complete_job(job.id, "worker", {"result": "done", "scratch": 99})
    assert open_task_ids(engine, case_id) == ["after"]
    return case_id, seen, engine.case(case_id)["variables"]


def test_call_activity_passes_only_mapped_variables(engine):
    _, seen, after = run_call(engine, '<camunda:in source="a" target="x"/>'
                                      '<camunda:in sourceExpression="${b + 10}" target="y"/>'
                                      '<camunda:in source="b"/>'
                                      '<camunda:out source="result" target="outcome"/>'
                                      '<camunda:out sourceExpression="${scratch + 1}" target="computed"/>')
    seen.pop("businessKey", None)
    assert seen == {"x": 1, "y": 12, "b": 2}
    assert after["outcome"] == "done" and after["computed"] == 100
    assert "scratch" not in after and "result" not in after
    assert after["secret"] == "s" and after["a"] == 1


def test_call_activity_with_all_variables(engine):
    _, seen, after = run_call(engine, '<camunda:in variables="all"/><camunda:out variables="all"/>')
    assert {"a": 1, "b": 2, "secret": "s"}.items() <= seen.items()
    assert after["result"] == "done" and after["scratch"] == 99


def test_call_activity_without_mappings_passes_nothing(engine):
    _, seen, after = run_call(engine, "")
    assert not {"a", "b", "secret"} & set(seen)
    assert "result" not in after


def test_call_activity_business_key_mapping_is_accepted(engine):
    case_id, seen, _ = run_call(engine, '<camunda:in businessKey="#{execution.processBusinessKey}"/>'
                                        '<camunda:in source="a" target="a"/>')
    assert seen.get("a") == 1
    assert engine.case(case_id)["businessKey"] == "BK-1"


def test_an_input_parameter_shadows_a_process_variable_only_while_the_activity_runs(engine):
    io = ('<bpmn:extensionElements><camunda:inputOutput>'
          '<camunda:inputParameter name="caseManager">${caseManager}-local</camunda:inputParameter>'
          '</camunda:inputOutput></bpmn:extensionElements>')
    body = linear(f'<bpmn:serviceTask id="call" camunda:type="external" camunda:topic="shadow">{io}</bpmn:serviceTask>'
                  '<bpmn:userTask id="after"/>', ids=("call", "after"))
    case_id = run(engine, "shadow", body, {"caseManager": "anna"})
    (job,) = fetch(engine, "shadow")
    assert job.variables["caseManager"] == "anna-local"
    engine.complete_job(job.id, "worker", {})
    assert engine.case(case_id)["variables"]["caseManager"] == "anna"


def test_an_enum_value_may_share_its_id_with_an_element(engine):
    form = ('<bpmn:extensionElements><camunda:formData><camunda:formField id="next" type="enum">'
            '<camunda:value id="team_review" name="Team"/><camunda:value id="done" name="Done"/>'
            '</camunda:formField></camunda:formData></bpmn:extensionElements>')
    body = linear(f'<bpmn:userTask id="choose">{form}</bpmn:userTask><bpmn:userTask id="team_review"/>',
                  ids=("choose", "team_review"))
    case_id = run(engine, "enum_ids", body)
    complete_only_task(engine, case_id, data={"next": "team_review"})
    assert waiting(engine, case_id) == [("userTask", "team_review")]
