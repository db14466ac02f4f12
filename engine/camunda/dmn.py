"""Decisions of a deployment: evaluation with requirement chains, Camunda result mapping.

Our own DMN evaluator (not SpiffWorkflow's): several decisions per file, FEEL cells,
`requiredDecision` chains resolved the way Camunda 7's DMN engine does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from engine.camunda.dmn_decision import Decision
from engine.camunda.dmn_parser import check_requirements, parse_dmn
from engine.errors import DiagramError, ExpressionError, NotFound

__all__ = ["Decision", "DecisionRegistry", "Explanation", "map_decision_result", "parse_dmn"]

RESULT_MODES = ("singleEntry", "singleResult", "collectEntries", "resultList")


@dataclass(frozen=True, slots=True)
class Explanation:
    """A decision's rule results and the ids of the rules that matched (a literal expression matches none)."""

    results: list[dict[str, Any]]
    matched_rules: list[str]


class DecisionRegistry:
    """All decisions of one deployment, across its DMN files."""

    def __init__(self, decisions: Iterable[Decision]) -> None:
        self._decisions: dict[str, Decision] = {}
        for decision in decisions:
            other = self._decisions.get(decision.id)
            if other is not None:
                raise DiagramError(
                    f"decision id '{decision.id}' is defined twice (in {other.file or '-'} and {decision.file or '-'})",
                    decision.id,
                    decision.file,
                )
            self._decisions[decision.id] = decision
        check_requirements(self._decisions)
        self._plans = {key: self._plan(key) for key in self._decisions}

    def _plan(self, decision_id: str) -> list[Decision]:
        """Required decisions to evaluate first, depth first, each once (Camunda's order)."""
        order: list[str] = []

        def visit(key: str) -> None:
            if key in order:
                return
            for ref in self._decisions[key].required:
                visit(ref)
            order.append(key)

        visit(decision_id)
        return [self._decisions[key] for key in order[:-1]]

    def __contains__(self, decision_id: object) -> bool:
        return decision_id in self._decisions

    def __getitem__(self, decision_id: str) -> Decision:
        try:
            return self._decisions[decision_id]
        except KeyError:
            raise NotFound(f"decision '{decision_id}' is not deployed") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._decisions)

    def __len__(self) -> int:
        return len(self._decisions)

    def evaluate(self, decision_id: str, variables: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Rule results of a decision, after evaluating the decisions it requires."""
        return self[decision_id].evaluate(self._context(decision_id, variables))

    def explain(self, decision_id: str, variables: Mapping[str, Any]) -> Explanation:
        """Results with the matched rules' ids, so a process owner sees which row decided (`polku decide`)."""
        decision = self[decision_id]
        context = self._context(decision_id, variables)
        results = decision.evaluate(context)
        if decision.literal is not None:
            return Explanation(results, [])
        values = [decision._input_value(item, context) for item in decision.inputs]
        return Explanation(results, [rule.id for rule in decision._match(values, context)])

    def _context(self, decision_id: str, variables: Mapping[str, Any]) -> Mapping[str, Any]:
        """The variables plus the outputs of the decisions this one requires."""
        plan = self._plans[decision_id]
        if not plan:
            return variables
        context = dict(variables)
        for required in plan:
            _expose(context, required, required.evaluate(context))
        return context


def _expose(context: dict[str, Any], decision: Decision, results: list[dict[str, Any]]) -> None:
    """Make a required decision's outputs variables of its dependants, as Camunda does.

    One result (and not plain COLLECT/RULE ORDER): each output name holds its value;
    otherwise each output name holds the list of values of all results.
    """
    if not results:
        return
    if len(results) == 1 and not decision.collects:
        context.update(results[0])
        return
    for name in decision.outputs:
        context[name] = [result[name] for result in results if name in result]


def map_decision_result(results: list[dict[str, Any]], mode: str | None) -> Any:
    """Apply `camunda:mapDecisionResult` to rule results (default `resultList`)."""
    if mode is None or mode == "resultList":
        return results
    if mode not in RESULT_MODES:
        raise ExpressionError(f"unknown mapDecisionResult '{mode}' (expected one of {', '.join(RESULT_MODES)})")
    if mode == "collectEntries":
        values: list[Any] = []
        for result in results:
            if len(result) != 1:
                raise ExpressionError(
                    f"mapDecisionResult 'collectEntries' needs exactly one output per rule, got {sorted(result)}"
                )
            values.extend(result.values())
        return values
    if not results:
        return None
    if len(results) > 1:
        raise ExpressionError(f"mapDecisionResult '{mode}' expects at most one matching rule, got {len(results)}")
    if mode == "singleResult":
        return results[0]
    if len(results[0]) != 1:
        raise ExpressionError(
            f"mapDecisionResult 'singleEntry' expects one output, got {len(results[0])}: {sorted(results[0])}"
        )
    return next(iter(results[0].values()))
