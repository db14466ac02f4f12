"""The FEEL subset Camunda Modeler users write in DMN cells, compiled to closures.

Texts are parsed once (`feel_parser`), constant sub-trees are folded at compile time
(so `date("2024-13-01")` fails at deployment, not at run time) and the result is cached;
matching a compiled unary test against a value is then a couple of Python calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from engine.camunda.bounds import readable, shorten
from engine.camunda.feel_parser import Node, Parser
from engine.camunda.feel_values import (
    BUILTINS,
    Range,
    arithmetic,
    compare,
    equals,
    get_property,
    logical_not,
    negate,
)
from engine.errors import EngineError, ExpressionError

Code = Callable[[Mapping[str, Any]], Any]
Test = Callable[[Any, Mapping[str, Any]], "bool | None"]
_EMPTY: Mapping[str, Any] = {}
_INPUT = "?"  # the key under which `?` finds the tested value
_RUNTIME_ERRORS = (TypeError, KeyError, AttributeError, ValueError, ArithmeticError, IndexError, RecursionError,
                   MemoryError)
MAX_DEPTH = 200
"""Deepest tree a text may parse to (`1 + 1 + ...` nests once per operator); compiling recurses per level."""
_ORDER = {
    "<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    ">=": lambda c: c >= 0,
}


def _uses_input(node: Node) -> bool:
    if node[0] == "input":
        return True
    return any(_uses_input(part) for part in _children(node))


def _children(node: Node) -> list[Node]:
    tag = node[0]
    if tag in ("lit", "name", "input"):
        return []
    if tag in ("call", "list"):
        return list(node[-1])
    return [part for part in node[1:] if isinstance(part, tuple)]


def _is_constant(node: Node) -> bool:
    if node[0] in ("name", "input"):
        return False
    return all(_is_constant(part) for part in _children(node))


def _check_depth(node: Node) -> Node:
    """Refuse a tree deeper than MAX_DEPTH before anything recurses over it."""
    stack = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise ExpressionError(f"expression is nested too deeply (more than {MAX_DEPTH} levels of operators)")
        stack.extend((child, depth + 1) for child in _children(current))
    return node


def _compile(node: Node) -> Code:
    """Turn an AST node into a closure over a variables mapping, folding constants."""
    if node[0] != "lit" and _is_constant(node):
        value = _build(node)(_EMPTY)
        return lambda v: value
    return _build(node)


def _build(node: Node) -> Code:
    tag = node[0]
    if tag == "lit":
        value = node[1]
        return lambda v: value
    if tag == "name":
        name = node[1]
        return lambda v: v.get(name)
    if tag == "input":
        return lambda v: v.get(_INPUT)
    if tag == "prop":
        inner, prop = _compile(node[1]), node[2]
        return lambda v: get_property(inner(v), prop)
    if tag == "neg":
        inner = _compile(node[1])
        return lambda v: negate(inner(v))
    if tag == "not":
        inner = _compile(node[1])
        return lambda v: logical_not(inner(v))
    if tag == "arith":
        op, left, right = node[1], _compile(node[2]), _compile(node[3])
        return lambda v: arithmetic(op, left(v), right(v))
    if tag == "cmp":
        return _build_comparison(node[1], _compile(node[2]), _compile(node[3]))
    if tag in ("and", "or"):
        return _build_logic(tag, _compile(node[1]), _compile(node[2]))
    if tag == "if":
        cond, then, other = (_compile(part) for part in node[1:])
        return lambda v: then(v) if cond(v) is True else other(v)
    if tag == "call":
        fn, args = BUILTINS[node[1]], [_compile(arg) for arg in node[2]]
        return lambda v: fn(*(arg(v) for arg in args))
    if tag == "list":
        items = [_compile(item) for item in node[1]]
        return lambda v: [item(v) for item in items]
    if tag == "range":
        low, high, low_closed, high_closed = _compile(node[1]), _compile(node[2]), node[3], node[4]
        return lambda v: Range(low(v), high(v), low_closed, high_closed)
    raise ExpressionError(f"unsupported FEEL construct {tag!r}")  # pragma: no cover


def _build_comparison(op: str, left: Code, right: Code) -> Code:
    if op == "=":
        return lambda v: equals(left(v), right(v))
    if op == "!=":
        return lambda v: not equals(left(v), right(v))
    check = _ORDER[op]

    def ordered(v: Mapping[str, Any]) -> bool | None:
        c = compare(left(v), right(v))
        return None if c is None else check(c)

    return ordered


def _build_logic(tag: str, left: Code, right: Code) -> Code:
    """Three-valued `and`/`or`: non-booleans count as null."""
    if tag == "and":

        def conj(v: Mapping[str, Any]) -> bool | None:
            a = left(v)
            if a is False:
                return False
            b = right(v)
            if b is False:
                return False
            return True if a is True and b is True else None

        return conj

    def disj(v: Mapping[str, Any]) -> bool | None:
        a = left(v)
        if a is True:
            return True
        b = right(v)
        if b is True:
            return True
        return False if a is False and b is False else None

    return disj


# -- unary tests -----------------------------------------------------------------------


def _value_test(node: Node) -> Test:
    """A bare value in an input entry: equality, range/list membership, or a `?` predicate."""
    code = _compile(_check_depth(node))
    if _uses_input(node):

        def predicate(x: Any, v: Mapping[str, Any]) -> bool | None:
            result = code({**v, _INPUT: x})
            return result if isinstance(result, bool) else equals(x, result)

        return predicate
    if _is_constant(node):
        value = code(_EMPTY)
        if isinstance(value, Range):
            return lambda x, v: value.contains(x)
        if not isinstance(value, list):
            return lambda x, v: equals(x, value)

    def test(x: Any, v: Mapping[str, Any]) -> bool | None:
        value = code(v)
        if isinstance(value, Range):
            return value.contains(x)
        if isinstance(value, list):
            return any(equals(x, item) for item in value)
        if isinstance(value, bool) and x is not None and not isinstance(x, bool):
            return value  # a condition such as `limit > 5` rather than a value to compare
        return equals(x, value)

    return test


def _comparison_test(op: str, node: Node) -> Test:
    code = _compile(_check_depth(node))
    if op == "=":
        return lambda x, v: equals(x, code(v))
    if op == "!=":
        return lambda x, v: not equals(x, code(v))
    check = _ORDER[op]
    if _is_constant(node):
        bound = code(_EMPTY)

        def const_test(x: Any, v: Mapping[str, Any]) -> bool | None:
            c = compare(x, bound)
            return None if c is None else check(c)

        return const_test

    def var_test(x: Any, v: Mapping[str, Any]) -> bool | None:
        c = compare(x, code(v))
        return None if c is None else check(c)

    return var_test


def _positive_tests(parser: Parser) -> Test:
    tests: list[Test] = []
    while True:
        if parser.at_op("<", "<=", ">", ">=", "=", "!="):
            op = parser.take()[1]
            tests.append(_comparison_test(op, parser.endpoint()))
        else:
            tests.append(_value_test(parser.expression()))
        if not parser.at_op(","):
            break
        parser.take()
    if len(tests) == 1:
        return tests[0]

    def any_of(x: Any, v: Mapping[str, Any]) -> bool | None:
        unknown = False
        for test in tests:
            result = test(x, v)
            if result is True:
                return True
            unknown = unknown or result is None
        return None if unknown else False

    return any_of


def _is_negation(parser: Parser) -> bool:
    """`not( ... )` spanning the whole text negates the tests inside it."""
    if not (parser.at("name", "not") and parser.at("op", "(", offset=1)):
        return False
    depth = 0
    for index, (kind, value, _) in enumerate(parser.tokens):
        if kind == "op" and value in "([":
            depth += 1
        elif kind == "op" and value in ")]":
            depth -= 1
            if depth == 0:
                return parser.tokens[index + 1][0] == "end"
    return False


class UnaryTests:
    """A compiled input entry: `.matches(value, variables)` tells whether the rule applies."""

    __slots__ = ("_test", "text")

    def __init__(self, text: str, test: Test) -> None:
        self.text = text
        self._test = test

    def matches(self, input_value: Any, variables: Mapping[str, Any] | None = None) -> bool:
        try:
            return self._test(input_value, _EMPTY if variables is None else variables) is True
        except EngineError:
            raise
        except _RUNTIME_ERRORS as exc:
            raise ExpressionError(f"cannot evaluate {shorten(self.text)!r}: {readable(exc)}") from None

    def __repr__(self) -> str:
        return f"UnaryTests({self.text!r})"


class FeelExpression:
    """A compiled simple expression: `.evaluate(variables)` returns its value."""

    __slots__ = ("_code", "is_constant", "text")

    def __init__(self, text: str, code: Code, is_constant: bool) -> None:
        self.text = text
        self._code = code
        self.is_constant = is_constant

    def evaluate(self, variables: Mapping[str, Any] | None = None) -> Any:
        try:
            return self._code(_EMPTY if variables is None else variables)
        except EngineError:
            raise
        except _RUNTIME_ERRORS as exc:
            raise ExpressionError(f"cannot evaluate {shorten(self.text)!r}: {readable(exc)}") from None

    def __repr__(self) -> str:
        return f"FeelExpression({self.text!r})"


def _always(x: Any, v: Mapping[str, Any]) -> bool:
    return True


@lru_cache(maxsize=4096)
def compile_unary_tests(text: str) -> UnaryTests:
    """Compile an input entry (`< 250`, `[1..5]`, `"a","b"`, `not(...)`, `-`)."""
    stripped = (text or "").strip()
    if stripped in ("", "-"):
        return UnaryTests(stripped, _always)
    parser = Parser(stripped)
    if _is_negation(parser):
        parser.take()
        parser.take()
        inner = _positive_tests(parser)
        parser.expect(")")

        def negated(x: Any, v: Mapping[str, Any]) -> bool | None:
            result = inner(x, v)
            return None if result is None else not result

        test: Test = negated
    else:
        test = _positive_tests(parser)
    parser.expect_end()
    return UnaryTests(stripped, test)


@lru_cache(maxsize=4096)
def compile_expression(text: str) -> FeelExpression:
    """Compile a simple expression (input expression, output entry, literal expression)."""
    stripped = (text or "").strip()
    if not stripped:
        raise ExpressionError("empty expression")
    parser = Parser(stripped)
    node = _check_depth(parser.expression())
    parser.expect_end()
    return FeelExpression(stripped, _compile(node), _is_constant(node))
