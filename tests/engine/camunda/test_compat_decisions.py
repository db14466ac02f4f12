"""Business rule tasks calling a DMN decision of the same deployment, with Camunda's result mapping."""

from __future__ import annotations

import pytest

from engine.errors import ProcessError
from tests.diagrams import process
from tests.engine.camunda.compat_support import complete_only_task, linear, refused_at, run

# Two decisions: `approvers` requires `riskClass` (a DRG chain, like Camunda's invoice example).
DMN = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" xmlns:camunda="http://camunda.org/schema/1.0/dmn"
             id="support" name="Support" namespace="http://camunda.org/schema/1.0/dmn">
  <decision id="riskClass" name="Risk class">
    <decisionTable id="riskTable" hitPolicy="UNIQUE">
      <input id="in_amount" label="Amount">
        <inputExpression id="in_amount_expr" typeRef="double"><text>amount</text></inputExpression>
      </input>
      <output id="out_class" label="Class" name="riskClass" typeRef="string"/>
      <rule id="r_low"><inputEntry id="r_low_in"><text>&lt; 250</text></inputEntry>
        <outputEntry id="r_low_out"><text>"low"</text></outputEntry></rule>
      <rule id="r_mid"><inputEntry id="r_mid_in"><text>[250..1000]</text></inputEntry>
        <outputEntry id="r_mid_out"><text>"medium"</text></outputEntry></rule>
      <rule id="r_high"><inputEntry id="r_high_in"><text>&gt; 1000</text></inputEntry>
        <outputEntry id="r_high_out"><text>"high"</text></outputEntry></rule>
    </decisionTable>
  </decision>
  <decision id="approvers" name="Approvers">
    <informationRequirement id="needs_class"><requiredDecision href="#riskClass"/></informationRequirement>
    <decisionTable id="approverTable" hitPolicy="COLLECT">
      <input id="in_class" label="Class">
        <inputExpression id="in_class_expr" typeRef="string"><text>riskClass</text></inputExpression>
      </input>
      <input id="in_category" label="Category">
        <inputExpression id="in_category_expr" typeRef="string"><text>category</text></inputExpression>
      </input>
      <output id="out_group" label="Group" name="group" typeRef="string"/>
      <rule id="a_all"><inputEntry id="a_all_1"><text>-</text></inputEntry>
        <inputEntry id="a_all_2"><text>-</text></inputEntry>
        <outputEntry id="a_all_out"><text>"coordinators"</text></outputEntry></rule>
      <rule id="a_mid"><inputEntry id="a_mid_1"><text>"medium","high"</text></inputEntry>
        <inputEntry id="a_mid_2"><text>not("Travel")</text></inputEntry>
        <outputEntry id="a_mid_out"><text>"leads"</text></outputEntry></rule>
      <rule id="a_high"><inputEntry id="a_high_1"><text>"high"</text></inputEntry>
        <inputEntry id="a_high_2"><text>-</text></inputEntry>
        <outputEntry id="a_high_out"><text>"management"</text></outputEntry></rule>
    </decisionTable>
  </decision>
</definitions>
"""


def rule_task(mode: str, decision: str = "approvers", variable: str = "result") -> str:
    return linear(f'<bpmn:businessRuleTask id="decide" camunda:decisionRef="{decision}" '
                  f'camunda:resultVariable="{variable}" camunda:mapDecisionResult="{mode}"/>'
                  '<bpmn:userTask id="approve" camunda:candidateGroups="${approverGroups}"/>',
                  ids=("decide", "approve"))


@pytest.mark.parametrize(("amount", "category", "groups"), [
    (100, "Misc", ["coordinators"]),
    (900, "Misc", ["coordinators", "leads"]),
    (900, "Travel", ["coordinators"]),
    (5000, "Misc", ["coordinators", "leads", "management"]),
])
def test_chained_decisions_feed_candidate_groups(engine, amount, category, groups):
    body = rule_task("collectEntries", variable="approverGroups")
    case_id = run(engine, "rules", body, {"amount": amount, "category": category}, more={"support.dmn": DMN})
    (task,) = engine.open_tasks(case_id)
    assert task.candidate_groups == groups
    assert engine.case(case_id)["variables"]["approverGroups"] == groups
    complete_only_task(engine, case_id)
    assert engine.case(case_id)["status"] == "completed"


@pytest.mark.parametrize(("mode", "amount", "expected"), [
    ("singleEntry", 900, "medium"),
    ("singleResult", 900, {"riskClass": "medium"}),
    ("resultList", 2000, [{"riskClass": "high"}]),
    ("collectEntries", 10, ["low"]),
])
def test_map_decision_result_modes(engine, mode, amount, expected):
    body = rule_task(mode, decision="riskClass")
    case_id = run(engine, "modes", body, {"amount": amount, "approverGroups": []}, more={"support.dmn": DMN})
    assert engine.case(case_id)["variables"]["result"] == expected


def test_unknown_decision_is_refused_at_validation():
    problems = refused_at({"p.bpmn": process("p", rule_task("singleEntry", decision="nowhere")),
                           "support.dmn": DMN})
    assert "nowhere" in problems["decide"]


def test_decision_error_at_run_time_is_a_process_error(engine):
    # singleEntry with several matching rules is an error in Camunda too
    with pytest.raises(ProcessError):
        run(engine, "multi", rule_task("singleEntry"), {"amount": 5000, "category": "Misc"},
            more={"support.dmn": DMN})
