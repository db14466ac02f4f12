"""Camunda's process scope: a variable set on one path is seen at once by the rest of the process.

Each test runs the persisted engine (every action reloads the case) and looks where a user or a
worker would: the case's variables, what a worker fetches with its job, what a task is assigned.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from engine.models import Case
from tests.diagrams import chain, flow, process
from tests.engine.camunda.compat_support import complete_only_task, fetch, open_task_ids, run

TIMER_PATH = {
    "script": ('<bpmn:boundaryEvent id="late" attachedToRef="A" cancelActivity="false">'
               '<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>'
               '</bpmn:boundaryEvent>'
               '<bpmn:scriptTask id="mark" scriptFormat="python"><bpmn:script>escalated = True</bpmn:script>'
               '</bpmn:scriptTask>'),
    "output mapping": ('<bpmn:boundaryEvent id="late" attachedToRef="A" cancelActivity="false">'
                       '<bpmn:extensionElements><camunda:inputOutput>'
                       '<camunda:outputParameter name="escalated">${true}</camunda:outputParameter>'
                       '</camunda:inputOutput></bpmn:extensionElements>'
                       '<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration>'
                       '</bpmn:timerEventDefinition></bpmn:boundaryEvent>'
                       '<bpmn:task id="mark"/>'),
}


@pytest.mark.parametrize("setter", sorted(TIMER_PATH))
def test_a_non_interrupting_boundary_path_sets_a_variable_for_the_whole_process(engine, clock, setter):
    body = ('<bpmn:startEvent id="start"/><bpmn:userTask id="A"/>'
            '<bpmn:serviceTask id="B" camunda:type="external" camunda:topic="after"/><bpmn:endEvent id="end"/>'
            + TIMER_PATH[setter] + '<bpmn:userTask id="handle"/><bpmn:endEvent id="late_end"/>'
            + chain("start", "A", "B", "end") + chain("late", "mark", "handle", "late_end"))
    case_id = run(engine, "escalation", body, {"escalated": False})
    clock.advance(hours=2)
    assert engine.fire_due_timers() == 1
    assert sorted(open_task_ids(engine, case_id)) == ["A", "handle"]
    assert engine.case(case_id)["variables"]["escalated"] is True  # before the boundary path ends
    complete_only_task(engine, case_id, element="A")
    (job,) = fetch(engine, "after")
    assert job.variables["escalated"] is True
    engine.complete_job(job.id, "worker", {})
    complete_only_task(engine, case_id, element="handle")
    case = engine.case(case_id)
    assert case["status"] == "completed" and case["variables"]["escalated"] is True


def parallel(branch1: str, ids1: tuple[str, ...], branch2: str, ids2: tuple[str, ...], after: str = "") -> str:
    """start → split → (branch 1 | branch 2) → join → `after` job → end."""
    return ('<bpmn:startEvent id="start"/><bpmn:parallelGateway id="split"/><bpmn:parallelGateway id="join"/>'
            + branch1 + branch2 + after
            + '<bpmn:serviceTask id="after" camunda:type="external" camunda:topic="after"/><bpmn:endEvent id="end"/>'
            + chain("start", "split") + chain("split", *ids1, "join") + chain("split", *ids2, "join")
            + chain("join", "after", "end"))


def test_parallel_branches_see_each_others_changes_and_the_join_keeps_the_latest(engine):
    body = parallel('<bpmn:scriptTask id="set1" scriptFormat="python"><bpmn:script>x = 1</bpmn:script>'
                    '</bpmn:scriptTask><bpmn:userTask id="wait1"/>', ("set1", "wait1"),
                    '<bpmn:userTask id="look2"/><bpmn:serviceTask id="check" camunda:type="external" '
                    'camunda:topic="check"/>', ("look2", "check"))
    case_id = run(engine, "branches", body, {"x": 0})
    assert engine.case(case_id)["variables"]["x"] == 1
    complete_only_task(engine, case_id, element="look2")
    (check,) = fetch(engine, "check")
    assert check.variables["x"] == 1  # set on branch 1 while branch 2 waited
    engine.complete_job(check.id, "worker", {"x": 2})
    assert engine.case(case_id)["variables"]["x"] == 2
    complete_only_task(engine, case_id, element="wait1")  # branch 1 arrives last, with no stale x = 1
    (after,) = fetch(engine, "after")
    assert after.variables["x"] == 2


def test_a_variable_set_back_on_the_last_branch_stays_set_back_after_the_join(engine):
    body = parallel('<bpmn:userTask id="one"/>', ("one",), '<bpmn:userTask id="two"/>', ("two",))
    case_id = run(engine, "set_back", body, {"approved": False})
    complete_only_task(engine, case_id, {"approved": True}, element="one")  # branch 1 waits at the join
    complete_only_task(engine, case_id, {"approved": False}, element="two")
    (after,) = fetch(engine, "after")
    assert after.variables["approved"] is False


def test_a_variable_removed_on_one_branch_is_gone_from_the_others(engine):
    body = parallel('<bpmn:scriptTask id="drop" scriptFormat="python"><bpmn:script>del draft</bpmn:script>'
                    '</bpmn:scriptTask><bpmn:userTask id="wait1"/>', ("drop", "wait1"),
                    '<bpmn:userTask id="look2"/><bpmn:serviceTask id="check" camunda:type="external" '
                    'camunda:topic="check"/>', ("look2", "check"))
    case_id = run(engine, "removed", body, {"draft": "text", "keep": 1})
    assert "draft" not in engine.case(case_id)["variables"]
    complete_only_task(engine, case_id, element="look2")
    (check,) = fetch(engine, "check")
    assert "draft" not in check.variables and check.variables["keep"] == 1
    engine.complete_job(check.id, "worker", {})
    complete_only_task(engine, case_id, element="wait1")
    (after,) = fetch(engine, "after")
    assert "draft" not in after.variables


def test_a_user_task_opened_after_another_branch_changed_a_variable_is_assigned_by_it(engine):
    body = parallel('<bpmn:userTask id="reassign"/>', ("reassign",),
                    '<bpmn:userTask id="first"/><bpmn:userTask id="second" camunda:assignee="${owner}"/>',
                    ("first", "second"))
    case_id = run(engine, "assignee", body, {"owner": "anna"})
    complete_only_task(engine, case_id, {"owner": "ben"}, element="reassign")
    complete_only_task(engine, case_id, element="first")
    (second,) = engine.open_tasks(case_id)
    assert second.element_id == "second" and second.assignee == "ben"


def test_input_parameters_stay_local_while_other_branches_change_the_variable(engine):
    local = ('<bpmn:userTask id="local"><bpmn:extensionElements><camunda:inputOutput>'
             '<camunda:inputParameter name="x">99</camunda:inputParameter>'
             '<camunda:inputParameter name="note">draft</camunda:inputParameter>'
             '<camunda:outputParameter name="seen">${x}</camunda:outputParameter>'
             '</camunda:inputOutput></bpmn:extensionElements></bpmn:userTask>')
    body = parallel(local, ("local",),
                    '<bpmn:serviceTask id="check" camunda:type="external" camunda:topic="check"/>', ("check",))
    case_id = run(engine, "locals", body, {"x": 5})
    variables = engine.case(case_id)["variables"]
    assert variables["x"] == 5 and "note" not in variables
    (check,) = fetch(engine, "check")
    assert check.variables["x"] == 5 and "note" not in check.variables
    engine.complete_job(check.id, "worker", {"x": 7})
    variables = engine.case(case_id)["variables"]
    assert variables["x"] == 7 and "note" not in variables
    complete_only_task(engine, case_id, element="local")
    (after,) = fetch(engine, "after")
    assert after.variables["x"] == 7 and after.variables["seen"] == "99" and "note" not in after.variables


def test_a_multi_instance_element_variable_stays_in_its_instance(engine):
    work = ('<bpmn:userTask id="work"><bpmn:multiInstanceLoopCharacteristics camunda:collection="${items}" '
            'camunda:elementVariable="item"/></bpmn:userTask>')
    body = parallel(work, ("work",), '<bpmn:userTask id="look2"/><bpmn:serviceTask id="check" '
                    'camunda:type="external" camunda:topic="check"/>', ("look2", "check"))
    case_id = run(engine, "mi_local", body, {"items": ["a", "b"]})
    variables = engine.case(case_id)["variables"]
    assert "item" not in variables and not [k for k in variables if k.startswith("_mi_")]
    first = next(t for t in engine.open_tasks(case_id) if t.element_id == "work")
    engine.complete_task(first.id, {"note": "seen"})
    complete_only_task(engine, case_id, element="look2")
    (check,) = fetch(engine, "check")
    assert check.variables["note"] == "seen" and "item" not in check.variables
    assert not [k for k in check.variables if k.startswith("_mi_")]  # nor the collection SpiffWorkflow keeps
    engine.complete_job(check.id, "worker", {"item": "a process variable"})
    last = next(t for t in engine.open_tasks(case_id) if t.element_id == "work")
    engine.complete_task(last.id, {})
    (after,) = fetch(engine, "after")
    assert after.variables["note"] == "seen" and after.variables["item"] == "a process variable"


def test_an_embedded_subprocess_shares_the_process_scope(engine):
    sub = ('<bpmn:subProcess id="sub"><bpmn:startEvent id="s_start"/>'
           '<bpmn:scriptTask id="set_y" scriptFormat="python"><bpmn:script>y = 1</bpmn:script></bpmn:scriptTask>'
           '<bpmn:userTask id="inner"/><bpmn:endEvent id="s_end"/>'
           + chain("s_start", "set_y", "inner", "s_end") + '</bpmn:subProcess>')
    body = parallel(sub, ("sub",), '<bpmn:userTask id="look2"/><bpmn:serviceTask id="check" '
                    'camunda:type="external" camunda:topic="check"/>', ("look2", "check"))
    case_id = run(engine, "embedded", body)
    assert engine.case(case_id)["variables"]["y"] == 1
    complete_only_task(engine, case_id, element="look2")
    (check,) = fetch(engine, "check")
    assert check.variables["y"] == 1
    engine.complete_job(check.id, "worker", {"z": 2})
    complete_only_task(engine, case_id, element="inner")
    (after,) = fetch(engine, "after")
    assert after.variables["y"] == 1 and after.variables["z"] == 2


def test_a_called_process_has_its_own_scope(engine):
    callee = ('<bpmn:startEvent id="c_start"/><bpmn:userTask id="inner"/>'
              '<bpmn:serviceTask id="called" camunda:type="external" camunda:topic="called"/>'
              '<bpmn:endEvent id="c_end"/>' + chain("c_start", "inner", "called", "c_end"))
    call = ('<bpmn:callActivity id="call" calledElement="callee"><bpmn:extensionElements>'
            '<camunda:in source="x" target="x"/><camunda:out source="result" target="result"/>'
            '</bpmn:extensionElements></bpmn:callActivity>')
    body = parallel(call, ("call",),
                    '<bpmn:serviceTask id="side" camunda:type="external" camunda:topic="side"/>', ("side",))
    case_id = run(engine, "caller", body, {"x": 1}, more={"callee.bpmn": process("callee", callee)})
    (side,) = fetch(engine, "side")
    engine.complete_job(side.id, "worker", {"z": 3})
    complete_only_task(engine, case_id, element="inner")
    (called,) = fetch(engine, "called")
    assert called.variables == {"x": 1}  # the caller's z does not reach the called process
    engine.complete_job(called.id, "worker", {"result": 4, "secret": 5})
    (after,) = fetch(engine, "after")
    assert after.variables["result"] == 4 and after.variables["z"] == 3 and "secret" not in after.variables


def test_a_case_saved_before_process_scope_runs_on(engine):
    """Tasks without remembered fingerprints (state saved by earlier code) publish nothing and merge as before."""
    body = parallel('<bpmn:userTask id="one"/>', ("one",), '<bpmn:userTask id="two"/>', ("two",))
    case_id = run(engine, "legacy", body, {"a": 0})
    with engine.db.transaction() as session:
        row = session.execute(select(Case).where(Case.id == case_id)).scalar_one()
        state = json.loads(row.state)
        assert "scope_seen" in row.state
        _strip(state, "scope_seen")
        row.state = json.dumps(state)
    complete_only_task(engine, case_id, {"a": 1}, element="one")
    complete_only_task(engine, case_id, {"b": 2}, element="two")
    (after,) = fetch(engine, "after")
    assert after.variables["a"] == 1 and after.variables["b"] == 2


def _strip(node: object, key: str) -> None:
    if isinstance(node, dict):
        node.pop(key, None)
        for value in node.values():
            _strip(value, key)
    elif isinstance(node, list):
        for value in node:
            _strip(value, key)


def test_a_condition_after_a_branch_reads_the_variable_set_on_the_other(engine):
    body = ('<bpmn:startEvent id="start"/><bpmn:parallelGateway id="split"/>'
            '<bpmn:userTask id="decide"/><bpmn:endEvent id="end1"/>'
            '<bpmn:userTask id="wait"/><bpmn:exclusiveGateway id="route"/>'
            '<bpmn:userTask id="yes"/><bpmn:userTask id="no"/><bpmn:endEvent id="end2"/><bpmn:endEvent id="end3"/>'
            + chain("start", "split") + chain("split", "decide", "end1") + chain("split", "wait", "route")
            + flow("f_yes", "route", "yes", "${go}") + flow("f_no", "route", "no", "${!go}")
            + chain("yes", "end2") + chain("no", "end3"))
    case_id = run(engine, "routing", body, {"go": False})
    complete_only_task(engine, case_id, {"go": True}, element="decide")
    complete_only_task(engine, case_id, element="wait")
    assert open_task_ids(engine, case_id) == ["yes"]


def test_a_call_activitys_output_reaches_the_other_branch_when_it_returns(engine):
    callee = ('<bpmn:startEvent id="c_start"/><bpmn:serviceTask id="called" camunda:type="external" '
              'camunda:topic="called"/><bpmn:endEvent id="c_end"/>' + chain("c_start", "called", "c_end"))
    call = ('<bpmn:callActivity id="call" calledElement="callee"><bpmn:extensionElements>'
            '<camunda:out source="result" target="result"/></bpmn:extensionElements></bpmn:callActivity>'
            '<bpmn:userTask id="wait1"/>')
    body = parallel(call, ("call", "wait1"), '<bpmn:userTask id="look2"/><bpmn:serviceTask id="check" '
                    'camunda:type="external" camunda:topic="check"/>', ("look2", "check"))
    case_id = run(engine, "returns", body, more={"callee.bpmn": process("callee", callee)})
    (called,) = fetch(engine, "called")
    engine.complete_job(called.id, "worker", {"result": 4})
    assert engine.case(case_id)["variables"]["result"] == 4
    complete_only_task(engine, case_id, element="look2")
    (check,) = fetch(engine, "check")
    assert check.variables["result"] == 4


def test_a_subprocess_input_parameter_is_local_to_the_subprocess(engine):
    sub = ('<bpmn:subProcess id="sub"><bpmn:extensionElements><camunda:inputOutput>'
           '<camunda:inputParameter name="mode">inner</camunda:inputParameter>'
           '</camunda:inputOutput></bpmn:extensionElements><bpmn:startEvent id="s_start"/>'
           '<bpmn:serviceTask id="inside" camunda:type="external" camunda:topic="inside"/>'
           '<bpmn:endEvent id="s_end"/>' + chain("s_start", "inside", "s_end") + '</bpmn:subProcess>')
    body = parallel(sub, ("sub",), '<bpmn:serviceTask id="check" camunda:type="external" camunda:topic="check"/>',
                    ("check",))
    case_id = run(engine, "sub_local", body, {"mode": "outer"})
    (inside,) = fetch(engine, "inside")
    assert inside.variables["mode"] == "inner"  # while the subprocess runs
    engine.complete_job(inside.id, "worker", {"mode": "changed inside", "found": True})
    assert engine.case(case_id)["variables"]["mode"] == "outer"
    (check,) = fetch(engine, "check")
    assert check.variables["mode"] == "outer" and check.variables["found"] is True
    engine.complete_job(check.id, "worker", {})
    (after,) = fetch(engine, "after")
    assert after.variables["mode"] == "outer" and after.variables["found"] is True


def test_a_waiting_job_hands_its_worker_the_variables_another_branch_set_meanwhile(engine):
    body = parallel('<bpmn:userTask id="decide"/>', ("decide",),
                    '<bpmn:serviceTask id="check" camunda:type="external" camunda:topic="check"/>', ("check",))
    case_id = run(engine, "waiting_job", body, {"priority": "low"})
    complete_only_task(engine, case_id, {"priority": "high"}, element="decide")
    (check,) = fetch(engine, "check")
    assert check.variables["priority"] == "high"
