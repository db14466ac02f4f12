"""The script engine SpiffWorkflow calls for every expression and script, made Camunda-aware and safe.

`${...}`/`#{...}` are JUEL; other conditions are Python expressions; scripts are Python run in
a sandbox. It also carries what a running case needs from its deployment: the decisions and
the clock (so timers can be fired in simulation and tests without waiting).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine

from engine.camunda import bounds, sandbox
from engine.camunda.juel import compile_juel, is_juel
from engine.clock import Clock, aware, utcnow
from engine.errors import EngineError, ExpressionError

SCRIPT_RESULT = "polku_script_result"


def _variables(task: Any, external_context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    if external_context:
        return {**task.data, **external_context}
    return task.data


def json_safe(value: Any) -> Any:
    """Dates as ISO strings, so evaluated values can be stored in the case state."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple | set):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    return value


class CamundaScriptEngine(PythonScriptEngine):
    """Evaluates JUEL and sandboxed Python; never `eval` or `exec`."""

    def __init__(self, decisions: Any = None, clock: Clock | None = None) -> None:
        super().__init__()
        self.decisions = decisions
        self.clock: Clock = clock or utcnow

    def now(self) -> datetime:
        return self.clock()

    def validate(self, expression: str) -> None:
        if is_juel(expression):
            compile_juel(expression)
        else:
            sandbox.check_python_expression(expression)

    def _fail(self, task: Any, text: str, err: Exception) -> WorkflowTaskException:
        """The failure at the task's element (ProcessError names it); long source text is cut short."""
        reason = str(err) or err.__class__.__name__
        return WorkflowTaskException(f"Error evaluating '{bounds.shorten(text)}': {reason}", task=task, exception=err)

    def evaluate(self, task: Any, expression: str, external_context: Mapping[str, Any] | None = None) -> Any:
        """A condition or expression: JUEL when it contains `${`/`#{`, otherwise Python."""
        variables = _variables(task, external_context)
        try:
            if is_juel(expression):
                return compile_juel(expression).evaluate(variables, self.now())
            return sandbox.evaluate_python(expression, variables)
        except (EngineError, ArithmeticError, TypeError, ValueError, KeyError, AttributeError) as err:
            raise self._fail(task, expression, err) from err

    def value(self, task: Any, text: str | None) -> Any:
        """A Camunda attribute value: JUEL when it contains an expression, otherwise the literal text."""
        if text is None:
            return None
        if not is_juel(text):
            return text
        try:
            return compile_juel(text).evaluate(_variables(task), self.now())
        except (EngineError, ArithmeticError, TypeError, ValueError, KeyError, AttributeError) as err:
            raise self._fail(task, text, err) from err

    def execute(self, task: Any, script: str, external_context: Mapping[str, Any] | None = None) -> bool:
        """Run a Python script task in the sandbox; its variables become the task's data."""
        try:
            result = sandbox.execute_script(script, dict(_variables(task, external_context)))
        except EngineError as err:
            raise self._fail(task, script.strip().splitlines()[0] if script.strip() else "", err) from err
        task.data.clear()
        task.data.update(result)
        return True

    def evaluate_script_value(self, task: Any, script: str) -> Any:
        """The value of a Python script used as an input/output parameter: its last expression."""
        try:
            tree = ast.parse(script.strip())
        except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
            raise self._fail(task, script, ExpressionError(bounds.readable(err))) from err
        if len(tree.body) <= 1:
            return self.evaluate(task, script.strip())
        if not isinstance(tree.body[-1], ast.Expr):
            raise self._fail(task, script, ValueError("a parameter script must end with an expression"))
        tree.body[-1] = ast.Assign(targets=[ast.Name(id=SCRIPT_RESULT, ctx=ast.Store())], value=tree.body[-1].value)
        ast.fix_missing_locations(tree)
        try:
            result = sandbox.execute_script(ast.unparse(tree), dict(task.data))
        except EngineError as err:
            raise self._fail(task, script, err) from err
        return result.get(SCRIPT_RESULT)

    def evaluate_assignment(self, task: Any, assignment: Mapping[str, str]) -> dict[str, Any]:
        """Assignee, candidates, due and follow-up dates and priority, evaluated and JSON-safe."""
        result: dict[str, Any] = {}
        for key, text in assignment.items():
            value = self.value(task, text)
            if key in ("candidateUsers", "candidateGroups"):
                if isinstance(value, str):
                    value = [v.strip() for v in value.split(",") if v.strip()]
                elif value is None:
                    value = []
                else:
                    value = [str(v) for v in value]
            elif key == "priority":
                value = self._int(task, text, value)
            elif key in ("dueDate", "followUpDate") and value is not None:
                value = self._date(task, text, value)
            elif value is not None:
                value = str(value)
            result[key] = value
        return result

    def evaluate_priority(self, task: Any, text: str | None) -> int:
        return self._int(task, text, self.value(task, text)) if text else 0

    def _int(self, task: Any, text: str | None, value: Any) -> int:
        try:
            return int(value) if value not in (None, "") else 0
        except (TypeError, ValueError) as err:
            raise self._fail(task, text or "", ValueError(f"priority must be a whole number, got {value!r}")) from err

    def _date(self, task: Any, text: str, value: Any) -> str:
        if isinstance(value, datetime):
            return json_safe(aware(value))
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC).isoformat()
        try:
            parsed = datetime.fromisoformat(str(value))
        except ValueError as err:
            raise self._fail(task, text, ValueError(f"not a date: {value!r}")) from err
        return json_safe(aware(parsed))

    def evaluate_decision(self, task: Any, decision_ref: str, mode: str | None) -> Any:
        from engine.camunda.dmn import map_decision_result

        ref = str(self.value(task, decision_ref))
        if self.decisions is None or ref not in self.decisions:
            raise WorkflowTaskException(f"decision '{ref}' is not deployed", task=task)
        try:
            return json_safe(map_decision_result(self.decisions.evaluate(ref, task.data), mode))
        except EngineError as err:
            raise self._fail(task, ref, err) from err
