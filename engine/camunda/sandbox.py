"""Python expressions (simpleeval) and Python scripts (asteval) run in a sandbox.

SpiffWorkflow-style diagrams carry plain Python: gateway conditions such as
`amount > 1000` and script tasks. Diagram authors are not trusted with the host, so
nothing here uses eval/exec: expressions go through simpleeval and scripts through a
stripped-down asteval interpreter with a step and time budget, bounded ranges and
bounded sequence growth, and only the helper names listed in `HELPERS`.
"""

from __future__ import annotations

import ast
import copy
import inspect
import re
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from asteval import Interpreter
from asteval.astutils import Procedure, op2func
from simpleeval import (
    DEFAULT_OPERATORS,
    EvalWithCompoundTypes,
    FunctionNotDefined,
    InvalidExpression,
    NameNotDefined,
)

from engine.errors import ExpressionError

__all__ = ["check_python_expression", "check_script", "evaluate_python", "execute_script"]

MAX_STEPS = 250_000
"""AST nodes a script may evaluate (about 1.5 s); stops endless loops and runaway recursion."""
MAX_SECONDS = 2.0
"""Wall-clock budget of one script run, checked every 1000 steps."""
MAX_RANGE = 1_000_000
"""Largest range() a script or expression may create."""
MAX_SEQUENCE = 1_000_000
"""Largest list/tuple/str a script may build with `+` or `*`."""


def _now() -> datetime:
    return datetime.now(UTC)


def _range(*args: int) -> range:
    result = range(*args)
    if len(result) > MAX_RANGE:
        raise ValueError(f"range() of {len(result)} items exceeds the limit of {MAX_RANGE}")
    return result


_range.__name__ = "range"

HELPERS: dict[str, Any] = {
    "len": len, "str": str, "int": int, "float": float, "bool": bool, "round": round,
    "min": min, "max": max, "sum": sum, "abs": abs, "sorted": sorted, "list": list,
    "dict": dict, "set": set, "tuple": tuple, "range": _range, "any": any, "all": all,
    "enumerate": enumerate, "zip": zip,
    "datetime": datetime, "timedelta": timedelta, "timezone": timezone, "now": _now,
}
"""The only global names an expression or a script can see besides the variables."""

_CONSTANTS = {"True": True, "False": False, "None": None}
_SCRIPT_CONFIG = {
    # statements a script may use; everything that reaches outside or can swallow the
    # step-limit error (import, with, try, raise) is off
    "import": False, "importfrom": False, "with": False, "try": False, "raise": False,
    "print": False, "assert": True, "augassign": True, "delete": True, "if": True,
    "ifexp": True, "for": True, "while": True, "functiondef": True, "lambda": True,
    "listcomp": True, "dictcomp": True, "setcomp": True, "formattedvalue": True,
}


# --------------------------------------------------------------------------- expressions

def _reason(exc: Exception) -> str:
    if isinstance(exc, NameNotDefined):
        return f"Unknown variable '{exc.name}'"
    if isinstance(exc, FunctionNotDefined):
        return f"Unknown function '{exc.func_name}'"
    if isinstance(exc, InvalidExpression):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _static_problem(node: ast.AST) -> str | None:
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
    text = "".join(p.value for p in parts)  # type: ignore[attr-defined]
    if any(int(digits) > MAX_SEQUENCE for digits in re.findall(r"\d+", text)):
        return f"format width above {MAX_SEQUENCE} is not allowed"
    return None


_PADDING = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})
_GROWING = frozenset({"extend", "update"})


def _guard(value: Any) -> Any:
    """Wrap bound methods that can build a huge string or collection in one call."""
    owner = getattr(value, "__self__", None)
    name = getattr(value, "__name__", None)
    padding = name in _PADDING and isinstance(owner, (str, bytes))
    growing = name in _GROWING and isinstance(owner, (list, set, dict))
    if not (padding or growing):
        return value

    def guarded(*args: Any, **kwargs: Any) -> Any:
        if padding:
            size = max([a for a in args if isinstance(a, int)], default=0)
        else:
            size = len(owner) + sum(len(a) for a in args if hasattr(a, "__len__"))
        if size > MAX_SEQUENCE:
            raise ValueError(f"{name}() to {size} items exceeds the limit of {MAX_SEQUENCE}")
        return value(*args, **kwargs)

    return guarded


class _Evaluator(EvalWithCompoundTypes):
    """simpleeval with the same growth guards as scripts."""

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        return _guard(super()._eval_attribute(node))


@lru_cache(maxsize=4096)
def _parse_expression(expression: str) -> ast.expr:
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        where = f" (column {exc.offset})" if exc.offset else ""
        raise ExpressionError(f"Syntax error: {exc.msg}{where}") from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ExpressionError(f"Cannot parse expression: {type(exc).__name__}") from None
    supported = _evaluator().nodes
    for node in ast.walk(tree):
        problem = _static_problem(node)
        if problem is None and isinstance(node, ast.expr) and type(node) not in supported \
                and not isinstance(node, ast.Starred):
            problem = f"{type(node).__name__} is not allowed in an expression"
        if problem:
            raise ExpressionError(problem)
    return tree.body


_local = threading.local()


def _evaluator() -> _Evaluator:
    """One simpleeval instance per thread; only `names` changes between calls."""
    evaluator = getattr(_local, "evaluator", None)
    if evaluator is None:
        evaluator = _Evaluator(
            operators=dict(DEFAULT_OPERATORS), functions=dict(HELPERS), names={})
        _local.evaluator = evaluator
    return evaluator


class _Names(dict):
    """Variables first, then True/False/None, for simpleeval's name lookup."""

    __slots__ = ("variables",)

    def __init__(self, variables: Mapping[str, Any]) -> None:
        super().__init__()
        self.variables = variables

    def __getitem__(self, key: str) -> Any:
        if key in self.variables:
            return self.variables[key]
        return _CONSTANTS[key]


def evaluate_python(expression: str, variables: Mapping[str, Any]) -> Any:
    """Evaluate one Python expression against the variables (parsed once, cached)."""
    node = _parse_expression(expression)
    evaluator = _evaluator()
    saved = evaluator.names
    evaluator.names = _Names(variables)
    try:
        return evaluator.eval(expression, previously_parsed=node)
    except ExpressionError:
        raise
    except RecursionError:
        raise ExpressionError("Expression is nested too deeply") from None
    except Exception as exc:  # noqa: BLE001 - untrusted expression: any failure is its own
        raise ExpressionError(_reason(exc)) from None
    finally:
        evaluator.names = saved


def check_python_expression(expression: str) -> None:
    """Deploy-time check: syntax, dunder names, unsupported constructs."""
    _parse_expression(expression)


# --------------------------------------------------------------------------- scripts

class _ScriptError(RuntimeError):
    """Raised inside the interpreter when a budget runs out."""


class _Interpreter(Interpreter):
    """asteval with a step/time budget and size limits on sequence arithmetic."""

    def __init__(self, symtable: dict[str, Any]) -> None:
        self._steps = 0
        self._deadline = time.monotonic() + MAX_SECONDS
        super().__init__(symtable=symtable, use_numpy=False, config=_SCRIPT_CONFIG,
                         max_statement_length=200_000)
        symtable.pop("print", None)
        # asteval has no generator expressions; `sum(x for x in items)` is common in
        # scripts, and a list is an adequate stand-in for one inside a step budget
        self.node_handlers["generatorexp"] = self.on_listcomp

    def run(self, node: Any, expr: Any = None, lineno: Any = None, with_raise: bool = True) -> Any:
        self._steps += 1
        if self._steps % 1000 == 0:
            if self._steps >= MAX_STEPS:
                self.raise_exception(node, exc=_ScriptError,
                                     msg=f"script exceeded {MAX_STEPS} steps (endless loop?)")
            if time.monotonic() > self._deadline:
                self.raise_exception(node, exc=_ScriptError,
                                     msg=f"script exceeded {MAX_SECONDS:g} seconds")
        return super().run(node, expr=expr, lineno=lineno, with_raise=with_raise)

    def on_binop(self, node: ast.BinOp) -> Any:
        left, right = self.run(node.left), self.run(node.right)
        if isinstance(node.op, (ast.Add, ast.Mult)):
            size = _result_size(node.op, left, right)
            if size > MAX_SEQUENCE:
                self.raise_exception(node, exc=_ScriptError,
                                     msg=f"result of {size} items exceeds the limit of {MAX_SEQUENCE}")
        return op2func(node.op)(left, right)

    def on_attribute(self, node: ast.Attribute) -> Any:
        if node.attr.startswith("_"):
            self.raise_exception(node, exc=AttributeError,
                                 msg=f"access to attribute '{node.attr}' is not allowed")
        return _guard(super().on_attribute(node))


def _result_size(op: ast.operator, left: Any, right: Any) -> int:
    sized = (list, tuple, str, bytes)
    if isinstance(op, ast.Add) and isinstance(left, sized) and isinstance(right, sized):
        return len(left) + len(right)
    if isinstance(op, ast.Mult):
        if isinstance(left, sized) and isinstance(right, int):
            return len(left) * right
        if isinstance(right, sized) and isinstance(left, int):
            return len(right) * left
    return 0


_FORBIDDEN_STATEMENTS = tuple(
    getattr(ast, name) for name in (
        "Global", "Nonlocal", "ClassDef", "AsyncFunctionDef", "AsyncFor", "With", "AsyncWith",
        "Try", "TryStar", "Raise", "Yield", "YieldFrom", "Await", "NamedExpr", "Match")
    if hasattr(ast, name))


@lru_cache(maxsize=1024)
def _parse_script(script: str) -> ast.Module:
    try:
        tree = ast.parse(script)
    except SyntaxError as exc:
        raise ExpressionError(f"Line {exc.lineno}: syntax error: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ExpressionError(f"Cannot parse script: {type(exc).__name__}") from None
    for node in ast.walk(tree):
        problem = None
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            problem = "import is not allowed"
        elif isinstance(node, _FORBIDDEN_STATEMENTS):
            problem = f"{type(node).__name__} is not allowed in a script"
        else:
            problem = _static_problem(node)
        if problem:
            raise ExpressionError(f"Line {getattr(node, 'lineno', '?')}: {problem}")
    return tree


def check_script(script: str) -> None:
    """Deploy-time check: syntax plus imports, dunders and disabled statements."""
    _parse_script(script)


_CALL_PREFIX = re.compile(r"^Error running function '\w+' with args .*? and kwargs .*?: ", re.DOTALL)


def _script_error(interp: _Interpreter, exc: Exception) -> ExpressionError:
    """The first recorded error is the root cause; asteval repeats it per enclosing node."""
    if interp.error:
        first = interp.error[0]
        name = first.exc.__name__ if first.exc and first.exc is not _ScriptError else None
        msg = _CALL_PREFIX.sub("", str(first.msg or exc))
        line = first.lineno if first.lineno is not None else "?"
        return ExpressionError(f"Line {line}: {name + ': ' if name else ''}{msg}")
    return ExpressionError(f"{type(exc).__name__}: {exc}")


def execute_script(script: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Run a script against a deep copy of the variables; returns the resulting variables.

    The input dict is never modified, so a failing script leaves task data untouched.
    Helper names, functions defined by the script and other callables are not returned.
    """
    tree = _parse_script(script)
    inputs = copy.deepcopy(dict(variables))
    symtable: dict[str, Any] = {**HELPERS, **_CONSTANTS, **inputs}
    interp = _Interpreter(symtable)
    try:
        interp.run(tree, expr=script, lineno=0, with_raise=True)
    except RecursionError:
        raise ExpressionError("Script recursion is too deep") from None
    except Exception as exc:  # noqa: BLE001 - untrusted script: any failure is its own
        raise _script_error(interp, exc) from None
    if interp.error:
        raise _script_error(interp, RuntimeError("script failed"))
    result: dict[str, Any] = {}
    for key, value in interp.symtable.items():
        untouched_helper = key not in inputs and _BASE.get(key, _MISSING) is value
        if not untouched_helper and not _is_code(value, key, inputs):
            result[key] = value
    return result


_MISSING = object()
_BASE = {**HELPERS, **_CONSTANTS}


def _is_code(value: Any, key: str, inputs: dict[str, Any]) -> bool:
    """Functions, classes and modules are interpreter state, not case data."""
    if key in inputs and inputs[key] is value:
        return False
    return isinstance(value, Procedure) or callable(value) or inspect.ismodule(value)
