"""The cells of a DMN decision: JUEL wrappers and `typeRef` coercion.

Camunda lets any cell switch to JUEL; `engine.camunda.juel` is imported lazily so
FEEL-only deployments never depend on it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Protocol

from engine.camunda.feel import compile_expression, compile_unary_tests
from engine.camunda.feel_values import is_number, type_name
from engine.errors import EngineError, ExpressionError

JUEL = "juel"
FEEL = "feel"
_FEEL_LANGUAGES = frozenset(
    {
        "feel",
        "http://www.omg.org/spec/feel/20140401",
        "http://www.omg.org/spec/dmn/20180521/feel",
        "https://www.omg.org/spec/dmn/20191111/feel",
        "https://www.omg.org/spec/dmn/20230324/feel",
    }
)


class Evaluable(Protocol):
    def evaluate(self, variables: Mapping[str, Any]) -> Any: ...


class Matcher(Protocol):
    def matches(self, input_value: Any, variables: Mapping[str, Any]) -> bool: ...


def language_of(text: str, declared: str | None) -> str:
    """`juel` or `feel` for a cell; ExpressionError for languages we cannot run."""
    stripped = text.strip()
    if stripped.startswith(("${", "#{")):
        return JUEL
    if not declared:
        return FEEL
    lang = declared.strip().lower()
    if lang == JUEL:
        return JUEL
    if lang.rstrip("/") in _FEEL_LANGUAGES:
        return FEEL
    raise ExpressionError(f"unsupported expression language '{declared}'")


def _load_juel(text: str) -> Any:
    try:
        from engine.camunda.juel import compile_juel
    except ModuleNotFoundError as exc:
        if exc.name not in ("engine.camunda.juel", "engine.camunda"):
            raise
        raise ExpressionError("JUEL expressions are not available in this installation") from None
    return compile_juel(text)


class JuelExpression:
    """A JUEL cell; like Camunda, a bare `amount` is read as `${amount}`.

    Compiled at parse time when the JUEL module is installed, else on first use.
    """

    __slots__ = ("_compiled", "text")

    def __init__(self, text: str) -> None:
        stripped = text.strip()
        self.text = stripped if stripped.startswith(("${", "#{")) else "${" + stripped + "}"
        self._compiled: Any = None
        try:
            self._compiled = _load_juel(self.text)
        except ExpressionError as exc:
            if "not available" not in str(exc):
                raise

    def evaluate(self, variables: Mapping[str, Any]) -> Any:
        if self._compiled is None:
            self._compiled = _load_juel(self.text)
        try:
            return self._compiled.evaluate(variables)
        except EngineError:
            raise
        except Exception as exc:  # noqa: BLE001 - foreign code must not leak raw errors
            raise ExpressionError(f"cannot evaluate {self.text!r}: {exc}") from None


class JuelEntry:
    """A JUEL input entry: true only for a boolean true, as in Camunda.

    The input value is visible as `camunda:inputVariable` (default `cellInput`).
    """

    __slots__ = ("_expression", "_input_variable", "text")

    def __init__(self, text: str, input_variable: str) -> None:
        self._expression = JuelExpression(text)
        self._input_variable = input_variable
        self.text = self._expression.text

    def matches(self, input_value: Any, variables: Mapping[str, Any]) -> bool:
        result = self._expression.evaluate({**variables, self._input_variable: input_value})
        return result is True


def compile_expression_cell(text: str, language: str) -> Evaluable:
    """Compile an input expression, output entry or literal expression."""
    return JuelExpression(text) if language == JUEL else compile_expression(text)


def compile_entry_cell(text: str, language: str, input_variable: str) -> Matcher:
    """Compile an input entry; empty and `-` always use the FEEL match-anything test."""
    if language == JUEL and text.strip() not in ("", "-"):
        return JuelEntry(text, input_variable)
    return compile_unary_tests(text)


# -- typeRef coercion ------------------------------------------------------------------


def _to_int(value: Any) -> int:
    if isinstance(value, bool):
        raise TypeError
    if isinstance(value, int):
        return value
    if isinstance(value, (float, Decimal)):
        if value != int(value):
            raise ValueError
        return int(value)
    if isinstance(value, str):
        number = Decimal(value.strip())
        if number != int(number):
            raise ValueError
        return int(number)
    raise ValueError


def _to_float(value: Any) -> float:
    if isinstance(value, bool) or not (is_number(value) or isinstance(value, str)):
        raise ValueError
    return float(Decimal(value.strip()) if isinstance(value, str) else value)


def _to_number(value: Any) -> Any:
    if is_number(value):
        return value
    number = _to_float(value)
    return int(number) if number.is_integer() and "." not in str(value) else number


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError


def _to_string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def _to_date(value: Any) -> Any:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        text = value.strip()
        return datetime.fromisoformat(text) if "T" in text else date.fromisoformat(text)
    raise ValueError


def _to_datetime(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        return datetime.fromisoformat(value.strip())
    raise ValueError


_COERCIONS = {
    "string": _to_string,
    "integer": _to_int,
    "long": _to_int,
    "int": _to_int,
    "double": _to_float,
    "number": _to_number,
    "boolean": _to_bool,
    "date": _to_date,
    "datetime": _to_datetime,
    "date and time": _to_datetime,
}


@lru_cache(maxsize=64)
def coercion_for(type_ref: str | None) -> Callable[[Any], Any] | None:
    """A converter for a `typeRef` (ExpressionError on failure), None to pass values through."""
    if not type_ref:
        return None
    key = type_ref.strip().lower()
    key = key.split(":", 1)[1] if key.startswith("feel:") else key
    convert = _COERCIONS.get(key)
    if convert is None:
        return None

    def coerce_value(value: Any) -> Any:
        if value is None:
            return None
        try:
            return convert(value)
        except (ValueError, TypeError, ArithmeticError, InvalidOperation):
            raise ExpressionError(f"cannot convert {type_name(value)} {value!r} to typeRef '{type_ref}'") from None

    return coerce_value


def coerce(value: Any, type_ref: str | None) -> Any:
    """Convert a value to `typeRef` the way Camunda's type transformers do; null stays null."""
    convert = coercion_for(type_ref)
    return value if convert is None else convert(value)
