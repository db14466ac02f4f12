"""What a diagram's Python is refused for before it runs: names, statements, nesting, constants over a limit.

The sandbox runs these checks when it parses an expression or a script (once per text, cached),
so `polku validate` and a running case refuse the same things with the same words. Constant
parts are computed with the run-time checks of `bounds`: `4000000 ** 4000000`, `'%100000000d' % 1`
or `'x' * 10**9` is refused when the diagram is deployed, not when a case reaches it.
"""

from __future__ import annotations

import ast
import operator
from collections import deque
from typing import Any

from simpleeval import DEFAULT_OPERATORS

from engine.camunda import bounds
from engine.camunda.bounds import LimitExceeded
from engine.errors import ExpressionError

MAX_DEPTH = 100
"""Deepest nesting of an expression or script (the evaluators recurse once per level)."""


def static_problem(node: ast.AST) -> str | None:
    """Refused before anything runs: dunder names, attribute writes, huge format widths."""
    name = None
    if isinstance(node, ast.Name):
        name = node.id
    elif isinstance(node, ast.Attribute):
        if not isinstance(node.ctx, ast.Load):
            return f"assigning or deleting attribute '{node.attr}' is not allowed"
        name = node.attr
    elif isinstance(node, ast.FunctionDef):
        name = node.name
    elif isinstance(node, ast.arg):
        name = node.arg
    elif isinstance(node, ast.FormattedValue) and node.format_spec is not None:
        return _format_spec_problem(node.format_spec)
    if name is not None and name.startswith("__"):
        return f"Forbidden name '{name}'"
    return None


def _format_spec_problem(spec: ast.expr) -> str | None:
    parts = spec.values if isinstance(spec, ast.JoinedStr) else [spec]
    if not all(isinstance(p, ast.Constant) and isinstance(p.value, str) for p in parts):
        return "computed format specifications are not allowed"
    try:
        bounds.check_format_spec("".join(p.value for p in parts))  # type: ignore[attr-defined]
    except LimitExceeded as exc:
        return str(exc)
    return None


def syntax_reason(exc: SyntaxError) -> str:
    if "integer string conversion" in str(exc.msg):  # a literal over Python's 4,300 digits
        return f"a number literal has more than {bounds.INT_TEXT_DIGITS:,} digits"
    return bounds.shorten(str(exc.msg))


def nodes_of(tree: ast.AST) -> list[ast.AST]:
    """Every node of the tree, in one pass that refuses deep nesting before any evaluator recurses over it."""
    found: list[ast.AST] = []
    queue = deque([(tree, 0)])  # breadth first, like ast.walk: the first problem found is the one reported
    while queue:
        node, depth = queue.popleft()
        if depth > MAX_DEPTH:
            raise ExpressionError(f"nested too deeply (more than {MAX_DEPTH} levels)")
        found.append(node)
        queue.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return found


_UNKNOWN = object()
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert, ast.Not: operator.not_}
_FOLDED_CALLS = {"range": bounds.bounded_range, "str": str, "round": round}


class _ConstantFolder:
    """Computes constant parts of code with the run-time checks, so `4000000 ** 4000000` is refused at deploy.

    Each node is folded once and every value is bounded by the same checks, so this costs about
    as much as running the constant parts once; the values kept while folding are bounded in all
    like an expression's (past that, the rest is left to run time). Names the code assigns are
    never treated as helpers.
    """

    def __init__(self, nodes: list[ast.AST]) -> None:
        self.values: dict[int, Any] = {}
        self.held = 0
        self.assigned = {n.id for n in nodes if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}

    def value(self, node: ast.AST) -> Any:
        key = id(node)
        if self.held > bounds.MAX_BUILT:
            return self.values.get(key, _UNKNOWN)
        if key not in self.values:
            value = self._fold(node)
            self.held += len(value) if isinstance(value, (str, bytes, list, tuple)) else 1
            self.values[key] = value if self.held <= bounds.MAX_BUILT else _UNKNOWN
        return self.values[key]

    def _fold(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            return self._apply(_UNARY[type(node.op)], self.value(node.operand))
        if isinstance(node, ast.BinOp):
            left, right = self.value(node.left), self.value(node.right)
            fallback = DEFAULT_OPERATORS.get(type(node.op))
            if fallback is None:
                return _UNKNOWN
            return self._apply(lambda a, b: bounds.binary(type(node.op), a, b, fallback), left, right)
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [self.value(e) for e in node.elts]
            if any(item is _UNKNOWN for item in items):
                return _UNKNOWN
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords \
                and node.func.id in _FOLDED_CALLS and node.func.id not in self.assigned:
            func = _FOLDED_CALLS[node.func.id]
            return self._apply(lambda *args: bounds.call(func, args, {}), *(self.value(a) for a in node.args))
        return _UNKNOWN

    @staticmethod
    def _apply(func: Any, *args: Any) -> Any:
        if any(arg is _UNKNOWN for arg in args):
            return _UNKNOWN
        try:
            return func(*args)
        except LimitExceeded:
            raise
        except Exception:  # noqa: BLE001 - a constant that fails otherwise (1 / 0) fails at run time, as written
            return _UNKNOWN


def constant_problem(nodes: list[ast.AST]) -> tuple[ast.AST, str] | None:
    folder = _ConstantFolder(nodes)
    for node in nodes:
        if isinstance(node, (ast.BinOp, ast.Call)):
            try:
                folder.value(node)
            except LimitExceeded as exc:
                return node, str(exc)
    return None
