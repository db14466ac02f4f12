"""Python expressions (simpleeval) and Python scripts (asteval) run in a sandbox.

SpiffWorkflow-style diagrams carry plain Python: gateway conditions such as
`amount > 1000` and script tasks. Diagram authors are not trusted with the host, so
nothing here uses eval/exec: expressions go through simpleeval and scripts through a
stripped-down asteval interpreter, with only the helper names listed in `HELPERS`.

Every operation that can build something much larger than its operands is checked
before it runs (`bounds`); an expression also has a wall-clock deadline and a total of
what it may build. A script runs in a child process (`script_process`) under a memory
ceiling and is killed when it overruns its time: the limit one operation cannot bypass.
Constant operations over a limit are refused when the diagram is checked.
"""

from __future__ import annotations

import ast
import copy
import inspect
import re
import threading
import time
import types
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from asteval import Interpreter
from asteval.astutils import Procedure, op2func, safe_format
from simpleeval import (
    DEFAULT_OPERATORS,
    DISALLOW_FUNCTIONS,
    EvalWithCompoundTypes,
    FeatureNotAvailable,
    FunctionNotDefined,
    InvalidExpression,
    NameNotDefined,
)

from engine.camunda import bounds
from engine.camunda.bounds import LimitExceeded
from engine.camunda.static_checks import constant_problem, nodes_of, static_problem, syntax_reason
from engine.clock import utcnow
from engine.errors import ExpressionError

__all__ = ["check_python_expression", "check_script", "evaluate_python", "execute_script", "run_script"]

MAX_STEPS = 250_000
"""AST nodes a script may evaluate (about 1.5 s); stops endless loops and runaway recursion."""
MAX_SECONDS = 2.0
"""Wall-clock budget of one expression or script; a script's process is killed a second after it."""

HELPERS: dict[str, Any] = {
    "len": len, "str": str, "int": int, "float": float, "bool": bool, "round": round,
    "min": min, "max": max, "sum": sum, "abs": abs, "sorted": sorted, "list": list,
    "dict": dict, "set": set, "tuple": tuple, "range": bounds.bounded_range, "any": any, "all": all,
    "enumerate": enumerate, "zip": zip,
    "datetime": datetime, "timedelta": timedelta, "timezone": timezone, "now": utcnow,
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
    return bounds.readable(exc)


_FRESH = frozenset({ast.Call, ast.BinOp, ast.Subscript, ast.List, ast.Tuple, ast.Dict, ast.Set, ast.JoinedStr,
                    ast.ListComp, ast.DictComp, ast.SetComp, ast.GeneratorExp})
"""Nodes whose value is usually newly built: their size counts against the expression's total."""
_SCALARS = frozenset({bool, int, float, type(None)})


class _Evaluator(EvalWithCompoundTypes):
    """simpleeval with checked operators and calls, a deadline, and a total of what an expression builds."""

    budget = bounds.Budget(MAX_SECONDS)  # replaced by each evaluation

    def _eval(self, node: ast.AST) -> Any:
        budget = self.budget
        budget.ticks += 1
        if not budget.ticks & 63:
            budget.check_clock()
        handler = self.nodes.get(type(node))
        if handler is None:
            raise FeatureNotAvailable(f"Sorry, {type(node).__name__} is not available in this evaluator")
        result = handler(node)
        if type(result) in _SCALARS:
            return result
        # simpleeval walks every container result looking for forbidden functions: 10^10 steps for a
        # list that holds one long list 100,000 times. Variables hold data and the helpers are ours,
        # so a shallow look is enough.
        if isinstance(result, types.ModuleType) or (callable(result) and _forbidden(result)):
            raise FeatureNotAvailable("This function is forbidden")
        if type(node) in _FRESH:
            budget.charge(result)
        return result

    def _eval_call(self, node: ast.Call) -> Any:
        if isinstance(node.func, ast.Attribute):
            func = self._eval(node.func)
        elif isinstance(node.func, ast.Name):
            try:
                func = self.functions[node.func.id]
            except KeyError:
                raise FunctionNotDefined(node.func.id, self.expr) from None
        else:
            raise FeatureNotAvailable("Lambda Functions not implemented")
        if _forbidden(func):
            raise FeatureNotAvailable("This function is forbidden")
        args = tuple(self._eval(a) for a in node.args)
        kwargs = dict(self._eval(k) for k in node.keywords)
        return bounds.call(func, args, kwargs)

    def _eval_formattedvalue(self, node: ast.FormattedValue) -> Any:
        value = self._eval(node.value)
        if node.format_spec:
            spec = self._eval(node.format_spec)
            bounds.formatted(value, spec)
            return format(value, spec)
        return value

    def _eval_joinedstr(self, node: ast.JoinedStr) -> str:
        parts = [bounds.to_text(self._eval(n)) for n in node.values]
        return bounds.join("", parts)


def _forbidden(func: Any) -> bool:
    try:
        return func in DISALLOW_FUNCTIONS
    except TypeError:
        return False


_OPERATORS = {**DEFAULT_OPERATORS, **bounds.BINARY}


@lru_cache(maxsize=4096)
def _parse_expression(expression: str) -> ast.expr:
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        where = f" (column {exc.offset})" if exc.offset else ""
        raise ExpressionError(f"Syntax error: {syntax_reason(exc)}{where}") from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ExpressionError(f"Cannot parse expression: {bounds.readable(exc)}") from None
    nodes = nodes_of(tree)
    supported = _evaluator().nodes
    for node in nodes:
        problem = static_problem(node)
        if problem is None and isinstance(node, ast.expr) and type(node) not in supported \
                and not isinstance(node, ast.Starred):
            problem = f"{type(node).__name__} is not allowed in an expression"
        if problem:
            raise ExpressionError(problem)
    found = constant_problem(nodes)
    if found:
        raise LimitExceeded(found[1])
    return tree.body


_local = threading.local()


def _evaluator() -> _Evaluator:
    """One simpleeval instance per thread; only `names` changes between calls."""
    evaluator = getattr(_local, "evaluator", None)
    if evaluator is None:
        evaluator = _Evaluator(operators=dict(_OPERATORS), functions=dict(HELPERS), names={})
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
    """Evaluate one Python expression against the variables (parsed once, cached), within the bounds."""
    node = _parse_expression(expression)
    evaluator = _evaluator()
    saved = evaluator.names
    evaluator.names = _Names(variables)
    evaluator.budget = bounds.Budget(MAX_SECONDS)
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
    """Deploy-time check: syntax, dunder names, unsupported constructs, constants over a limit."""
    _parse_expression(expression)


# --------------------------------------------------------------------------- scripts

class _ScriptError(RuntimeError):
    """Raised inside the interpreter when a budget runs out."""


class _Interpreter(Interpreter):
    """asteval with a step/time budget and the same checked operators and calls as expressions."""

    def __init__(self, symtable: dict[str, Any], steps: int, seconds: float) -> None:
        self._steps = 0
        self._max_steps = steps
        self._seconds = seconds
        self._deadline = time.monotonic() + seconds
        super().__init__(symtable=symtable, use_numpy=False, config=_SCRIPT_CONFIG,
                         max_statement_length=200_000)
        symtable.pop("print", None)
        # asteval has no generator expressions; `sum(x for x in items)` is common in
        # scripts, and a list is an adequate stand-in for one inside a step budget
        self.node_handlers["generatorexp"] = self.on_listcomp

    def run(self, node: Any, expr: Any = None, lineno: Any = None, with_raise: bool = True) -> Any:
        self._steps += 1
        if self._steps >= self._max_steps:
            self.raise_exception(node, exc=_ScriptError,
                                 msg=f"script exceeded {self._max_steps} steps (endless loop?)")
        if not self._steps & 63 and time.monotonic() > self._deadline:
            self.raise_exception(node, exc=_ScriptError, msg=f"script exceeded {self._seconds:g} seconds")
        return super().run(node, expr=expr, lineno=lineno, with_raise=with_raise)

    def on_binop(self, node: ast.BinOp) -> Any:
        left, right = self.run(node.left), self.run(node.right)
        return bounds.binary(type(node.op), left, right, op2func(node.op))

    def on_attribute(self, node: ast.Attribute) -> Any:
        if node.attr.startswith("_"):
            self.raise_exception(node, exc=AttributeError,
                                 msg=f"access to attribute '{node.attr}' is not allowed")
        return super().on_attribute(node)

    def on_formattedvalue(self, node: ast.FormattedValue) -> Any:
        value = self.run(node.value)
        converters: dict[int, Callable[[Any], str]] = {115: str, 114: repr, 97: ascii}
        if node.conversion in converters:
            bounds.to_text(value)
            value = converters[node.conversion](value)
        spec = self.run(node.format_spec) if node.format_spec is not None else ""
        bounds.formatted(value, spec)
        return safe_format(f"{{__fstring__:{spec}}}" if spec else "{__fstring__}", self.raise_exception, node,
                           __fstring__=value)

    def on_joinedstr(self, node: ast.JoinedStr) -> str:
        return bounds.join("", [self.run(k) for k in node.values])

    def on_call(self, node: ast.Call) -> Any:
        """asteval's call, with checked builtins and methods, and messages that never print the arguments."""
        func = self.run(node.func)
        if not callable(func):
            self.raise_exception(node, exc=TypeError, msg=f"'{type(func).__name__}' object is not callable")
        args = [self.run(arg) for arg in node.args]
        keywords: dict[str, Any] = {}
        for key in node.keywords:
            if key.arg is None:
                keywords.update(self.run(key.value))
            elif key.arg in keywords:
                self.raise_exception(node, exc=SyntaxError, msg=f"keyword argument repeated: {key.arg}")
            else:
                keywords[key.arg] = self.run(key.value)
        if isinstance(func, Procedure):
            self._calldepth += 1
        try:
            return bounds.call(func, tuple(args), keywords)
        except Exception as exc:  # noqa: BLE001 - recorded as the script's error, as asteval does
            self.raise_exception(node, exc=type(exc), msg=bounds.explain(exc))
        finally:
            if isinstance(func, Procedure):
                self._calldepth -= 1
        return None


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
        raise ExpressionError(f"Line {exc.lineno}: syntax error: {syntax_reason(exc)}") from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ExpressionError(f"Cannot parse script: {bounds.readable(exc)}") from None
    nodes = nodes_of(tree)
    for node in nodes:
        problem = None
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            problem = "import is not allowed"
        elif isinstance(node, _FORBIDDEN_STATEMENTS):
            problem = f"{type(node).__name__} is not allowed in a script"
        else:
            problem = static_problem(node)
        if problem:
            raise ExpressionError(f"Line {getattr(node, 'lineno', '?')}: {problem}")
    found = constant_problem(nodes)
    if found:
        raise LimitExceeded(f"Line {getattr(found[0], 'lineno', '?')}: {found[1]}")
    return tree


def check_script(script: str) -> None:
    """Deploy-time check: syntax plus imports, dunders, disabled statements and constants over a limit."""
    _parse_script(script)


_CALL_PREFIX = re.compile(r"^Error running function '\w+' with args .*? and kwargs .*?: ", re.DOTALL)


def _script_error(interp: _Interpreter, exc: Exception) -> ExpressionError:
    """The first recorded error is the root cause; asteval repeats it per enclosing node."""
    if interp.error:
        first = interp.error[0]
        if first.exc is not None and issubclass(first.exc, MemoryError):
            return bounds.OutOfMemory(f"Line {first.lineno}: script ran out of memory")
        quiet = first.exc is None or issubclass(first.exc, (_ScriptError, ExpressionError))
        name = None if quiet else first.exc.__name__
        msg = _CALL_PREFIX.sub("", str(first.msg or exc))
        line = first.lineno if first.lineno is not None else "?"
        kind = LimitExceeded if first.exc is not None and issubclass(first.exc, (_ScriptError, LimitExceeded)) \
            else ExpressionError
        return kind(f"Line {line}: {name + ': ' if name else ''}{msg}")
    return ExpressionError(bounds.readable(exc))


def run_script(script: str, variables: dict[str, Any], steps: int = MAX_STEPS,
               seconds: float = MAX_SECONDS) -> dict[str, Any]:
    """Run a script here, in this process, against a deep copy of the variables; returns the resulting variables.

    `execute_script` calls this in a child process; the input dict is never modified, so a
    failing script leaves task data untouched. Helper names, functions defined by the script
    and other callables are not returned.
    """
    tree = _parse_script(script)
    inputs = copy.deepcopy(dict(variables))
    symtable: dict[str, Any] = {**HELPERS, **_CONSTANTS, **inputs}
    interp = _Interpreter(symtable, steps, seconds)
    try:
        interp.run(tree, expr=script, lineno=0, with_raise=True)
    except RecursionError:
        raise ExpressionError("Script recursion is too deep") from None
    except MemoryError:
        raise bounds.OutOfMemory("script ran out of memory") from None
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


def execute_script(script: str, variables: dict[str, Any]) -> dict[str, Any]:
    """Run a script in a child process with a memory ceiling and a wall-clock kill; returns the resulting variables."""
    from engine.camunda import script_process

    _parse_script(script)  # refuse what can be refused without a round trip
    return script_process.run(script, variables, steps=MAX_STEPS, seconds=MAX_SECONDS)


_MISSING = object()
_BASE = {**HELPERS, **_CONSTANTS}


def _is_code(value: Any, key: str, inputs: dict[str, Any]) -> bool:
    """Functions, classes and modules are interpreter state, not case data."""
    if key in inputs and inputs[key] is value:
        return False
    return isinstance(value, Procedure) or callable(value) or inspect.ismodule(value)
