"""DMN files we refuse at deployment: each refusal names the file, the element and the reason."""

from __future__ import annotations

import pytest

from engine.camunda.dmn import Decision, DecisionRegistry, parse_dmn
from engine.errors import DiagramError
from tests.engine.camunda.dmn_xml import dmn, table


def refusal(data: bytes) -> DiagramError:
    with pytest.raises(DiagramError) as info:
        parse_dmn(data, "bad.dmn")
    assert info.value.file == "bad.dmn"
    return info.value


# -- refusals at parse time -------------------------------------------------------------


def test_refuses_malformed_xml() -> None:
    error = refusal(b"<definitions><decision></definitions>")
    assert error.reason.startswith("malformed XML")


def test_refuses_non_dmn_root() -> None:
    error = refusal(b'<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="b"/>')
    assert "not a DMN 1.1/1.2/1.3 file" in error.reason


def test_refuses_unknown_required_decision() -> None:
    error = refusal(dmn(table("child", [("-", "1")], requires=("ghost",))))
    assert (error.element_id, error.reason) == (
        "child",
        "decision 'child' requires unknown decision 'ghost'",
    )


def test_refuses_requirement_cycle() -> None:
    body = (
        table("a", [("-", "1")], requires=("b",))
        + table("b", [("-", "1")], requires=("c",))
        + table("c", [("-", "1")], requires=("a",))
    )
    error = refusal(dmn(body))
    assert error.reason == "decision requirements form a cycle: a -> b -> c -> a"
    assert error.element_id == "c"


@pytest.mark.parametrize("policy", ["OUTPUT ORDER", "BOGUS"])
def test_refuses_unsupported_hit_policy(policy: str) -> None:
    error = refusal(dmn(table("hp", [("-", "1")], policy)))
    assert (error.element_id, error.reason) == ("hp", f"decision 'hp': unsupported hit policy '{policy}'")


def test_refuses_unsupported_aggregation() -> None:
    error = refusal(dmn(table("agg", [("-", "1")], "COLLECT", extra='aggregation="AVG"')))
    assert error.element_id == "agg"
    assert "unsupported aggregation 'AVG'" in error.reason
    error = refusal(dmn(table("agg2", [("-", "1")], "FIRST", extra='aggregation="SUM"')))
    assert "unsupported aggregation 'SUM' with hit policy FIRST" in error.reason


def test_refuses_aggregation_over_several_outputs() -> None:
    outputs = '<output id="o1" name="a" /><output id="o2" name="b" />'
    body = table("two", [], "COLLECT", output=outputs, extra='aggregation="SUM"')
    error = refusal(dmn(body))
    assert error.reason == "decision 'two': COLLECT SUM needs exactly one output, found 2"


def test_refuses_cell_that_does_not_compile() -> None:
    error = refusal(dmn(table("cells", [("[1..", '"x"')])))
    assert error.element_id == "r1in"
    assert "rule 'r1' input entry for 'X' '[1..' does not compile" in error.reason
    assert "expected a value, found end of text" in error.reason
    error = refusal(dmn(table("cells", [("-", '"open')])))
    assert error.element_id == "r1out"
    assert "'\"open' does not compile: unterminated string" in error.reason
    error = refusal(dmn(table("cells", [("-", "1")], input_text="a +")))
    assert error.element_id == "in1expr"
    assert "input 'X' expression 'a +' does not compile" in error.reason


def test_refuses_decision_without_logic() -> None:
    error = refusal(dmn('<decision id="empty" name="Empty" />'))
    assert (error.element_id, error.reason) == (
        "empty",
        "decision 'empty' has neither a decision table nor a literal expression",
    )


def test_refuses_rule_with_wrong_number_of_entries() -> None:
    body = table("short", [("-", "1")]).replace('<inputEntry id="r1in"><text>-</text></inputEntry>', "")
    error = refusal(dmn(body))
    assert error.element_id == "r1"
    assert "rule 'r1' has 0 input and 1 output entries" in error.reason


def test_refuses_unsupported_expression_language() -> None:
    body = table("js", [("-", "1")]).replace(
        '<inputExpression id="in1expr">', '<inputExpression id="in1expr" expressionLanguage="javascript">'
    )
    error = refusal(dmn(body))
    assert error.element_id == "in1expr"
    assert "unsupported expression language 'javascript'" in error.reason


def test_registry_refuses_duplicate_ids_across_files() -> None:
    first = parse_dmn(dmn(table("same", [("-", "1")])), "one.dmn")
    second = parse_dmn(dmn(table("same", [("-", "2")])), "two.dmn")
    with pytest.raises(DiagramError) as info:
        DecisionRegistry(first + second)
    assert (info.value.element_id, info.value.file) == ("same", "two.dmn")
    assert info.value.reason == "decision id 'same' is defined twice (in one.dmn and two.dmn)"


def test_registry_refuses_unknown_requirement() -> None:
    orphan = Decision("orphan", "Orphan", ["missing"], ["x"], "x.dmn")
    with pytest.raises(DiagramError, match="decision 'orphan' requires unknown decision 'missing'"):
        DecisionRegistry([orphan])
