"""Camunda JUEL expressions (`${...}` / `#{...}`) evaluated safely.

Camunda Modeler files put JUEL in conditions, assignees, due dates, collections and
input/output mappings. We parse each text once (cached) into Python AST nodes
(`juel_syntax`) and evaluate them with a node table of our own
(`juel_runtime`): no eval/exec, no attribute access, only whitelisted methods.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from engine.camunda import bounds
from engine.camunda.juel_runtime import run
from engine.camunda.juel_syntax import split_template
from engine.camunda.juel_values import export, to_text
from engine.clock import utcnow
from engine.errors import ExpressionError

__all__ = ["JuelExpression", "compile_juel", "is_juel"]

_EXPRESSION = re.compile(r"[$#]\{[^}]*\}")


def is_juel(text: str | None) -> bool:
    """True if the text contains a `${...}` or `#{...}` expression."""
    return text is not None and _EXPRESSION.search(text) is not None


class JuelExpression:
    """A compiled JUEL text: literal text, one whole expression, or composite text.

    Whitespace around a single expression is ignored, so a condition written as
    "\\n  ${approved}\\n" in the XML still yields the boolean, not a string.
    """

    __slots__ = ("_names", "_parts", "_whole", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        parts, self._names = split_template(source)
        self._whole: ast.expr | None = None
        expressions = [p for p in parts if not isinstance(p, str)]
        if len(expressions) == 1 and all(isinstance(p, str) and not p.strip() for p in parts
                                         if p is not expressions[0]):
            self._whole = expressions[0][1]
        self._parts = tuple(p if isinstance(p, str) else p[1] for p in parts)

    def evaluate(self, variables: Mapping[str, Any], now: datetime | None = None) -> Any:
        """Evaluate against the variables; `now` pins `now()`/`dateTime()` (naive = UTC)."""
        if self._whole is not None:
            return export(run(self._whole, variables, now))
        if now is None:  # one clock for all parts of a composite text
            now = utcnow()
        try:
            return bounds.join("", [p if isinstance(p, str) else to_text(run(p, variables, now)) for p in self._parts])
        except ValueError as exc:  # a number too long to write as text
            raise ExpressionError(bounds.readable(exc)) from None

    def names(self) -> set[str]:
        """Top-level variable names the expression reads (not `execution`, not functions)."""
        return set(self._names)

    @property
    def is_literal(self) -> bool:
        """True when the text holds no expression at all."""
        return all(isinstance(p, str) for p in self._parts)

    def __repr__(self) -> str:
        return f"JuelExpression({self.source!r})"


@lru_cache(maxsize=4096)
def compile_juel(text: str) -> JuelExpression:
    """Parse once per distinct text; raises ExpressionError with the reason on bad syntax."""
    return JuelExpression(text)
