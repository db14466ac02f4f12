"""JUEL evaluation on simpleeval: one handler per node kind `juel_syntax` produces.

Every node the parser can build is handled here with JUEL semantics from
`juel_values`, so no Python behaviour leaks through (no getattr, no arbitrary calls,
no negative indexing); anything unexpected raises ExpressionError.
"""

from __future__ import annotations

import ast
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from simpleeval import InvalidExpression, SimpleEval

from engine.camunda.juel_syntax import EMPTY, EXECUTION
from engine.camunda.juel_values import (
    DateTime,
    Execution,
    UnknownVariable,
    arithmetic,
    aware,
    call_method,
    compare,
    is_empty,
    read_property,
    to_bool,
    to_number,
)
from engine.errors import ExpressionError


class JuelEvaluator(SimpleEval):
    """simpleeval with a handler for every node JUEL produces; one per thread."""

    def __init__(self) -> None:
        super().__init__(operators={}, functions={}, names={})
        self.variables: Mapping[str, Any] = {}
        self.clock: datetime | None = None

    def _check_disallowed_items(self, item: Any) -> None:
        # Only variables and whitelisted results flow through here; a shallow check
        # keeps evaluation O(1) per node even for large collection variables.
        if callable(item) and not isinstance(item, (DateTime, Execution)):
            raise ExpressionError("Functions cannot be used as values")

    def _eval_name(self, node: ast.Name) -> Any:
        if node.id == EXECUTION:
            return Execution(self.variables)
        try:
            return self.variables[node.id]
        except KeyError:
            raise UnknownVariable(f"Unknown variable '{node.id}'") from None

    def _eval_unaryop(self, node: ast.UnaryOp) -> Any:
        value = self._eval(node.operand)
        if isinstance(node.op, ast.Not):
            return not to_bool(value)
        return -to_number(value)

    def _eval_binop(self, node: ast.BinOp) -> Any:
        return arithmetic(type(node.op), self._eval(node.left), self._eval(node.right))

    def _eval_boolop(self, node: ast.BoolOp) -> bool:
        stop = isinstance(node.op, ast.Or)  # the value that short-circuits
        for value in node.values:
            if to_bool(self._eval(value)) is stop:
                return stop
        return not stop

    def _eval_compare(self, node: ast.Compare) -> bool:
        return compare(type(node.ops[0]), self._eval(node.left), self._eval(node.comparators[0]))

    def _eval_ifexp(self, node: ast.IfExp) -> Any:
        return self._eval(node.body) if to_bool(self._eval(node.test)) else self._eval(node.orelse)

    def _eval_subscript(self, node: ast.Subscript) -> Any:
        return read_property(self._eval(node.value), self._eval(node.slice))

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        raise ExpressionError(f"Property access '.{node.attr}' is not supported here")

    def _eval_call(self, node: ast.Call) -> Any:
        func = node.func
        if isinstance(func, ast.Attribute):
            receiver = self._eval(func.value)
            return call_method(receiver, func.attr, [self._eval(a) for a in node.args])
        name = func.id if isinstance(func, ast.Name) else "?"
        if name == EMPTY:
            try:
                return is_empty(self._eval(node.args[0]))
            except UnknownVariable:
                return True
        if node.args:
            raise ExpressionError(f"Function '{name}()' takes no arguments")
        if name == "now":
            return self.now()
        if name == "dateTime":
            return DateTime(self.now())
        raise ExpressionError(f"Unknown function '{name}'")

    def now(self) -> datetime:
        if self.clock is None:
            self.clock = datetime.now(UTC)
        return self.clock


_local = threading.local()


def run(node: ast.expr, variables: Mapping[str, Any], now: datetime | None) -> Any:
    """Evaluate one parsed expression; every failure becomes an ExpressionError."""
    evaluator: JuelEvaluator | None = getattr(_local, "evaluator", None)
    if evaluator is None:
        evaluator = _local.evaluator = JuelEvaluator()
    saved = evaluator.variables, evaluator.clock
    evaluator.variables = variables
    evaluator.clock = aware(now) if now is not None else None
    try:
        return evaluator._eval(node)
    except ExpressionError:
        raise
    except InvalidExpression as exc:
        raise ExpressionError(str(exc)) from None
    except RecursionError:
        raise ExpressionError("Expression is nested too deeply") from None
    except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError) as exc:
        raise ExpressionError(f"{type(exc).__name__}: {exc}") from None
    finally:
        evaluator.variables, evaluator.clock = saved
