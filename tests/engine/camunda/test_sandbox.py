"""Python expressions and script tasks: they compute, and they cannot reach the host."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from engine.camunda import sandbox
from engine.camunda.sandbox import (
    check_python_expression,
    check_script,
    evaluate_python,
    execute_script,
)
from engine.errors import ExpressionError

VARS = {"amount": 1500, "approved": True, "items": [1, 2, 3], "name": "ann", "order": {"id": 7}}


def script_error(script: str, variables: dict | None = None) -> str:
    with pytest.raises(ExpressionError) as info:
        execute_script(script, dict(VARS) if variables is None else variables)
    return str(info.value)


def expression_error(expression: str) -> str:
    with pytest.raises(ExpressionError) as info:
        evaluate_python(expression, VARS)
    return str(info.value)


# --------------------------------------------------------------------------- expressions

@pytest.mark.parametrize(("expression", "expected"), [
    ("amount > 1000", True),
    ("amount > 1000 and not approved", False),
    ("len(items) * 2", 6),
    ("sum(items) + max(items) - min(items)", 8),
    ("name.upper()", "ANN"),
    ("order['id']", 7),
    ("'a' in name", True),
    ("'z' not in name", True),
    ("'x' if approved else 'y'", "x"),
    ("[i * 2 for i in items if i > 1]", [4, 6]),
    ("sorted(items, reverse=True)", [3, 2, 1]),
    ("round(2.567, 1)", 2.6),
    ("abs(-3) + int('4') + float('0.5')", 7.5),
    ("str(amount) + '!'", "1500!"),
    ("any(i > 2 for i in items) and all(i > 0 for i in items)", True),
    ("list(zip(items, 'abc'))[0]", (1, "a")),
    ("dict(enumerate(items))[2]", 3),
    ("len(set(items)) + len(tuple(items))", 6),
    ("list(range(3))", [0, 1, 2]),
    ("bool('')", False),
    ("None is None", True),
    ("timedelta(days=2).days", 2),
    ("datetime(2024, 1, 2).day", 2),
    ("\n   amount > 10 \n", True),
])
def test_evaluate_python(expression: str, expected: object) -> None:
    assert evaluate_python(expression, VARS) == expected


def test_now_is_an_aware_utc_datetime() -> None:
    value = evaluate_python("now()", {})
    assert value.tzinfo is not None
    assert abs(value - datetime.now(UTC)) < timedelta(seconds=5)


def test_variables_shadow_helper_names() -> None:
    assert evaluate_python("max + 1", {"max": 41}) == 42


@pytest.mark.parametrize(("expression", "fragment"), [
    ("__import__('os')", "Forbidden name '__import__'"),
    ("().__class__.__bases__", "Forbidden name '__bases__'"),
    ("name.__class__", "Forbidden name '__class__'"),
    ("open('/etc/passwd')", "Unknown function 'open'"),
    ("eval('1')", "Unknown function 'eval'"),
    ("exec('x=1')", "Unknown function 'exec'"),
    ("getattr(name, 'upper')", "Unknown function 'getattr'"),
    ("compile('1', 'f', 'eval')", "Unknown function 'compile'"),
    ("type(name)", "Unknown function 'type'"),
    ("globals()", "Unknown function 'globals'"),
    ("name.format(1)", "not available"),
    ("name._private", "__attributes"),
    ("lambda: 1", "Lambda is not allowed"),
    ("(x := 1)", "NamedExpr is not allowed"),
    ("missing + 1", "Unknown variable 'missing'"),
    ("amount +", "Syntax error"),
    ("x = 1", "Syntax error"),
    ("import os", "Syntax error"),
    ("range(10**9)", "exceeds the limit"),
    ("'x' * 10**7", "would give 10,000,000 items, which exceeds the limit of 1,000,000"),
    ("name.center(10**9)", "center() to 1000000000 items exceeds the limit"),
    ("f'{amount:>999999999}'", "format width above 1000000 is not allowed"),
    ("1 / 0", "ZeroDivisionError"),
])
def test_evaluate_python_refuses(expression: str, fragment: str) -> None:
    assert fragment in expression_error(expression)


def test_check_python_expression() -> None:
    check_python_expression("amount > 1000 and approved")
    with pytest.raises(ExpressionError, match="Syntax error"):
        check_python_expression("amount >")
    with pytest.raises(ExpressionError, match="Forbidden name '__class__'"):
        check_python_expression("x.__class__")


def test_evaluate_python_is_thread_safe() -> None:
    failures: list[int] = []

    def work(n: int) -> None:
        for _ in range(300):
            if evaluate_python("[v * 2 for v in [n]][0]", {"n": n}) != n * 2:
                failures.append(n)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


# --------------------------------------------------------------------------- scripts

def test_script_updates_and_adds_variables() -> None:
    script = "amount = amount + 1\nitems.append(4)\ntotal = sum(items)\nlabel = f'{name}:{total}'"
    result = execute_script(script, dict(VARS))
    assert result == {**VARS, "amount": 1501, "items": [1, 2, 3, 4], "total": 10, "label": "ann:10"}


def test_script_does_not_touch_the_input() -> None:
    variables = {"items": [1], "n": 1}
    execute_script("items.append(2)\nn = 5", variables)
    assert variables == {"items": [1], "n": 1}


def test_script_statements() -> None:
    script = """
total = 0
for i in range(10):
    if i % 2 == 0:
        continue
    total += i
n = 0
while n < 3:
    n += 1
def double(x):
    return x * 2
doubled = [double(i) for i in items]
lookup = {k: v for k, v in order.items()}
unique = {i % 2 for i in items}
count = sum(1 for i in items if i > 1)
del name
"""
    result = execute_script(script, dict(VARS))
    assert result["total"] == 25
    assert result["n"] == 3
    assert result["doubled"] == [2, 4, 6]
    assert result["lookup"] == {"id": 7}
    assert result["unique"] == {0, 1}
    assert result["count"] == 2
    assert "name" not in result  # deleted by the script
    assert "double" not in result  # functions are not case data
    assert result["i"] == 9  # the for loop's variable, as in Python


def test_script_result_excludes_helpers_and_callables() -> None:
    result = execute_script("f = len\ng = lambda x: x\nlen = 3\nwhen = now()", {})
    assert set(result) == {"len", "when"}
    assert result["len"] == 3
    assert result["when"].tzinfo is not None


@pytest.mark.parametrize(("script", "fragment"), [
    ("import os", "Line 1: import is not allowed"),
    ("from os import path", "Line 1: import is not allowed"),
    ("x = 1\n__import__('os')", "Line 2: Forbidden name '__import__'"),
    ("x = ().__class__.__bases__", "Forbidden name '__bases__'"),
    ("x = name.__class__", "Forbidden name '__class__'"),
    ("def __init__(self):\n    pass", "Forbidden name '__init__'"),
    ("x = open('/etc/passwd')", "Line 1: NameError: name 'open' is not defined"),
    ("x = eval('1')", "name 'eval' is not defined"),
    ("x = exec('x=1')", "name 'exec' is not defined"),
    ("x = getattr(name, 'upper')", "name 'getattr' is not defined"),
    ("x = globals()", "name 'globals' is not defined"),
    ("x = type(1)", "name 'type' is not defined"),
    ("x = compile('1', 'f', 'exec')", "name 'compile' is not defined"),
    ("print('hi')", "name 'print' is not defined"),
    ("x = name._secret", "access to attribute '_secret' is not allowed"),
    ("now.limit = 1", "assigning or deleting attribute 'limit' is not allowed"),
    ("del order.id", "assigning or deleting attribute 'id' is not allowed"),
    ("x = name.format(1)", "no safe attribute 'format'"),
    ("try:\n    x = 1\nexcept Exception:\n    pass", "Try is not allowed"),
    ("with x:\n    pass", "With is not allowed"),
    ("raise ValueError('x')", "Raise is not allowed"),
    ("class A:\n    pass", "ClassDef is not allowed"),
    ("global x", "Global is not allowed"),
    ("x = 1\ny = missing", "Line 2: NameError: name 'missing' is not defined"),
    ("x = 1 / 0", "ZeroDivisionError: division by zero"),
    ("x = len(5)", "has no len()"),
    ("x = (", "Line 1: syntax error"),
])
def test_script_refuses(script: str, fragment: str) -> None:
    assert fragment in script_error(script)


def test_check_script() -> None:
    check_script("x = amount * 2\nif x > 3:\n    y = 1")
    with pytest.raises(ExpressionError, match="Line 2: import is not allowed"):
        check_script("x = 1\nimport os")
    with pytest.raises(ExpressionError, match="syntax error"):
        check_script("if x\n  y = 1")
    with pytest.raises(ExpressionError, match="Forbidden name '__globals__'"):
        check_script("f = len.__globals__")


def test_endless_loop_is_stopped_by_the_step_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "MAX_STEPS", 20_000)
    assert "script exceeded 20000 steps" in script_error("x = 0\nwhile True:\n    x += 1")


def test_endless_loop_is_stopped_by_the_time_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "MAX_STEPS", 10**9)
    monkeypatch.setattr(sandbox, "MAX_SECONDS", 0.05)
    assert "script exceeded 0.05 seconds" in script_error("while True:\n    pass")


def test_runaway_recursion_is_an_expression_error() -> None:
    message = script_error("def f(n):\n    return f(n + 1)\nx = f(0)")
    assert "recursion" in message.lower()


@pytest.mark.parametrize(("script", "fragment"), [
    ("x = [0] * 10**8", "exceeds the limit"),
    ("x = sum(range(10**12))", "range() of 1000000000000 items exceeds the limit"),
    ("s = 'a'\nwhile True:\n    s = s + s", "would give 1,048,576 items, which exceeds the limit"),
    ("x = [1]\nwhile True:\n    x = x + x", "exceeds the limit"),
    ("x = 2 ** 1000000", "2 ** 1000000 would have about 301,030 digits, which exceeds the limit of 30,103"),
    ("x = name.ljust(10**9)", "ljust() to 1000000000 items exceeds the limit"),
    ("x = list(range(1000))\nwhile True:\n    x.extend(x)", "extend() to 1024000 items exceeds"),
    ("x = f'{amount:>999999999}'", "format width above 1000000 is not allowed"),
    ("w = 9\nx = f'{amount:>{w}}'", "computed format specifications are not allowed"),
])
def test_resource_limits(script: str, fragment: str) -> None:
    assert fragment in script_error(script)


def test_default_budgets_end_an_endless_loop() -> None:
    assert "script exceeded" in script_error("while True:\n    pass")
