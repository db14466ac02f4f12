"""DMN decisions: parsing, hit policies, FEEL cells, requirement chains, result mapping."""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path

import pytest

from engine.camunda.dmn import (
    Decision,
    DecisionRegistry,
    map_decision_result,
    parse_dmn,
)
from engine.errors import ExpressionError, NotFound
from tests.engine.camunda.dmn_xml import NS12, dmn, table

HERE = Path(__file__).parent / "dmn"
SHARED = Path(__file__).parents[3] / ".." / "shared"
INVOICE = SHARED / "camunda-corpus" / "camunda-bpm-platform" / "invoiceBusinessDecisions.dmn"


def load(name: str) -> list[Decision]:
    return parse_dmn((HERE / name).read_bytes(), name)


@pytest.fixture(scope="module")
def registry() -> DecisionRegistry:
    return DecisionRegistry(load("orders_13.dmn") + load("feel_forms_11.dmn"))


# -- the reference Camunda file ---------------------------------------------------------


@pytest.mark.skipif(not INVOICE.exists(), reason="../shared corpus not available")
def test_camunda_invoice_decisions() -> None:
    decisions = parse_dmn(INVOICE.read_bytes(), INVOICE.name)
    assert [d.id for d in decisions] == ["invoiceClassification", "invoice-assign-approver"]
    assert decisions[1].required == ["invoiceClassification"]
    registry = DecisionRegistry(decisions)

    def approvers(amount: float, category: str) -> list[str]:
        results = registry.evaluate("invoice-assign-approver", {"amount": amount, "invoiceCategory": category})
        return map_decision_result(results, "collectEntries")

    assert approvers(900, "Misc") == ["management"]
    assert approvers(100, "Misc") == ["accounting", "sales"]
    assert approvers(5000, "Misc") == ["management"]
    assert approvers(40, "Travel Expenses") == ["accounting", "sales"]
    assert approvers(40, "Software License Costs") == ["management"]
    assert approvers(40, "Other") == []


# -- parsing ---------------------------------------------------------------------------


def test_parse_several_decisions_per_file() -> None:
    decisions = {d.id: d for d in load("orders_13.dmn")}
    assert len(decisions) == 13
    assert decisions["discount"].name == "Discount"
    assert decisions["discount"].required == ["customerLevel"]
    assert decisions["discount"].outputs == ["rate", "reason"]
    assert decisions["orderSummary"].required == ["discount", "feeSum"]
    assert decisions["orderSummary"].outputs == ["total"]
    assert all(d.file == "orders_13.dmn" for d in decisions.values())


def test_parse_dmn_11_and_12_namespaces() -> None:
    assert [d.id for d in load("feel_forms_11.dmn")][:2] == ["numberForms", "stringForms"]
    decisions = parse_dmn(dmn(table("d12", [("1", '"one"')]), ns=NS12), "v12.dmn")
    assert DecisionRegistry(decisions).evaluate("d12", {"x": 1}) == [{"result": "one"}]


# -- hit policies ----------------------------------------------------------------------


def test_unique(registry: DecisionRegistry) -> None:
    assert registry.evaluate("customerLevel", {"customer": {"years": 3}}) == [{"level": "silver"}]
    assert registry.evaluate("customerLevel", {"customer": {"years": "7"}}) == [{"level": "gold"}]


def test_unique_violation_names_decision_and_rules() -> None:
    data = dmn(table("clash", [("> 5", '"a"'), ("> 10", '"b"'), ("&lt; 0", '"c"')]))
    registry = DecisionRegistry(parse_dmn(data, "clash.dmn"))
    assert registry.evaluate("clash", {"x": 7}) == [{"result": "a"}]
    with pytest.raises(ExpressionError, match=r"decision 'clash': hit policy UNIQUE but rules 'r1', 'r2' all match"):
        registry.evaluate("clash", {"x": 20})


def test_first(registry: DecisionRegistry) -> None:
    assert registry.evaluate("shipping", {"country": "FI", "weight": 0.5}) == [{"method": "letter"}]
    assert registry.evaluate("shipping", {"country": "FI", "weight": 3}) == [{"method": "parcel"}]
    assert registry.evaluate("shipping", {"country": "SE"}) == [{"method": "international"}]


def test_priority_follows_output_values_order(registry: DecisionRegistry) -> None:
    def risk(amount: int, new: bool) -> str:
        return registry.evaluate("riskLevel", {"amount": amount, "newCustomer": new})[0]["risk"]

    assert risk(6000, True) == "high"
    assert risk(2000, False) == "medium"
    assert risk(10, True) == "medium"
    assert risk(10, False) == "low"


def test_any(registry: DecisionRegistry) -> None:
    assert registry.evaluate("approvalNeeded", {"amount": 6000}) == [{"needsApproval": True}]
    assert registry.evaluate("approvalNeeded", {"amount": -5}) == [{"needsApproval": False}]
    assert registry.evaluate("approvalNeeded", {"amount": 10}) == []
    with pytest.raises(
        ExpressionError,
        match="decision 'approvalNeeded': hit policy ANY but matching rules "
        "'approvalRefund', 'approvalBigRefund' give different outputs",
    ):
        registry.evaluate("approvalNeeded", {"amount": -500})


def test_rule_order(registry: DecisionRegistry) -> None:
    results = registry.evaluate("tags", {"orderTotal": 150, "express": True})
    assert results == [{"tag": "big"}, {"tag": "express"}, {"tag": "any"}]


def test_collect_and_aggregations(registry: DecisionRegistry) -> None:
    assert registry.evaluate("fees", {"express": True, "country": "SE"}) == [
        {"fee": 10},
        {"fee": 25},
        {"fee": 5},
    ]
    assert registry.evaluate("feeSum", {"express": True, "country": "DE"}) == [{"feeTotal": 35}]
    assert registry.evaluate("feeSum", {"express": False, "country": "FI"}) == [{"feeTotal": 5}]
    assert registry.evaluate("feeMin", {"weight": 2}) == [{"fee": 4.0}]
    assert registry.evaluate("feeMax", {"weight": 2}) == [{"fee": 4.5}]
    assert registry.evaluate("feeMax", {"weight": 10}) == [{"fee": 20.0}]
    assert registry.evaluate("feeCount", {"weight": 0.5}) == [{"fee": 1}]  # empty cell not counted
    assert registry.evaluate("feeCount", {"weight": None}) == [{"fee": 0}]


def test_sum_with_no_match_is_empty_and_non_numbers_fail() -> None:
    data = dmn(table("total", [("> 0", "x"), ("> 5", '"five"')], "COLLECT", extra='aggregation="SUM"'))
    registry = DecisionRegistry(parse_dmn(data, "sum.dmn"))
    assert registry.evaluate("total", {"x": -1}) == []
    assert registry.evaluate("total", {"x": 2}) == [{"result": 2}]
    with pytest.raises(ExpressionError, match="decision 'total': COLLECT SUM needs numeric outputs"):
        registry.evaluate("total", {"x": 6})


# -- FEEL forms in tables --------------------------------------------------------------


def forms(registry: DecisionRegistry, decision_id: str, **variables: object) -> list[str]:
    return [result["form"] for result in registry.evaluate(decision_id, variables)]


def test_number_forms(registry: DecisionRegistry) -> None:
    assert forms(registry, "numberForms", n=10, limit=8) == [
        "le", "ge", "eq", "literal", "closed", "list", "notList", "notRange", "any",
    ]  # fmt: skip
    assert forms(registry, "numberForms", n=7.5, limit=8) == [
        "lt", "le", "closed", "open", "parens", "halfOpen", "notList", "notRange", "belowLimit",
        "any",
    ]  # fmt: skip
    assert forms(registry, "numberForms", n=5, limit=1) == [
        "lt", "le", "closed", "halfOpen", "notList", "any",
    ]  # fmt: skip
    assert forms(registry, "numberForms", n=-3) == ["lt", "le", "notList", "notRange", "negative", "any"]
    assert forms(registry, "numberForms", n=None) == ["notList", "null", "any"]


def test_string_forms(registry: DecisionRegistry) -> None:
    assert forms(registry, "stringForms", s="Misc") == ["misc", "notAB", "beforeM", "any"]
    assert forms(registry, "stringForms", s="b") == ["list", "beforeM", "any"]
    assert forms(registry, "stringForms", s="z", expected="z") == ["notAB", "expected", "any"]


def test_boolean_forms_with_type_ref(registry: DecisionRegistry) -> None:
    assert forms(registry, "boolForms", flag=True) == ["yes"]
    assert forms(registry, "boolForms", flag="false") == ["no"]  # typeRef boolean converts
    assert forms(registry, "boolForms", flag=None) == ["missing"]


def test_date_forms(registry: DecisionRegistry) -> None:
    start = date(2024, 1, 1)
    assert forms(registry, "dateForms", day="2024-01-01", start=start) == ["newYear", "q1"]
    assert forms(registry, "dateForms", day=date(2024, 8, 1), start=start) == ["secondHalf"]
    assert forms(registry, "dateForms", day="2023-05-05", start=start) == ["beforeStart"]


def test_date_time_and_duration_forms(registry: DecisionRegistry) -> None:
    assert forms(registry, "timeForms", at="2024-01-01T09:30:00", wait="P2D") == ["exact", "long"]
    assert forms(registry, "timeForms", at="2024-01-01T13:00:00", wait="PT24H") == [
        "afternoon",
        "oneDay",
    ]


def test_expression_forms_in_inputs_and_outputs(registry: DecisionRegistry) -> None:
    customer = {"age": 40, "name": "Ann", "active": True}
    assert registry.evaluate("expressionForms", {"vip": True, "customer": customer}) == [
        {
            "greeting": "Welcome back, Ann",
            "limit": 1000,
            "since": date(2024, 1, 1),
            "codes": [1, 2, 10],
            "review": False,
        }
    ]
    customer["active"] = False
    result = registry.evaluate("expressionForms", {"vip": True, "customer": customer})
    assert result == [{"greeting": "Hello, Ann", "limit": -1, "since": None, "codes": [], "review": True}]
    minor = registry.evaluate("expressionForms", {"customer": {"age": 10}})
    assert minor == [{"greeting": None, "limit": 0, "since": None, "codes": None, "review": False}]


# -- requirement chains ----------------------------------------------------------------


def test_chain_exposes_outputs_of_all_required_decisions(registry: DecisionRegistry) -> None:
    variables = {"customer": {"years": 6}, "orderTotal": 200, "express": True, "country": "SE"}
    assert registry.evaluate("orderSummary", variables) == [{"total": 220.0}]
    assert registry.evaluate("discount", variables) == [{"rate": 0.1, "reason": "gold customer"}]
    bronze = {**variables, "customer": {"years": 0}}
    assert registry.evaluate("discount", bronze) == [{"rate": 0.0, "reason": None}]
    assert variables == {"customer": {"years": 6}, "orderTotal": 200, "express": True, "country": "SE"}


def test_rule_order_results_reach_dependants_as_lists(registry: DecisionRegistry) -> None:
    assert registry.evaluate("tagReport", {"orderTotal": 10}) == [{"allTags": ["any"]}]
    assert registry.evaluate("tagReport", {"orderTotal": 500, "express": True}) == [
        {"allTags": ["big", "express", "any"]}
    ]


def test_required_decision_without_match_leaves_variable_null() -> None:
    body = table("base", [("> 0", '"positive"')]) + table(
        "dependant", [("null", '"no base"'), ("-", "result")], "FIRST", "result", requires=("base",)
    )
    registry = DecisionRegistry(parse_dmn(dmn(body), "chain.dmn"))
    assert registry.evaluate("dependant", {"x": -1}) == [{"result": "no base"}]
    assert registry.evaluate("dependant", {"x": 1}) == [{"result": "positive"}]


def test_literal_expression_decision() -> None:
    body = (
        '<decision id="greeting" name="Greeting"><variable id="v" name="text" typeRef="string" />'
        '<literalExpression id="lit"><text>"Hi " + name</text></literalExpression></decision>'
    )
    registry = DecisionRegistry(parse_dmn(dmn(body), "lit.dmn"))
    assert registry.evaluate("greeting", {"name": "Bo"}) == [{"text": "Hi Bo"}]
    assert map_decision_result(registry.evaluate("greeting", {"name": "Bo"}), "singleEntry") == "Hi Bo"


# -- evaluation errors -----------------------------------------------------------------


def test_type_ref_conversion_failure_names_decision_and_input(registry: DecisionRegistry) -> None:
    with pytest.raises(
        ExpressionError,
        match=r"decision 'customerLevel', input 'Years as customer' \(yearsInput\): "
        r"cannot convert string 'many' to typeRef 'integer'",
    ):
        registry.evaluate("customerLevel", {"customer": {"years": "many"}})


def test_output_entry_failure_names_decision_and_rule() -> None:
    registry = DecisionRegistry(parse_dmn(dmn(table("calc", [("-", "x * 2")])), "calc.dmn"))
    assert registry.evaluate("calc", {"x": 4}) == [{"result": 8}]
    with pytest.raises(
        ExpressionError,
        match="decision 'calc', rule 'r1', output 'result': cannot apply '\\*' to string and number",
    ):
        registry.evaluate("calc", {"x": "four"})


def test_input_expression_failure_names_decision_and_input() -> None:
    data = dmn(table("neg", [("-", '"ok"')], input_text="-x"))
    registry = DecisionRegistry(parse_dmn(data, "neg.dmn"))
    with pytest.raises(ExpressionError, match=r"decision 'neg', input 'X' \(in1\): cannot negate string"):
        registry.evaluate("neg", {"x": "a"})


def test_unknown_decision_is_not_found(registry: DecisionRegistry) -> None:
    assert "discount" in registry
    assert "nope" not in registry
    with pytest.raises(NotFound, match="decision 'nope' is not deployed"):
        registry.evaluate("nope", {})


# -- JUEL cells ------------------------------------------------------------------------


@pytest.mark.skipif(importlib.util.find_spec("engine.camunda.juel") is None, reason="no JUEL module")
def test_juel_input_expressions() -> None:
    explicit = table("juel1", [("> 100", '"big"'), ("&lt;= 100", '"small"')], input_text="amount").replace(
        '<inputExpression id="in1expr">', '<inputExpression id="in1expr" expressionLanguage="juel">'
    )
    dollar = table("juel2", [("> 100", '"big"'), ("&lt;= 100", '"small"')], input_text="${amount * 2}")
    registry = DecisionRegistry(parse_dmn(dmn(explicit + dollar), "juel.dmn"))
    assert registry.evaluate("juel1", {"amount": 150}) == [{"result": "big"}]
    assert registry.evaluate("juel2", {"amount": 60}) == [{"result": "big"}]
    assert registry.evaluate("juel2", {"amount": 40}) == [{"result": "small"}]


# -- map_decision_result ---------------------------------------------------------------


def test_map_decision_result_modes() -> None:
    one = [{"a": 1}]
    many = [{"a": 1}, {"a": 2}]
    assert map_decision_result(many, None) == many
    assert map_decision_result(many, "resultList") == many
    assert map_decision_result(one, "singleEntry") == 1
    assert map_decision_result([], "singleEntry") is None
    assert map_decision_result(one, "singleResult") == {"a": 1}
    assert map_decision_result([], "singleResult") is None
    assert map_decision_result(many, "collectEntries") == [1, 2]
    assert map_decision_result([], "collectEntries") == []


@pytest.mark.parametrize(
    ("results", "mode", "message"),
    [
        (
            [{"a": 1}, {"a": 2}],
            "singleEntry",
            "mapDecisionResult 'singleEntry' expects at most one matching rule, got 2",
        ),
        ([{"a": 1, "b": 2}], "singleEntry", "mapDecisionResult 'singleEntry' expects one output, got 2"),
        (
            [{"a": 1}, {"a": 2}],
            "singleResult",
            "mapDecisionResult 'singleResult' expects at most one matching rule, got 2",
        ),
        ([{"a": 1, "b": 2}], "collectEntries", "mapDecisionResult 'collectEntries' needs exactly one output per rule"),
        ([], "everything", "unknown mapDecisionResult 'everything'"),
    ],
)
def test_map_decision_result_cardinality_errors(results: list[dict[str, int]], mode: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        map_decision_result(results, mode)
