"""One compiled DMN decision and its evaluation: rule matching and hit policies.

Requirements between decisions are resolved by the registry (`dmn.py`); a Decision only
evaluates its own table or literal expression against the variables it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from engine.camunda.dmn_cells import Evaluable, Matcher, coerce, coercion_for
from engine.camunda.feel_values import arithmetic, equals, is_number
from engine.errors import EngineError, ExpressionError

HIT_POLICIES = frozenset({"UNIQUE", "FIRST", "PRIORITY", "ANY", "RULE ORDER", "COLLECT"})
AGGREGATIONS = frozenset({"SUM", "MIN", "MAX", "COUNT"})
_RUNTIME_ERRORS = (TypeError, KeyError, AttributeError, ValueError, ArithmeticError, IndexError)


@dataclass(slots=True)
class Input:
    """A table input: how to compute the value the input entries test."""

    id: str
    label: str
    expression: Evaluable | None
    type_ref: str | None = None
    convert: Callable[[Any], Any] | None = None

    def __post_init__(self) -> None:
        self.convert = coercion_for(self.type_ref)


@dataclass(slots=True)
class Output:
    """A table output column; `priorities` are its `outputValues` in listed order."""

    id: str
    name: str
    type_ref: str | None = None
    priorities: list[Any] = field(default_factory=list)


@dataclass(slots=True)
class Rule:
    """One row: input entries to match and output entries (None for an empty cell)."""

    id: str
    entries: list[Matcher]
    outputs: list[Evaluable | None]
    constant: dict[str, Any] | None = None  # precomputed result when every output is literal


@dataclass(slots=True)
class Decision:
    """A decision table or literal-expression decision, ready to evaluate."""

    id: str
    name: str
    required: list[str]
    outputs: list[str]
    file: str | None = None
    hit_policy: str = "UNIQUE"
    aggregation: str | None = None
    inputs: list[Input] = field(default_factory=list)
    output_columns: list[Output] = field(default_factory=list)
    rules: list[Rule] = field(default_factory=list)
    literal: Evaluable | None = None
    literal_type: str | None = None

    @property
    def collects(self) -> bool:
        """Plain COLLECT or RULE ORDER: results reach dependants as lists even for one rule."""
        return self.literal is None and (
            self.hit_policy == "RULE ORDER" or (self.hit_policy == "COLLECT" and self.aggregation is None)
        )

    def evaluate(self, variables: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Rule results as output-name→value dicts (one dict for aggregations/literals)."""
        if self.literal is not None:
            try:
                value = coerce(self.literal.evaluate(variables), self.literal_type)
            except (EngineError, *_RUNTIME_ERRORS) as exc:
                raise self._error("literal expression", exc) from None
            return [{self.outputs[0]: value}]
        values = [self._input_value(item, variables) for item in self.inputs]
        matched = self._match(values, variables)
        return self._apply_hit_policy(matched, variables)

    # -- matching --------------------------------------------------------------------------
    def _input_value(self, item: Input, variables: Mapping[str, Any]) -> Any:
        try:
            value = None if item.expression is None else item.expression.evaluate(variables)
            if item.convert is not None:
                value = item.convert(value)
        except (EngineError, *_RUNTIME_ERRORS) as exc:
            raise self._error(f"input '{item.label}' ({item.id})", exc) from None
        return value

    def _match(self, values: list[Any], variables: Mapping[str, Any]) -> list[Rule]:
        first_only = self.hit_policy == "FIRST"
        matched: list[Rule] = []
        rule: Rule | None = None
        column = 0
        try:
            for rule in self.rules:
                for column, entry in enumerate(rule.entries):
                    if not entry.matches(values[column], variables):
                        break
                else:
                    matched.append(rule)
                    if first_only:
                        break
        except (EngineError, *_RUNTIME_ERRORS) as exc:
            item = self.inputs[column]
            where = f"rule '{rule.id if rule else '?'}', input '{item.label}' ({item.id})"
            raise self._error(where, exc) from None
        return matched

    def _result(self, rule: Rule, variables: Mapping[str, Any]) -> dict[str, Any]:
        if rule.constant is not None:
            return dict(rule.constant)
        result: dict[str, Any] = {}
        for column, cell in zip(self.output_columns, rule.outputs, strict=True):
            try:
                value = None if cell is None else cell.evaluate(variables)
                if column.type_ref and value is not None:
                    value = coerce(value, column.type_ref)
            except (EngineError, *_RUNTIME_ERRORS) as exc:
                raise self._error(f"rule '{rule.id}', output '{column.name}'", exc) from None
            result[column.name] = value
        return result

    # -- hit policies ----------------------------------------------------------------------
    def _apply_hit_policy(self, matched: list[Rule], variables: Mapping[str, Any]) -> list[dict[str, Any]]:
        policy = self.hit_policy
        if not matched:
            if policy == "COLLECT" and self.aggregation == "COUNT":
                return [{self.outputs[0]: 0}]
            return []
        if policy == "UNIQUE" and len(matched) > 1:
            raise ExpressionError(f"decision '{self.id}': hit policy UNIQUE but rules {_ids(matched)} all match")
        if policy in ("UNIQUE", "FIRST"):
            return [self._result(matched[0], variables)]
        results = [self._result(rule, variables) for rule in matched]
        if policy == "ANY":
            if any(result != results[0] for result in results[1:]):
                raise ExpressionError(
                    f"decision '{self.id}': hit policy ANY but matching rules {_ids(matched)} give different outputs"
                )
            return results[:1]
        if policy == "PRIORITY":
            ranked = sorted(range(len(results)), key=lambda i: self._priority(results[i]))
            return [results[ranked[0]]]
        if policy == "COLLECT" and self.aggregation:
            return self._aggregate(results)
        return results

    def _priority(self, result: dict[str, Any]) -> tuple[int, ...]:
        """Position of each output value in its `outputValues` list (unlisted values last)."""
        key = []
        for column in self.output_columns:
            value = result.get(column.name)
            rank = next(
                (i for i, listed in enumerate(column.priorities) if equals(value, listed)),
                len(column.priorities),
            )
            key.append(rank)
        return tuple(key)

    def _aggregate(self, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        name = self.outputs[0]
        values = [result[name] for result in results if result.get(name) is not None]
        if self.aggregation == "COUNT":
            return [{name: len(values)}]
        if not values:
            return []
        if not all(is_number(value) for value in values):
            raise ExpressionError(
                f"decision '{self.id}': COLLECT {self.aggregation} needs numeric outputs, got {values!r}"
            )
        if self.aggregation == "SUM":
            total = values[0]
            for value in values[1:]:
                total = arithmetic("+", total, value)
            return [{name: total}]
        pick = min if self.aggregation == "MIN" else max
        return [{name: pick(values)}]

    # -- errors ----------------------------------------------------------------------------
    def _error(self, where: str, exc: Exception) -> ExpressionError:
        reason = str(exc) if isinstance(exc, EngineError) else f"{type(exc).__name__}: {exc}"
        return ExpressionError(f"decision '{self.id}', {where}: {reason}")


def _ids(rules: Sequence[Rule]) -> str:
    return ", ".join(f"'{rule.id}'" for rule in rules)
