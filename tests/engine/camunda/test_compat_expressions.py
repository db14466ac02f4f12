"""JUEL as Camunda Modeler writes it: conditions, assignments, due dates, multi-instance collections."""

from __future__ import annotations

from datetime import timedelta
from xml.sax.saxutils import escape

import pytest

from engine.errors import ProcessError
from tests.diagrams import chain, flow
from tests.engine.camunda.compat_support import complete_only_task, open_task_ids, run, utc

GATEWAY = ('<bpmn:startEvent id="start"/><bpmn:exclusiveGateway id="gw" default="to_no"/>'
           '<bpmn:userTask id="yes"/><bpmn:userTask id="no"/>' + flow("f0", "start", "gw")
           + flow("to_no", "gw", "no"))


def branch(engine, condition: str, variables: dict) -> str:
    """Which user task an exclusive gateway with `condition` on its `yes` flow leads to."""
    case_id = run(engine, "cond", GATEWAY + flow("to_yes", "gw", "yes", escape(condition)), variables)
    (task,) = open_task_ids(engine, case_id)
    return task


@pytest.mark.parametrize(("condition", "variables", "expected"), [
    # dollar and hash forms
    ("${approved}", {"approved": True}, "yes"),
    ("#{approved}", {"approved": True}, "yes"),
    ("#{approved}", {"approved": False}, "no"),
    ("\n   ${approved}\n ", {"approved": True}, "yes"),
    # && || !
    ("${amount > 1000 && approved}", {"amount": 1500, "approved": True}, "yes"),
    ("${amount > 1000 && approved}", {"amount": 900, "approved": True}, "no"),
    ("${urgent || amount > 1000}", {"urgent": True, "amount": 1}, "yes"),
    ("${!approved}", {"approved": False}, "yes"),
    ("${!(a || b)}", {"a": False, "b": True}, "no"),
    # == != < > <= >=
    ("${category == 'Misc'}", {"category": "Misc"}, "yes"),
    ('${category == "Misc"}', {"category": "Travel"}, "no"),
    ("${category != 'Misc'}", {"category": "Travel"}, "yes"),
    ("${amount < 250}", {"amount": 249}, "yes"),
    ("${amount > 250}", {"amount": 250}, "no"),
    ("${amount <= 250}", {"amount": 250}, "yes"),
    ("${amount >= 250.5}", {"amount": 250}, "no"),
    # word operators
    ("${amount gt 10 and approved}", {"amount": 11, "approved": True}, "yes"),
    ("${amount lt 10 or approved}", {"amount": 11, "approved": False}, "no"),
    ("${not approved}", {"approved": False}, "yes"),
    ("${category eq 'Misc'}", {"category": "Misc"}, "yes"),
    ("${category ne 'Misc'}", {"category": "Misc"}, "no"),
    ("${amount le 10}", {"amount": 10}, "yes"),
    ("${amount ge 10}", {"amount": 9}, "no"),
    # empty, true, false, null
    ("${empty reviewers}", {"reviewers": []}, "yes"),
    ("${empty reviewers}", {"reviewers": ["anna"]}, "no"),
    ("${not empty comment}", {"comment": ""}, "no"),
    ("${empty missing}", {"missing": None}, "yes"),
    ("${approved == true}", {"approved": True}, "yes"),
    ("${approved == false}", {"approved": True}, "no"),
    ("${decision == null}", {"decision": None}, "yes"),
    ("${decision != null}", {"decision": "ok"}, "yes"),
    # property access
    ("${client.age >= 18}", {"client": {"age": 30}}, "yes"),
    ("${client.address.city == 'Turku'}", {"client": {"address": {"city": "Oulu"}}}, "no"),
    ("${client['age'] lt 18}", {"client": {"age": 17}}, "yes"),
    # arithmetic inside a condition
    ("${price * quantity > 100}", {"price": 30, "quantity": 4}, "yes"),
])
def test_juel_condition_picks_the_branch(engine, condition, variables, expected):
    assert branch(engine, condition, variables) == expected


def test_python_condition_still_works(engine):
    assert branch(engine, "amount > 1000 and approved", {"amount": 2000, "approved": True}) == "yes"


def test_unknown_variable_in_condition_is_a_process_error_not_a_crash(engine):
    with pytest.raises(ProcessError) as info:
        branch(engine, "${undefinedThing > 3}", {})
    assert "undefinedThing" in str(info.value)


def test_dates_from_builtins_in_due_and_follow_up(engine, clock):
    body = ('<bpmn:startEvent id="start"/><bpmn:userTask id="review" '
            'camunda:dueDate="${dateTime().plusDays(3).toDate()}" '
            'camunda:followUpDate="${dateTime().plusWeeks(1).plusHours(2).plusMinutes(30).toDate()}"/>'
            '<bpmn:userTask id="later" camunda:dueDate="${dateTime().plusMonths(1).toDate()}" '
            'camunda:followUpDate="${now()}"/>'
            '<bpmn:endEvent id="end"/>' + chain("start", "review", "later", "end"))
    case_id = run(engine, "dates", body)
    (task,) = engine.open_tasks(case_id)
    assert utc(task.due) == clock.now + timedelta(days=3)
    assert utc(task.follow_up) == clock.now + timedelta(weeks=1, hours=2, minutes=30)
    clock.advance(days=1)
    complete_only_task(engine, case_id)
    (task,) = engine.open_tasks(case_id)
    assert utc(task.due) == clock.now.replace(month=clock.now.month + 1)
    assert utc(task.follow_up) == clock.now


def test_due_date_from_a_variable_and_a_literal(engine):
    body = ('<bpmn:startEvent id="start"/><bpmn:userTask id="a" camunda:dueDate="${deadline}" '
            'camunda:followUpDate="2026-03-01T12:00:00Z"/><bpmn:endEvent id="end"/>' + chain("start", "a", "end"))
    case_id = run(engine, "due", body, {"deadline": "2026-02-01T08:00:00+00:00"})
    (task,) = engine.open_tasks(case_id)
    assert task.due.isoformat().startswith("2026-02-01T08:00:00")
    assert task.follow_up.isoformat().startswith("2026-03-01T12:00:00")


@pytest.mark.parametrize("collection", ["${reviewers}", "#{reviewers}", "reviewers"])
def test_multi_instance_collection_from_juel(engine, collection):
    body = ('<bpmn:startEvent id="start"/>'
            '<bpmn:userTask id="review" camunda:assignee="${reviewer}">'
            f'<bpmn:multiInstanceLoopCharacteristics camunda:collection="{collection}" '
            'camunda:elementVariable="reviewer"/></bpmn:userTask>'
            '<bpmn:endEvent id="end"/>' + chain("start", "review", "end"))
    case_id = run(engine, "mi", body, {"reviewers": ["anna", "bert", "cecilia"]})
    assert sorted(t.assignee for t in engine.open_tasks(case_id)) == ["anna", "bert", "cecilia"]
    for task in engine.open_tasks(case_id):
        engine.complete_task(task.id, {}, actor=task.assignee)
    case = engine.case(case_id)
    assert case["status"] == "completed"
    assert "reviewer" not in case["variables"]  # the element variable is local to each instance


def test_multi_instance_collection_from_a_juel_method(engine):
    body = ('<bpmn:startEvent id="start"/>'
            '<bpmn:userTask id="review" camunda:assignee="${reviewer}">'
            '<bpmn:multiInstanceLoopCharacteristics isSequential="true" '
            'camunda:collection="${team.members}" camunda:elementVariable="reviewer"/></bpmn:userTask>'
            '<bpmn:endEvent id="end"/>' + chain("start", "review", "end"))
    case_id = run(engine, "mi_seq", body, {"team": {"members": ["anna", "bert"]}})
    seen = []
    while engine.open_tasks(case_id):
        (task,) = engine.open_tasks(case_id)
        seen.append(task.assignee)
        engine.complete_task(task.id, {})
    assert seen == ["anna", "bert"]
    case = engine.case(case_id)
    assert case["status"] == "completed"
    assert "reviewer" not in case["variables"]  # the element variable is local to each instance
