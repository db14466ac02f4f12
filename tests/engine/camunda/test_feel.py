"""The FEEL subset: unary tests (input entries) and simple expressions."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from engine.camunda.feel import compile_expression, compile_unary_tests
from engine.camunda.feel_values import Range
from engine.errors import ExpressionError


def matches(text: str, value: object, **variables: object) -> bool:
    return compile_unary_tests(text).matches(value, variables)


def evaluate(text: str, **variables: object) -> object:
    return compile_expression(text).evaluate(variables)


# -- unary tests -----------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "-", "  -  ", "\n"])
@pytest.mark.parametrize("value", [None, 0, "x", True, date(2024, 1, 1)])
def test_empty_and_dash_match_anything(text: str, value: object) -> None:
    assert matches(text, value)


@pytest.mark.parametrize(
    ("text", "value", "expected"),
    [
        ("< 250", 249.99, True),
        ("< 250", 250, False),
        ("<= 250", 250, True),
        ("<= 250", 251, False),
        ("> 1000", 1000, False),
        ("> 1000", 1000.5, True),
        (">= 1000", 1000, True),
        ("= 10", 10, True),
        ("= 10", 11, False),
        ("250", 250.0, True),
        ("250", Decimal("250"), True),
        ("0.1", Decimal("0.1"), True),
        ("< 0.5", Decimal("0.25"), True),
        ("-5", -5, True),
        ("> -1", 0, True),
    ],
)
def test_number_comparisons(text: str, value: object, expected: bool) -> None:
    assert matches(text, value) is expected


@pytest.mark.parametrize(
    ("text", "inside", "outside"),
    [
        ("[250..1000]", [250, 500, 1000], [249.9, 1000.1]),
        ("]250..1000[", [250.5, 999], [250, 1000]),
        ("(250..1000)", [251, 999.9], [250, 1000]),
        ("[1..5)", [1, 4.99], [5, 0]),
        ("(1..5]", [5, 1.01], [1, 6]),
        ("[-5..-1]", [-5, -1, -3], [0, -6]),
    ],
)
def test_intervals(text: str, inside: list[float], outside: list[float]) -> None:
    assert all(matches(text, value) for value in inside)
    assert not any(matches(text, value) for value in outside)


def test_strings_compare_as_strings() -> None:
    assert matches('"Misc"', "Misc")
    assert not matches('"Misc"', "misc")
    assert matches('"Travel Expenses","Misc","Software License Costs"', "Misc")
    assert not matches('"a","b","c"', "d")
    assert matches('< "m"', "apple")
    assert not matches('< "m"', "zebra")
    assert matches('["a".."c"]', "b")


def test_strings_never_equal_numbers_or_booleans() -> None:
    assert not matches('"250"', 250)
    assert not matches("250", "250")
    assert not matches("< 250", "100")  # no order between string and number
    assert not matches("1", True)
    assert not matches("true", 1)


def test_negations() -> None:
    assert matches('not("a","b")', "c")
    assert not matches('not("a","b")', "b")
    assert matches("not([1..5])", 6)
    assert not matches("not([1..5])", 3)
    assert matches("not(< 10)", 10)
    assert not matches("not(< 10)", "text")  # null stays null under not()


def test_literals_true_false_null() -> None:
    assert matches("true", True)
    assert not matches("true", False)
    assert not matches("true", None)
    assert matches("false", False)
    assert matches("null", None)
    assert not matches("null", 0)
    assert not matches("< 5", None)


def test_dates_compare_as_dates() -> None:
    assert matches('date("2024-01-01")', date(2024, 1, 1))
    assert matches('date("2024-01-01")', "2024-01-01")  # ISO string from JSON variables
    assert matches('> date("2024-01-01")', date(2024, 1, 2))
    assert not matches('> date("2024-01-01")', date(2023, 12, 31))
    assert matches('[date("2024-01-01")..date("2024-03-31")]', "2024-02-29")
    assert matches('date and time("2024-01-01T10:00:00")', datetime(2024, 1, 1, 10))
    assert not matches('date("2024-01-01")', datetime(2024, 1, 1))  # date is not date and time
    assert matches('> duration("P1D")', timedelta(days=2))
    assert matches('duration("PT24H")', timedelta(days=1))


def test_comparisons_against_variables() -> None:
    assert matches("< limit", 3, limit=4)
    assert not matches("< limit", 5, limit=4)
    assert not matches("< limit", 3)  # unknown variable is null: no match
    assert matches("[low..high]", 5, low=1, high=10)
    assert matches("expected", "x", expected="x")
    assert matches("allowed", "b", allowed=["a", "b"])
    assert matches("< limit * 2", 7, limit=4)


def test_question_mark_refers_to_the_input() -> None:
    assert matches("? > 5", 6)
    assert not matches("? > 5", 5)
    assert matches("? = false", False)


def test_compiled_tests_are_cached() -> None:
    assert compile_unary_tests("< 250") is compile_unary_tests("< 250")
    assert compile_expression("a + 1") is compile_expression("a + 1")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<", "expected a value, found end of text at position 2"),
        ("[1..", "expected a value, found end of text"),
        ("[1..5", "expected ']' or ')' or '['"),
        ('"open', "unterminated string starting at position 1"),
        ("foo(1)", "unknown function 'foo'"),
        ("@", "unexpected character '@' at position 1"),
        ("1 2", "unexpected text, found 2 at position 3"),
        ('date("2024-13-01")', "date(): invalid date '2024-13-01'"),
        ('duration("1 day")', "duration(): invalid duration '1 day'"),
        ("not(1", "expected ')'"),
    ],
)
def test_unary_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(message)):
        compile_unary_tests(text)


# -- simple expressions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('"accounting"', "accounting"),
        ('"say \\"hi\\"\\n"', 'say "hi"\n'),
        ("250", 250),
        ("2.5", 2.5),
        ("-2", -2),
        ("true", True),
        ("false", False),
        ("null", None),
        ("1 + 2 * 3", 7),
        ("(1 + 2) * 3", 9),
        ("10 / 4", 2.5),
        ("10 / 5", 2),
        ("1 / 0", None),
        ("7 - 10", -3),
        ('"ab" + "cd"', "abcd"),
        ("[1, 2, 3]", [1, 2, 3]),
        ("[]", []),
        ("1 < 2 and 2 < 3", True),
        ("1 > 2 or 2 > 3", False),
        ("not(1 = 1)", False),
        ("1 != 2", True),
        ('if 1 > 2 then "a" else "b"', "b"),
        ('date("2024-01-31")', date(2024, 1, 31)),
        ('date("2024-01-31") + duration("P1D")', date(2024, 2, 1)),
        ('date("2024-03-01") - date("2024-02-01")', timedelta(days=29)),
        ('date and time("2024-01-01T10:00:00").hour', 10),
        ('date("2024-05-06").month', 5),
        ('string(12) + "x"', "12x"),
        ('number("12") + 1', 13),
    ],
)
def test_expression_values(text: str, expected: object) -> None:
    assert evaluate(text) == expected


def test_variables_and_properties() -> None:
    assert evaluate("amount", amount=900) == 900
    assert evaluate("customer.address.city", customer={"address": {"city": "Oulu"}}) == "Oulu"
    assert evaluate("missing") is None
    assert evaluate("missing.deeper") is None
    assert evaluate("customer.age + 1", customer={"age": 41}) == 42
    assert evaluate('"Hello " + name', name="Ann") == "Hello Ann"
    assert evaluate("price * qty", price=Decimal("2.50"), qty=3) == Decimal("7.50")
    assert evaluate("price + 0.1", price=Decimal("0.2")) == Decimal("0.3")


def test_null_propagates_through_arithmetic_and_logic() -> None:
    assert evaluate("x + 1") is None
    assert evaluate("x > 1") is None
    assert evaluate("x > 1 and false") is False
    assert evaluate("x > 1 or true") is True
    assert evaluate("x > 1 and true") is None
    assert evaluate('if x then "yes" else "no"') == "no"


def test_if_then_else_with_variables() -> None:
    text = 'if amount > 1000 then "manager" else "clerk"'
    assert evaluate(text, amount=1500) == "manager"
    assert evaluate(text, amount=10) == "clerk"


@pytest.mark.parametrize(
    ("text", "variables", "message"),
    [
        ('"a" * 2', {}, "cannot apply '\\*' to string and number"),
        ("name * 2", {"name": "Ann"}, "cannot apply '\\*' to string and number"),
        ('"n: " + n', {"n": 3}, "cannot apply '\\+' to string and number"),
        ("true + 1", {}, "cannot apply '\\+' to boolean and number"),
        ("-name", {"name": "x"}, "cannot negate string"),
        ("date(day)", {"day": 5}, "date\\(\\) expects a string, got number"),
    ],
)
def test_expression_type_errors(text: str, variables: dict[str, object], message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        compile_expression(text).evaluate(variables)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty expression"),
        ("1 +", "expected a value, found end of text"),
        ("if a then b", "expected 'else', found end of text"),
        ("a.", "expected a property name after '.'"),
        ("and", "expected a value, found 'and'"),
        ("(1, 2)", "expected '\\)', found ','"),
    ],
)
def test_expression_syntax_errors(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        compile_expression(text)


def test_ranges_are_values() -> None:
    value = evaluate("[1..limit)", limit=5)
    assert value == Range(1, 5, True, False)
    assert value.contains(4.9) is True
    assert value.contains(5) is False
