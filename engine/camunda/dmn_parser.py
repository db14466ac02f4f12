"""Read Camunda Modeler DMN files (DMN 1.1/1.2/1.3) into compiled Decisions.

Every cell is compiled here so a broken table is refused at deployment with the file,
the element id and the cell text, instead of failing inside a running case.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lxml import etree

from engine.camunda.bounds import readable, shorten
from engine.camunda.dmn_cells import (
    coerce,
    compile_entry_cell,
    compile_expression_cell,
    language_of,
)
from engine.camunda.dmn_decision import (
    AGGREGATIONS,
    HIT_POLICIES,
    Decision,
    Input,
    Output,
    Rule,
)
from engine.camunda.feel import FeelExpression, compile_expression
from engine.errors import DiagramError, EngineError

DMN_NAMESPACES = frozenset(
    {
        "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
        "http://www.omg.org/spec/DMN/20180521/MODEL/",
        "https://www.omg.org/spec/DMN/20191111/MODEL/",
    }
)
CAMUNDA_DMN_NS = "http://camunda.org/schema/1.0/dmn"
_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)


class _FileReader:
    """Parses the decisions of one file; knows the namespace, file name and defaults."""

    def __init__(self, root: Any, file: str) -> None:
        self.ns = etree.QName(root).namespace
        self.file = file
        self.language = root.get("expressionLanguage")

    def tag(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    def children(self, element: Any, name: str) -> list[Any]:
        return element.findall(self.tag(name))

    def text(self, element: Any | None) -> str:
        if element is None:
            return ""
        return element.findtext(self.tag("text")) or ""

    def fail(self, reason: str, element_id: str | None) -> DiagramError:
        return DiagramError(reason, element_id, self.file)

    # -- cells -------------------------------------------------------------------------
    def expression(self, element: Any, text: str, what: str, cell_id: str) -> Any:
        try:
            language = language_of(text, element.get("expressionLanguage") or self.language)
            return compile_expression_cell(text, language)
        except Exception as exc:  # noqa: BLE001 - whatever a cell does to the compiler is that cell's refusal
            raise self.fail(f"{what} {shorten(text)!r} does not compile: {_reason(exc)}", cell_id) from None

    def entry(self, element: Any, input_variable: str, what: str, cell_id: str) -> Any:
        text = self.text(element)
        try:
            language = language_of(text, element.get("expressionLanguage") or self.language)
            return compile_entry_cell(text, language, input_variable)
        except Exception as exc:  # noqa: BLE001 - as above
            raise self.fail(f"{what} {shorten(text)!r} does not compile: {_reason(exc)}", cell_id) from None

    # -- decisions ---------------------------------------------------------------------
    def decision(self, element: Any) -> Decision:
        decision_id = element.get("id")
        if not decision_id:
            raise self.fail(f"decision '{element.get('name', '')}' has no id", None)
        required = []
        for requirement in self.children(element, "informationRequirement"):
            for ref in self.children(requirement, "requiredDecision"):
                href = (ref.get("href") or "").strip()
                if not href.startswith("#") or len(href) < 2:
                    raise self.fail(f"requiredDecision href {href!r} is not a local '#id'", decision_id)
                required.append(href[1:])
        decision = Decision(decision_id, element.get("name") or decision_id, required, [], self.file)
        table = element.find(self.tag("decisionTable"))
        literal = element.find(self.tag("literalExpression"))
        if table is not None:
            self.table(decision, table)
        elif literal is not None:
            self.literal(decision, element, literal)
        else:
            raise self.fail(
                f"decision '{decision_id}' has neither a decision table nor a literal expression",
                decision_id,
            )
        return decision

    def literal(self, decision: Decision, element: Any, literal: Any) -> None:
        text = self.text(literal)
        cell_id = literal.get("id") or decision.id
        if not text.strip():
            raise self.fail(f"decision '{decision.id}' has an empty literal expression", cell_id)
        decision.literal = self.expression(literal, text, "literal expression", cell_id)
        variable = element.find(self.tag("variable"))
        name = variable.get("name") if variable is not None else None
        decision.outputs = [name or decision.id]
        decision.literal_type = (variable.get("typeRef") if variable is not None else None) or (literal.get("typeRef"))

    def table(self, decision: Decision, table: Any) -> None:
        policy = " ".join((table.get("hitPolicy") or "UNIQUE").split()).upper()
        if policy not in HIT_POLICIES:
            raise self.fail(f"decision '{decision.id}': unsupported hit policy '{policy}'", decision.id)
        aggregation = table.get("aggregation")
        if aggregation is not None:
            aggregation = aggregation.strip().upper()
            if policy != "COLLECT" or aggregation not in AGGREGATIONS:
                raise self.fail(
                    f"decision '{decision.id}': unsupported aggregation '{aggregation}' with hit policy {policy}",
                    decision.id,
                )
        decision.hit_policy, decision.aggregation = policy, aggregation
        variables = []
        for index, item in enumerate(self.children(table, "input"), 1):
            decision.inputs.append(self.input(decision, item, index))
            variables.append(item.get(f"{{{CAMUNDA_DMN_NS}}}inputVariable") or "cellInput")
        self.outputs(decision, table)
        if aggregation and len(decision.outputs) != 1:
            raise self.fail(
                f"decision '{decision.id}': COLLECT {aggregation} needs exactly one output, "
                f"found {len(decision.outputs)}",
                decision.id,
            )
        for index, rule in enumerate(self.children(table, "rule"), 1):
            decision.rules.append(self.rule(decision, rule, index, variables))

    def input(self, decision: Decision, item: Any, index: int) -> Input:
        input_id = item.get("id") or f"input{index}"
        label = item.get("label") or input_id
        expression_el = item.find(self.tag("inputExpression"))
        text = self.text(expression_el)
        type_ref = expression_el.get("typeRef") if expression_el is not None else None
        if not text.strip():
            return Input(input_id, label, None, type_ref)
        cell_id = expression_el.get("id") or input_id
        expression = self.expression(expression_el, text, f"input '{label}' expression", cell_id)
        return Input(input_id, label, expression, type_ref)

    def outputs(self, decision: Decision, table: Any) -> None:
        elements = self.children(table, "output")
        if not elements:
            raise self.fail(f"decision '{decision.id}' has a decision table without outputs", decision.id)
        for index, item in enumerate(elements, 1):
            output_id = item.get("id") or f"output{index}"
            name = item.get("name") or (decision.id if len(elements) == 1 else None)
            if not name:
                raise self.fail(
                    f"decision '{decision.id}': output {output_id} needs a name (the table has several outputs)",
                    output_id,
                )
            if name in decision.outputs:
                raise self.fail(f"decision '{decision.id}': duplicate output name '{name}'", output_id)
            column = Output(output_id, name, item.get("typeRef"))
            if decision.hit_policy == "PRIORITY":
                column.priorities = self.output_values(decision, item, output_id)
            decision.output_columns.append(column)
            decision.outputs.append(name)

    def output_values(self, decision: Decision, item: Any, output_id: str) -> list[Any]:
        """The listed `outputValues`, in order: PRIORITY ranks rule results by them."""
        values_el = item.find(self.tag("outputValues"))
        text = self.text(values_el).strip()
        if not text:
            return []
        try:
            values = compile_expression(f"[{text}]").evaluate({})
        except Exception as exc:  # noqa: BLE001 - as for any cell
            raise self.fail(
                f"decision '{decision.id}': output values {shorten(text)!r} do not compile: {_reason(exc)}",
                (values_el.get("id") if values_el is not None else None) or output_id,
            ) from None
        return list(values)

    def rule(self, decision: Decision, rule: Any, index: int, variables: list[str]) -> Rule:
        rule_id = rule.get("id") or f"rule{index}"
        entries_el = self.children(rule, "inputEntry")
        outputs_el = self.children(rule, "outputEntry")
        if len(entries_el) != len(decision.inputs) or len(outputs_el) != len(decision.outputs):
            raise self.fail(
                f"decision '{decision.id}': rule '{rule_id}' has {len(entries_el)} input and "
                f"{len(outputs_el)} output entries, the table has {len(decision.inputs)} inputs "
                f"and {len(decision.outputs)} outputs",
                rule_id,
            )
        entries = []
        for index, (cell, variable) in enumerate(zip(entries_el, variables, strict=True)):
            what = f"rule '{rule_id}' input entry for '{decision.inputs[index].label}'"
            entries.append(self.entry(cell, variable, what, cell.get("id") or rule_id))
        outputs: list[Any] = []
        for column, cell in zip(decision.output_columns, outputs_el, strict=True):
            text = self.text(cell)
            if not text.strip():
                outputs.append(None)
                continue
            what = f"rule '{rule_id}' output entry for '{column.name}'"
            outputs.append(self.expression(cell, text, what, cell.get("id") or rule_id))
        result = Rule(rule_id, entries, outputs)
        if all(cell is None or _is_constant(cell) for cell in outputs):
            result.constant = {}
            for column, cell, element in zip(decision.output_columns, outputs, outputs_el, strict=True):
                try:
                    value = None if cell is None else coerce(cell.evaluate({}), column.type_ref)
                except Exception as exc:  # noqa: BLE001 - as for any cell
                    raise self.fail(
                        f"rule '{rule_id}' output entry for '{column.name}': {_reason(exc)}",
                        element.get("id") or rule_id,
                    ) from None
                result.constant[column.name] = value
            if any(isinstance(value, (list, dict)) for value in result.constant.values()):
                result.constant = None  # mutable: results must not share it
        return result


def _reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, EngineError) else readable(exc)


def _is_constant(cell: Any) -> bool:
    return isinstance(cell, FeelExpression) and cell.is_constant


def check_requirements(decisions: Mapping[str, Decision]) -> None:
    """Refuse requirements on unknown decisions and requirement cycles."""
    for decision in decisions.values():
        for ref in decision.required:
            if ref not in decisions:
                raise DiagramError(
                    f"decision '{decision.id}' requires unknown decision '{ref}'",
                    decision.id,
                    decision.file,
                )
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(decision_id: str, path: list[str]) -> None:
        state[decision_id] = 1
        for ref in decisions[decision_id].required:
            if state.get(ref) == 1:
                cycle = [*path[path.index(ref) :], ref]
                raise DiagramError(
                    f"decision requirements form a cycle: {' -> '.join(cycle)}",
                    decision_id,
                    decisions[decision_id].file,
                )
            if ref not in state:
                visit(ref, [*path, ref])
        state[decision_id] = 2

    for decision_id in decisions:
        if decision_id not in state:
            visit(decision_id, [decision_id])


def parse_dmn(data: bytes, file: str) -> list[Decision]:
    """All decisions of one DMN file, compiled; DiagramError on anything we cannot run."""
    try:
        root = etree.fromstring(data, _XML_PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise DiagramError(f"malformed XML: {exc}", None, file) from None
    namespace = etree.QName(root).namespace
    if etree.QName(root).localname != "definitions" or namespace not in DMN_NAMESPACES:
        raise DiagramError(f"not a DMN 1.1/1.2/1.3 file: root element is {root.tag!r}", root.get("id"), file)
    reader = _FileReader(root, file)
    decisions: dict[str, Decision] = {}
    for element in reader.children(root, "decision"):
        try:
            decision = reader.decision(element)
        except DiagramError:
            raise
        except Exception as exc:  # noqa: BLE001 - never a traceback: the decision cannot be read, and why
            raise DiagramError(f"decision cannot be read: {readable(exc)}", element.get("id"), file) from None
        if decision.id in decisions:
            raise DiagramError(f"duplicate decision id '{decision.id}'", decision.id, file)
        decisions[decision.id] = decision
    check_requirements(decisions)
    return list(decisions.values())
