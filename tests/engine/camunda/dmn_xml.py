"""Builders of small inline DMN documents for the DMN tests."""

from __future__ import annotations

NS11 = "http://www.omg.org/spec/DMN/20151101/dmn.xsd"
NS12 = "http://www.omg.org/spec/DMN/20180521/MODEL/"
NS13 = "https://www.omg.org/spec/DMN/20191111/MODEL/"


def dmn(body: str, ns: str = NS13, attrs: str = "") -> bytes:
    """A definitions element around `body`."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<definitions xmlns="{ns}" '
        f'xmlns:camunda="http://camunda.org/schema/1.0/dmn" id="defs" name="Test" '
        f'namespace="http://camunda.org/schema/1.0/dmn" {attrs}>{body}</definitions>'
    ).encode()


def table(
    decision_id: str,
    rules: list[tuple[str, str]],
    hit_policy: str = "UNIQUE",
    input_text: str = "x",
    output: str = '<output id="out" name="result" />',
    extra: str = "",
    requires: tuple[str, ...] = (),
) -> str:
    """A one-input decision; each rule is (input entry, output entry), ids r1, r2, ..."""
    reqs = "".join(
        f'<informationRequirement id="req_{decision_id}_{ref}">'
        f'<requiredDecision href="#{ref}" /></informationRequirement>'
        for ref in requires
    )
    body = "".join(
        f'<rule id="r{i}"><inputEntry id="r{i}in"><text>{entry}</text></inputEntry>'
        f'<outputEntry id="r{i}out"><text>{out}</text></outputEntry></rule>'
        for i, (entry, out) in enumerate(rules, 1)
    )
    return (
        f'<decision id="{decision_id}" name="{decision_id}">{reqs}'
        f'<decisionTable id="{decision_id}Table" hitPolicy="{hit_policy}" {extra}>'
        f'<input id="in1" label="X"><inputExpression id="in1expr"><text>{input_text}</text>'
        f"</inputExpression></input>{output}{body}</decisionTable></decision>"
    )
