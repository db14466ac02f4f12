"""JUEL evaluation: one handler per node kind `juel_syntax` produces, in a table of our own.

Every node the parser can build is handled here with JUEL semantics from `juel_values`, so no
Python behaviour leaks through (no getattr, no arbitrary calls, no negative indexing); a node
kind missing from the table, or anything unexpected, raises ExpressionError. The table is ours
(as in `feel.py`), not a subclass of simpleeval, so that JUEL does not depend on a library's
private methods.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from engine.camunda import bounds
from engine.camunda.juel_syntax import EMPTY, EXECUTION
from engine.camunda.juel_values import (
    DateTime,
    Execution,
    UnknownVariable,
    arithmetic,
    call_method,
    compare,
    is_empty,
    read_property,
    to_bool,
    to_number,
)
from engine.clock import aware, utcnow
from engine.errors import ExpressionError


class _Evaluation:
    """One evaluation: the variables and the clock `now()` reads (fixed on first use)."""

    __slots__ = ("clock", "variables")

    def __init__(self, variables: Mapping[str, Any], clock: datetime | None) -> None:
        self.variables = variables
        self.clock = clock

    def eval(self, node: ast.AST) -> Any:
        handler = _NODES.get(type(node))
        if handler is None:
            raise ExpressionError(f"{type(node).__name__} is not part of JUEL")
        result = handler(self, node)
        # Only variables and whitelisted results flow through here; a shallow check keeps
        # evaluation O(1) per node even for large collection variables.
        if callable(result) and not isinstance(result, (DateTime, Execution)):
            raise ExpressionError("Functions cannot be used as values")
        return result

    def now(self) -> datetime:
        if self.clock is None:
            self.clock = utcnow()
        return self.clock


def _constant(ev: _Evaluation, node: ast.Constant) -> Any:
    return node.value


def _name(ev: _Evaluation, node: ast.Name) -> Any:
    if node.id == EXECUTION:
        return Execution(ev.variables)
    try:
        return ev.variables[node.id]
    except KeyError:
        raise UnknownVariable(f"Unknown variable '{node.id}'") from None


def _unary(ev: _Evaluation, node: ast.UnaryOp) -> Any:
    value = ev.eval(node.operand)
    if isinstance(node.op, ast.Not):
        return not to_bool(value)
    return -to_number(value)


def _binary(ev: _Evaluation, node: ast.BinOp) -> Any:
    return arithmetic(type(node.op), ev.eval(node.left), ev.eval(node.right))


def _boolean(ev: _Evaluation, node: ast.BoolOp) -> bool:
    stop = isinstance(node.op, ast.Or)  # the value that short-circuits
    for value in node.values:
        if to_bool(ev.eval(value)) is stop:
            return stop
    return not stop


def _compare(ev: _Evaluation, node: ast.Compare) -> bool:
    return compare(type(node.ops[0]), ev.eval(node.left), ev.eval(node.comparators[0]))


def _choice(ev: _Evaluation, node: ast.IfExp) -> Any:
    return ev.eval(node.body) if to_bool(ev.eval(node.test)) else ev.eval(node.orelse)


def _property(ev: _Evaluation, node: ast.Subscript) -> Any:
    return read_property(ev.eval(node.value), ev.eval(node.slice))


def _attribute(ev: _Evaluation, node: ast.Attribute) -> Any:
    raise ExpressionError(f"Property access '.{node.attr}' is not supported here")


def _call(ev: _Evaluation, node: ast.Call) -> Any:
    func = node.func
    if isinstance(func, ast.Attribute):
        receiver = ev.eval(func.value)
        return call_method(receiver, func.attr, [ev.eval(a) for a in node.args])
    name = func.id if isinstance(func, ast.Name) else "?"
    if name == EMPTY:
        try:
            return is_empty(ev.eval(node.args[0]))
        except UnknownVariable:
            return True
    if node.args:
        raise ExpressionError(f"Function '{name}()' takes no arguments")
    if name == "now":
        return ev.now()
    if name == "dateTime":
        return DateTime(ev.now())
    raise ExpressionError(f"Unknown function '{name}'")


_NODES: dict[type[ast.AST], Callable[[_Evaluation, Any], Any]] = {
    ast.Constant: _constant,
    ast.Name: _name,
    ast.UnaryOp: _unary,
    ast.BinOp: _binary,
    ast.BoolOp: _boolean,
    ast.Compare: _compare,
    ast.IfExp: _choice,
    ast.Subscript: _property,
    ast.Attribute: _attribute,
    ast.Call: _call,
}


def run(node: ast.expr, variables: Mapping[str, Any], now: datetime | None) -> Any:
    """Evaluate one parsed expression; every failure becomes an ExpressionError."""
    try:
        return _Evaluation(variables, aware(now)).eval(node)
    except ExpressionError:
        raise
    except RecursionError:
        raise ExpressionError("Expression is nested too deeply") from None
    except (ArithmeticError, TypeError, ValueError, LookupError, AttributeError, MemoryError) as exc:
        raise ExpressionError(bounds.readable(exc)) from None
