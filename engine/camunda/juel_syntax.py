"""JUEL syntax: split template text and parse `${...}` bodies into Python AST nodes.

The parser builds `ast` nodes directly (instead of Python source text) so string
escaping can never change the meaning; `juel_runtime` evaluates them with its node table.
Node shapes: `a.b` / `a[x]` are `Subscript`, `obj.m(args)` is a `Call` on an
`Attribute`, `f(args)` is a `Call` on a `Name`, `empty x` is `Call(Name('empty'))`.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from typing import Any

from engine.camunda.bounds import INT_TEXT_DIGITS, shorten
from engine.errors import ExpressionError

MAX_NESTING = 50
"""Deepest nesting of parentheses, brackets and prefix operators in one expression."""
MAX_DEPTH = 200
"""Deepest tree an expression may parse to (`a || b || ...` nests once per operator); evaluation recurses per level."""

FUNCTIONS = frozenset({"now", "dateTime"})
"""Top-level functions an expression may call."""

# Refused at deploy: Java reflection has no business in a diagram. Other unknown methods (bean
# calls such as `#{service.find(x)}`) deploy like in Camunda and fail only when evaluated, where
# call_method allows nothing outside the receiver type's whitelist.
REFLECTIVE_METHODS = frozenset({
    "getClass", "forName", "newInstance", "invoke", "exec", "getRuntime", "getMethod", "getDeclaredMethod",
    "loadClass", "getClassLoader", "getConstructor", "wait", "notify", "notifyAll",
})
METHODS = frozenset({
    "plusDays", "plusWeeks", "plusMonths", "plusYears", "plusHours", "plusMinutes",
    "plusSeconds", "minusDays", "minusWeeks", "minusMonths", "minusYears", "minusHours",
    "minusMinutes", "minusSeconds", "toDate", "toString",
    "equals", "equalsIgnoreCase", "contains", "startsWith", "endsWith", "length",
    "isEmpty", "toUpperCase", "toLowerCase", "trim",
    "size", "containsKey", "get",
    "getVariable", "getVariables", "hasVariable",
})
"""Every method name that is allowed on some receiver type (checked again at run time)."""

EXECUTION = "execution"
EMPTY = "empty"

_KEYWORDS = frozenset({
    "and", "or", "not", "eq", "ne", "lt", "gt", "le", "ge", "true", "false", "null",
    "empty", "div", "mod", "instanceof",
})
_WORD_OPS = {
    "and": "&&", "or": "||", "not": "!", "eq": "==", "ne": "!=", "lt": "<", "gt": ">",
    "le": "<=", "ge": ">=", "div": "/", "mod": "%",
}
_COMPARE = {"==": ast.Eq, "!=": ast.NotEq, "<": ast.Lt, ">": ast.Gt, "<=": ast.LtE, ">=": ast.GtE}
_ARITH = {"+": ast.Add, "-": ast.Sub, "*": ast.Mult, "/": ast.Div, "%": ast.Mod}
_TOKEN = re.compile(
    r"(?P<ws>\s+)"
    r"|(?P<num>(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<ident>[A-Za-z_$][A-Za-z0-9_$]*)"
    r"|(?P<op>&&|\|\||==|!=|<=|>=|[-+*/%!<>?:()\[\].,])"
    r"|(?P<quote>['\"])"
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"'}


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # num, str, ident, op, end
    value: object
    pos: int


def _read_string(text: str, start: int) -> tuple[str, int]:
    """Read a quoted literal starting at `start`; returns (value, index after the quote)."""
    quote, out, i = text[start], [], start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
        elif ch == quote:
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise ExpressionError(f"Unterminated string literal at position {start}")


def tokenize(body: str) -> list[Token]:
    """Split one expression body into tokens; word operators become symbols."""
    tokens: list[Token] = []
    i = 0
    while i < len(body):
        m = _TOKEN.match(body, i)
        if m is None:
            raise ExpressionError(f"Unexpected character {body[i]!r} at position {i}")
        kind = m.lastgroup
        if kind == "quote":
            value, i = _read_string(body, m.start())
            tokens.append(Token("str", value, m.start()))
            continue
        text = m.group()
        if kind == "num":
            tokens.append(Token("num", _number(text, m.start()), m.start()))
        elif kind == "ident" and text in _WORD_OPS:
            tokens.append(Token("op", _WORD_OPS[text], m.start()))
        elif kind in ("ident", "op"):
            tokens.append(Token(kind, text, m.start()))
        i = m.end()
    tokens.append(Token("end", None, len(body)))
    return tokens


def _number(text: str, pos: int) -> int | float:
    """A number literal; one Python cannot hold (1e999, 5,000 digits) is a syntax error, not infinity or a crash."""
    if not any(c in text for c in ".eE"):
        if len(text) > INT_TEXT_DIGITS:
            raise ExpressionError(f"Number at position {pos} has {len(text):,} digits; at most "
                                  f"{INT_TEXT_DIGITS:,} are allowed")
        return int(text)
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ExpressionError(f"Number at position {pos} is too large")
    return value


class _Parser:
    """Recursive descent over JUEL's grammar, lowest precedence first."""

    def __init__(self, body: str) -> None:
        self.tokens = tokenize(body)
        self.i = 0
        self.names: set[str] = set()
        self.nesting = 0

    def nested(self) -> None:
        """One level deeper (parentheses, a bracket, a prefix operator); refused past MAX_NESTING."""
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise ExpressionError(f"Expression is nested too deeply (more than {MAX_NESTING} levels)")

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def accept(self, *ops: str) -> str | None:
        tok = self.peek()
        if tok.kind == "op" and tok.value in ops:
            self.i += 1
            return str(tok.value)
        return None

    def expect(self, op: str) -> None:
        if self.accept(op) is None:
            self.fail(f"expected '{op}'")

    def fail(self, reason: str) -> None:
        tok = self.peek()
        found = "end of expression" if tok.kind == "end" else repr(tok.value)
        raise ExpressionError(f"Syntax error at position {tok.pos}: {reason}, found {found}")

    def parse(self) -> ast.expr:
        if self.peek().kind == "end":
            raise ExpressionError("Empty expression")
        node = self.choice()
        if self.peek().kind != "end":
            self.fail("unexpected token")
        return node

    def choice(self) -> ast.expr:
        self.nested()
        test = self.or_()
        if self.accept("?") is None:
            self.nesting -= 1
            return test
        body = self.choice()
        self.expect(":")
        node = ast.IfExp(test=test, body=body, orelse=self.choice())
        self.nesting -= 1
        return node

    def or_(self) -> ast.expr:
        node = self.and_()
        while self.accept("||"):
            node = ast.BoolOp(op=ast.Or(), values=[node, self.and_()])
        return node

    def and_(self) -> ast.expr:
        node = self.equality()
        while self.accept("&&"):
            node = ast.BoolOp(op=ast.And(), values=[node, self.equality()])
        return node

    def equality(self) -> ast.expr:
        node = self.relational()
        while op := self.accept("==", "!="):
            node = ast.Compare(left=node, ops=[_COMPARE[op]()], comparators=[self.relational()])
        return node

    def relational(self) -> ast.expr:
        node = self.additive()
        while op := self.accept("<", ">", "<=", ">="):
            node = ast.Compare(left=node, ops=[_COMPARE[op]()], comparators=[self.additive()])
        return node

    def additive(self) -> ast.expr:
        node = self.multiplicative()
        while op := self.accept("+", "-"):
            node = ast.BinOp(left=node, op=_ARITH[op](), right=self.multiplicative())
        return node

    def multiplicative(self) -> ast.expr:
        node = self.unary()
        while op := self.accept("*", "/", "%"):
            node = ast.BinOp(left=node, op=_ARITH[op](), right=self.unary())
        return node

    def unary(self) -> ast.expr:
        tok = self.peek()
        prefix = tok.kind == "op" and tok.value in ("-", "!") or (tok.kind == "ident" and tok.value == EMPTY)
        if not prefix:
            return self.postfix(self.primary())
        self.i += 1
        self.nested()
        operand = self.unary()
        self.nesting -= 1
        if tok.value == "-":
            return ast.UnaryOp(op=ast.USub(), operand=operand)
        if tok.value == "!":
            return ast.UnaryOp(op=ast.Not(), operand=operand)
        return ast.Call(func=ast.Name(id=EMPTY, ctx=ast.Load()), args=[operand], keywords=[])

    def postfix(self, node: ast.expr) -> ast.expr:
        while True:
            if self.accept("."):
                name = self.identifier("a property or method name")
                if self.accept("("):
                    if name not in METHODS and name in REFLECTIVE_METHODS:
                        raise ExpressionError(f"Method '{name}' is not allowed")
                    attr = ast.Attribute(value=node, attr=name, ctx=ast.Load())
                    node = ast.Call(func=attr, args=self.arguments(), keywords=[])
                else:
                    node = ast.Subscript(value=node, slice=ast.Constant(name), ctx=ast.Load())
            elif self.accept("["):
                index = self.choice()
                self.expect("]")
                node = ast.Subscript(value=node, slice=index, ctx=ast.Load())
            else:
                return node

    def arguments(self) -> list[ast.expr]:
        args: list[ast.expr] = []
        if self.accept(")"):
            return args
        while True:
            args.append(self.choice())
            if self.accept(")"):
                return args
            self.expect(",")

    def identifier(self, what: str) -> str:
        tok = self.peek()
        if tok.kind != "ident" or tok.value in _KEYWORDS:
            self.fail(f"expected {what}")
        name = str(tok.value)
        if name.startswith("__"):
            raise ExpressionError(f"Forbidden name '{name}'")
        self.i += 1
        return name

    def primary(self) -> ast.expr:
        tok = self.peek()
        if tok.kind in ("num", "str"):
            self.i += 1
            literal: Any = tok.value  # a number or a text: the tokenizer made it
            return ast.Constant(literal)
        if self.accept("("):
            node = self.choice()
            self.expect(")")
            return node
        if tok.kind == "ident" and tok.value in ("true", "false", "null"):
            self.i += 1
            return ast.Constant({"true": True, "false": False, "null": None}[str(tok.value)])
        if tok.kind == "ident" and tok.value == "instanceof":
            raise ExpressionError("'instanceof' is not supported")
        name = self.identifier("a value")
        if self.accept("("):
            if name not in FUNCTIONS:
                raise ExpressionError(f"Unknown function '{name}'")
            return ast.Call(func=ast.Name(id=name, ctx=ast.Load()), args=self.arguments(), keywords=[])
        if name != EXECUTION:
            self.names.add(name)
        return ast.Name(id=name, ctx=ast.Load())


def parse_expression(body: str) -> tuple[ast.expr, frozenset[str]]:
    """Parse one `${...}` body; returns the AST and the top-level variable names."""
    parser = _Parser(body)
    try:
        node = parser.parse()
    except RecursionError:
        raise ExpressionError("Expression is nested too deeply") from None
    if _depth(node) > MAX_DEPTH:
        raise ExpressionError(f"Expression is nested too deeply (more than {MAX_DEPTH} levels of operators)")
    return node, frozenset(parser.names)


def _depth(tree: ast.AST) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _find_close(text: str, start: int) -> int:
    """Index of the `}` ending the expression body that starts at `start`."""
    i = start
    while i < len(text):
        ch = text[i]
        if ch in "'\"":
            _, i = _read_string(text, i)
            continue
        if ch == "}":
            return i
        i += 1
    raise ExpressionError(f"Unterminated expression starting at position {start - 2}, missing '}}'")


Part = str | tuple[str, ast.expr]
"""A template piece: literal text, or (expression source, parsed AST)."""


def split_template(text: str) -> tuple[list[Part], frozenset[str]]:
    """Split text into literal and expression parts; `\\${` and `\\#{` stay literal."""
    parts: list[Part] = []
    names: set[str] = set()
    literal: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and text[i + 1:i + 3] in ("${", "#{"):
            literal.append(text[i + 1:i + 3])
            i += 3
        elif ch in "$#" and text[i + 1:i + 2] == "{":
            end = len(text) - 1
            try:
                end = _find_close(text, i + 2)
                node, found = parse_expression(text[i + 2:end])
            except ExpressionError as exc:
                raise ExpressionError(f"{exc} in {shorten(text[i:end + 1])!r}") from None
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append((text[i:end + 1], node))
            names |= found
            i = end + 1
        else:
            literal.append(ch)
            i += 1
    if literal:
        parts.append("".join(literal))
    return parts, frozenset(names)
