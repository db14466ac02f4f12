"""Tokenizer and recursive-descent parser for the FEEL subset; produces a tuple AST.

Kept apart from evaluation so `feel.py` only deals with turning trees into closures.
AST nodes are plain tuples tagged by their first item:

    ("lit", value)                      ("name", ident)          ("input",)  # the `?` symbol
    ("prop", node, ident)               ("neg", node)            ("not", node)
    ("arith", op, left, right)          ("cmp", op, left, right)
    ("and", left, right)                ("or", left, right)      ("if", cond, then, else)
    ("call", function, [args])          ("list", [items])
    ("range", low, high, low_closed, high_closed)
"""

from __future__ import annotations

import re
from typing import Any, NoReturn

from engine.camunda.bounds import INT_TEXT_DIGITS
from engine.errors import ExpressionError

Node = tuple[Any, ...]
MAX_NESTING = 50
"""Deepest nesting of parentheses, brackets, calls and prefix operators in one text."""

_TOKEN = re.compile(
    r"""\s*(?:
      (?P<range>\.\.)
    | (?P<num>\d+(?:\.\d+)?|\.\d+)
    | (?P<str>"(?:[^"\\]|\\.)*")
    | (?P<name>date\s+and\s+time(?=\s*\()|[^\W\d]\w*)
    | (?P<op><=|>=|!=|[-+*/<>=(),.\[\]?])
    )""",
    re.VERBOSE,
)
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "'": "'"}
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)")
COMPARISONS = frozenset({"<", "<=", ">", ">=", "=", "!="})
FUNCTIONS = frozenset({"date", "date and time", "time", "duration", "not", "string", "number"})
_KEYWORDS = frozenset({"and", "or", "if", "then", "else", "true", "false", "null"})


def _unescape(body: str) -> str:
    """Resolve FEEL string escapes (`\\"`, `\\n`, `\\uXXXX`)."""

    def repl(m: re.Match[str]) -> str:
        code = m.group(1)
        if code.startswith("u") and len(code) == 5:
            return chr(int(code[1:], 16))
        return _ESCAPES.get(code, code)

    return _ESCAPE.sub(repl, body)


def tokenize(text: str) -> list[tuple[str, Any, int]]:
    """Split text into (kind, value, position) tokens, ending with an ("end", None, n) token."""
    tokens: list[tuple[str, Any, int]] = []
    pos, size = 0, len(text)
    while True:
        while pos < size and text[pos].isspace():
            pos += 1
        if pos >= size:
            tokens.append(("end", None, pos))
            return tokens
        m = _TOKEN.match(text, pos)
        if m is None or m.lastgroup is None:
            if text[pos] == '"':
                raise ExpressionError(f"unterminated string starting at position {pos + 1}")
            raise ExpressionError(f"unexpected character {text[pos]!r} at position {pos + 1}")
        kind, raw = m.lastgroup, m.group(m.lastgroup)
        start = m.start(kind)
        if kind == "num":
            tokens.append(("num", _number(raw, start), start))
        elif kind == "str":
            tokens.append(("str", _unescape(raw[1:-1]), start))
        elif kind == "name":
            tokens.append(("name", " ".join(raw.split()), start))
        else:
            tokens.append(("op", raw, start))
        pos = m.end()


def _number(raw: str, start: int) -> int | float:
    """A number literal Python can hold: not 5,000 digits, not one that would be infinity."""
    if len(raw) > INT_TEXT_DIGITS:
        raise ExpressionError(f"number at position {start + 1} has {len(raw):,} digits; at most "
                              f"{INT_TEXT_DIGITS:,} are allowed")
    if "." not in raw:
        return int(raw)
    value = float(raw)
    if value == float("inf"):
        raise ExpressionError(f"number at position {start + 1} is too large")
    return value


class Parser:
    """Recursive descent over the token list; one instance per text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.nesting = 0

    def nested(self, step: int) -> None:
        """Go one level deeper (step 1) or back (step -1); refused past MAX_NESTING, before Python's stack runs out."""
        self.nesting += step
        if self.nesting > MAX_NESTING:
            raise ExpressionError(f"expression is nested too deeply (more than {MAX_NESTING} levels)")

    # -- token helpers -------------------------------------------------------------------
    def peek(self, offset: int = 0) -> tuple[str, Any, int]:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def at(self, kind: str, value: Any = None, offset: int = 0) -> bool:
        tok = self.peek(offset)
        return tok[0] == kind and (value is None or tok[1] == value)

    def at_op(self, *values: str) -> bool:
        tok = self.tokens[self.i]
        return tok[0] in ("op", "range") and tok[1] in values

    def take(self) -> tuple[str, Any, int]:
        tok = self.tokens[self.i]
        if tok[0] != "end":
            self.i += 1
        return tok

    def expect(self, *values: str) -> str:
        if not self.at_op(*values):
            self.fail(f"expected {' or '.join(repr(v) for v in values)}")
        return self.take()[1]

    def fail(self, what: str) -> NoReturn:
        kind, value, pos = self.peek()
        found = "end of text" if kind == "end" else repr(value if kind != "str" else f'"{value}"')
        raise ExpressionError(f"{what}, found {found} at position {pos + 1}")

    def expect_end(self) -> None:
        if not self.at("end"):
            self.fail("unexpected text")

    # -- grammar -------------------------------------------------------------------------
    def expression(self) -> Node:
        self.nested(1)
        if self.at("name", "if"):
            self.take()
            cond = self.expression()
            self.expect_keyword("then")
            then = self.expression()
            self.expect_keyword("else")
            node: Node = ("if", cond, then, self.expression())
        else:
            node = self.disjunction()
        self.nested(-1)
        return node

    def expect_keyword(self, word: str) -> None:
        if not self.at("name", word):
            self.fail(f"expected '{word}'")
        self.take()

    def disjunction(self) -> Node:
        node = self.conjunction()
        while self.at("name", "or"):
            self.take()
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self) -> Node:
        node = self.comparison()
        while self.at("name", "and"):
            self.take()
            node = ("and", node, self.comparison())
        return node

    def comparison(self) -> Node:
        node = self.additive()
        if self.at_op(*COMPARISONS):
            op = self.take()[1]
            node = ("cmp", op, node, self.additive())
        return node

    def additive(self) -> Node:
        node = self.multiplicative()
        while self.at_op("+", "-"):
            op = self.take()[1]
            node = ("arith", op, node, self.multiplicative())
        return node

    def multiplicative(self) -> Node:
        node = self.unary()
        while self.at_op("*", "/"):
            op = self.take()[1]
            node = ("arith", op, node, self.unary())
        return node

    def unary(self) -> Node:
        if self.at_op("-"):
            self.take()
            self.nested(1)
            operand = self.unary()
            self.nested(-1)
            if operand[0] == "lit" and type(operand[1]) in (int, float):
                return ("lit", -operand[1])
            return ("neg", operand)
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        while self.at_op("."):
            self.take()
            if not self.at("name"):
                self.fail("expected a property name after '.'")
            node = ("prop", node, self.take()[1])
        return node

    def primary(self) -> Node:
        kind, value, _ = self.peek()
        if kind in ("num", "str"):
            self.take()
            return ("lit", value)
        if kind == "name":
            return self.name_or_call()
        if kind == "op":
            if value == "?":
                self.take()
                return ("input",)
            if value == "(":
                self.take()
                inner = self.expression()
                if self.at_op(".."):
                    return self.range_rest(inner, low_closed=False)
                self.expect(")")
                return inner
            if value == "[":
                return self.list_or_range()
            if value == "]":
                self.take()
                return self.range_rest(self.endpoint(), low_closed=False)
        self.fail("expected a value")

    def name_or_call(self) -> Node:
        name = self.take()[1]
        if name in ("true", "false"):
            return ("lit", name == "true")
        if name == "null":
            return ("lit", None)
        if name in _KEYWORDS:
            self.i -= 1
            self.fail("expected a value")
        if not self.at_op("("):
            return ("name", name)
        if name not in FUNCTIONS:
            raise ExpressionError(f"unknown function '{name}'")
        self.take()
        args: list[Node] = []
        if not self.at_op(")"):
            args.append(self.expression())
            while self.at_op(","):
                self.take()
                args.append(self.expression())
        self.expect(")")
        if name == "not":
            if len(args) != 1:
                raise ExpressionError("not() takes exactly one argument in an expression")
            return ("not", args[0])
        return ("call", name, args)

    def list_or_range(self) -> Node:
        self.take()  # '['
        if self.at_op("]"):
            self.take()
            return ("list", [])
        first = self.expression()
        if self.at_op(".."):
            return self.range_rest(first, low_closed=True)
        items = [first]
        while self.at_op(","):
            self.take()
            items.append(self.expression())
        self.expect("]")
        return ("list", items)

    def endpoint(self) -> Node:
        """A range endpoint or the operand of a unary comparison (`< limit * 2`)."""
        return self.additive()

    def range_rest(self, low: Node, low_closed: bool) -> Node:
        self.expect("..")
        high = self.endpoint()
        close = self.expect("]", ")", "[")
        return ("range", low, high, low_closed, close == "]")
