"""JUEL evaluates with a node table of its own (as FEEL does), not through simpleeval's private methods."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.camunda.juel import compile_juel
from engine.camunda.juel_runtime import _NODES
from engine.camunda.juel_syntax import parse_expression
from engine.errors import ExpressionError

ROOT = Path(__file__).resolve().parents[3]
EVERY_SHAPE = [
    "a > 1 && !b || c == 'x'", "-n * 2 + m / 4 - k % 3", "flag ? list[0] : map.key", "empty items",
    "now()", "dateTime().plusDays(1)", "execution.getVariable('a')", "null", "true",
]


def test_every_node_the_parser_builds_has_a_handler() -> None:
    for text in EVERY_SHAPE:
        tree, _ = parse_expression(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.expr) and not isinstance(node, ast.expr_context):
                assert type(node) in _NODES, (text, type(node).__name__)


def test_juel_runs_without_simpleeval() -> None:
    script = ("import sys; sys.modules['simpleeval'] = None\n"
              "from engine.camunda.juel import compile_juel\n"
              "print(compile_juel('${amount > 1000 && !empty approver ? approver : \"none\"}')"
              ".evaluate({'amount': 1500, 'approver': 'aino'}))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "aino"


def test_a_function_is_never_a_value() -> None:
    with pytest.raises(ExpressionError, match="Functions cannot be used as values"):
        compile_juel("${f}").evaluate({"f": print})
