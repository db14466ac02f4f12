"""JUEL expressions as Camunda Modeler writes them: operators, coercion, built-ins, safety."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from engine.camunda.juel import JuelExpression, compile_juel, is_juel
from engine.errors import ExpressionError

NOW = datetime(2024, 1, 31, 9, 30, tzinfo=UTC)
VARS = {
    "amount": 1500,
    "price": 2.5,
    "approved": True,
    "rejected": False,
    "foo": "baz",
    "name": "Ann",
    "reviewer": None,
    "blank": "",
    "padded": "  Hi There ",
    "numeric": "10",
    "flag": "true",
    "approverGroups": ["sales", "finance"],
    "nothing": [],
    "order": {"id": 7, "lines": [{"sku": "A"}, {"sku": "B"}], "meta": {}},
    "due": datetime(2024, 2, 1, tzinfo=UTC),
    "naive": datetime(2024, 2, 1),
}


def ev(text: str, variables: dict | None = None) -> object:
    return compile_juel(text).evaluate(VARS if variables is None else variables, now=NOW)


def err(text: str, variables: dict | None = None) -> str:
    with pytest.raises(ExpressionError) as info:
        ev(text, variables)
    return str(info.value)


# --------------------------------------------------------------------------- is_juel / texts

@pytest.mark.parametrize(("text", "expected"), [
    ("${x}", True), ("#{approved}", True), ("Hello ${name}!", True), ("a ${b} c #{d}", True),
    ("plain text", False), ("", False), (None, False), ("$ {x}", False), ("${", False),
    ("{x}", False),
])
def test_is_juel(text: str | None, expected: bool) -> None:
    assert is_juel(text) is expected


def test_examples_from_camunda_modeler() -> None:
    assert ev("${amount > 1000 && approved}") is True
    assert ev("#{approved}") is True
    assert ev("${foo != 'bar'}") is True
    assert ev("${approverGroups}") == ["sales", "finance"]
    assert ev("${dateTime().plusDays(3).toDate()}") == NOW + timedelta(days=3)
    assert ev("${not empty reviewer}") is False


def test_whole_expression_returns_raw_value_of_any_type() -> None:
    assert ev("${amount}") == 1500
    assert ev("${price}") == 2.5
    assert ev("${order}") is VARS["order"]
    assert ev("${reviewer}") is None


def test_whitespace_around_a_single_expression_is_ignored() -> None:
    assert ev("\n   ${approved}\n ") is True


def test_composite_text_concatenates_strings() -> None:
    assert ev("Hello ${name}!") == "Hello Ann!"
    assert ev("${amount}-${name}") == "1500-Ann"
    assert ev("[${reviewer}]") == "[]"
    assert ev("ok: ${approved}/${rejected}") == "ok: true/false"
    assert ev("due ${due}") == "due 2024-02-01T00:00:00+00:00"


def test_literal_text_is_returned_as_is() -> None:
    assert ev("just text") == "just text"
    assert ev("") == ""
    assert compile_juel("just text").is_literal
    assert not compile_juel("${x}").is_literal


def test_backslash_escapes_a_dollar_brace() -> None:
    assert ev("cost \\${amount} is ${amount}") == "cost ${amount} is 1500"


def test_braces_inside_string_literals_do_not_end_the_expression() -> None:
    assert ev("${foo == '}'}") is False
    assert ev("${'a}b'}") == "a}b"


# --------------------------------------------------------------------------- operators

@pytest.mark.parametrize(("text", "expected"), [
    ("${approved && rejected}", False), ("${approved and approved}", True),
    ("${rejected || approved}", True), ("${rejected or rejected}", False),
    ("${!approved}", False), ("${not rejected}", True),
    ("${amount == 1500}", True), ("${amount eq 1500}", True),
    ("${amount != 1500}", False), ("${amount ne 1}", True),
    ("${amount < 2000}", True), ("${amount lt 1000}", False),
    ("${amount > 1000}", True), ("${amount gt 1500}", False),
    ("${amount <= 1500}", True), ("${amount le 1499}", False),
    ("${amount >= 1500}", True), ("${amount ge 1501}", False),
])
def test_logical_and_relational_operators(text: str, expected: bool) -> None:
    assert ev(text) is expected


@pytest.mark.parametrize(("text", "expected"), [
    ("${1 + 2}", 3), ("${amount - 500}", 1000), ("${3 * price}", 7.5),
    ("${10 / 4}", 2.5), ("${10 div 2}", 5.0), ("${10 % 3}", 1), ("${10 mod 4}", 2),
    ("${-7 % 3}", -1), ("${7 % -3}", 1), ("${7.5 % 2}", 1.5),
    ("${-amount}", -1500), ("${- -3}", 3), ("${2 + 3 * 4}", 14), ("${(2 + 3) * 4}", 20),
    ("${1.5e2}", 150.0), ("${.5 + 1}", 1.5),
])
def test_arithmetic_operators(text: str, expected: float) -> None:
    result = ev(text)
    assert result == expected
    assert type(result) is type(expected)


def test_ternary_and_precedence() -> None:
    assert ev("${approved ? 'yes' : 'no'}") == "yes"
    assert ev("${rejected ? 'yes' : amount > 10 ? 'big' : 'small'}") == "big"
    assert ev("${rejected || amount > 1000 && approved}") is True
    assert ev("${!rejected && !(amount < 10)}") is True


def test_literals() -> None:
    assert ev("${true}") is True
    assert ev("${false}") is False
    assert ev("${null}") is None
    assert ev("${42}") == 42
    assert ev("${'single'}") == "single"
    assert ev('${"double"}') == "double"
    assert ev("${'it\\'s'}") == "it's"
    assert ev('${"say \\"hi\\""}') == 'say "hi"'
    assert ev("${'back\\\\slash'}") == "back\\slash"


def test_logical_operators_return_booleans_with_juel_coercion() -> None:
    assert ev("${flag && approved}") is True  # the string 'true' coerces to true
    assert ev("${reviewer || blank}") is False  # null and '' are false
    assert "Cannot coerce 5 to a boolean" in err("${approved && 5}")


def test_logical_operators_short_circuit() -> None:
    assert ev("${rejected && missing}") is False
    assert ev("${approved || missing}") is True


# --------------------------------------------------------------------------- coercion

def test_numeric_strings_are_coerced_like_juel() -> None:
    assert ev("${numeric > 9}") is True
    assert ev("${numeric == 10}") is True
    assert ev("${amount == '1500'}") is True
    assert ev("${numeric + 1}") == 11
    assert ev("${1 == 1.0}") is True
    assert "Cannot coerce 'baz' to a number" in err("${foo > 3}")


def test_string_plus_string_is_refused_with_a_hint() -> None:
    assert "composite text" in err("${'a' + 'b'}")


def test_null_comparisons() -> None:
    assert ev("${reviewer == null}") is True
    assert ev("${null == reviewer}") is True
    assert ev("${amount == null}") is False
    assert ev("${amount != null}") is True
    assert ev("${reviewer > 1}") is False
    assert ev("${reviewer < 1}") is False
    assert ev("${reviewer + 1}") == 1  # JUEL treats null as 0 in arithmetic


def test_strings_compare_lexically_and_booleans_coerce() -> None:
    assert ev("${'b' > 'a'}") is True
    assert ev("${flag == true}") is True
    assert ev("${name == 'Ann'}") is True


def test_division_by_zero() -> None:
    assert "Division by zero" in err("${1 / 0}")
    assert "Division by zero" in err("${1 % 0}")


# --------------------------------------------------------------------------- empty

@pytest.mark.parametrize(("text", "expected"), [
    ("${empty reviewer}", True), ("${empty blank}", True), ("${empty nothing}", True),
    ("${empty order.meta}", True), ("${empty name}", False), ("${empty approverGroups}", False),
    ("${empty unknownVariable}", True), ("${empty unknownVariable.deeper}", True),
    ("${not empty unknownVariable}", False), ("${empty amount}", False),
])
def test_empty(text: str, expected: bool) -> None:
    assert ev(text) is expected


def test_unknown_variable_is_an_error_outside_empty() -> None:
    assert err("${missing}") == "Unknown variable 'missing'"
    assert "Unknown variable 'missing'" in err("${missing > 1}")
    assert "Unknown variable 'missing'" in err("Hi ${missing}")


# --------------------------------------------------------------------------- properties

def test_property_access_on_maps_and_lists() -> None:
    assert ev("${order.id}") == 7
    assert ev("${order['id']}") == 7
    assert ev('${order["lines"][1].sku}') == "B"
    assert ev("${order.lines[0]['sku']}") == "A"
    assert ev("${approverGroups[1]}") == "finance"
    assert ev("${approverGroups['0']}") == "sales"


def test_missing_properties_are_null_like_juel() -> None:
    assert ev("${order.nope}") is None
    assert ev("${order.nope.deeper}") is None
    assert ev("${approverGroups[5]}") is None
    assert ev("${approverGroups[-1]}") is None  # no Python negative indexing


def test_dict_key_wins_over_method_like_names() -> None:
    data = {"m": {"items": 3, "size": 9}}
    assert ev("${m.items}", data) == 3
    assert ev("${m.size}", data) == 9
    assert ev("${m.size()}", data) == 2


def test_property_of_a_scalar_is_an_error() -> None:
    assert "Cannot read property 'length'" in err("${name.length}")


# --------------------------------------------------------------------------- methods

@pytest.mark.parametrize(("text", "expected"), [
    ("${name.equals('Ann')}", True), ("${name.equals('ann')}", False),
    ("${name.equalsIgnoreCase('aNN')}", True), ("${name.contains('nn')}", True),
    ("${name.startsWith('A')}", True), ("${name.endsWith('x')}", False),
    ("${name.length()}", 3), ("${name.isEmpty()}", False), ("${blank.isEmpty()}", True),
    ("${name.toUpperCase()}", "ANN"), ("${name.toLowerCase()}", "ann"),
    ("${padded.trim()}", "Hi There"),
    ("${approverGroups.size()}", 2), ("${approverGroups.contains('sales')}", True),
    ("${approverGroups.isEmpty()}", False), ("${approverGroups.get(1)}", "finance"),
    ("${order.containsKey('id')}", True), ("${order.containsKey('x')}", False),
    ("${order.contains('lines')}", True), ("${order.get('id')}", 7), ("${order.get('x')}", None),
    ("${order.size()}", 3), ("${order.meta.isEmpty()}", True), ("${amount.equals(1500)}", True),
])
def test_whitelisted_methods(text: str, expected: object) -> None:
    assert ev(text) == expected


@pytest.mark.parametrize(("text", "fragment"), [
    ("${name.replace('A', 'B')}", "Method 'replace' is not allowed"),
    ("${name.getClass()}", "Method 'getClass' is not allowed"),
    ("${approverGroups.append('x')}", "Method 'append' is not allowed"),
    ("${name.size()}", "Method 'size' is not allowed on a string"),
    ("${approverGroups.containsKey('x')}", "Method 'containsKey' is not allowed on a list"),
    ("${amount.trim()}", "Method 'trim' is not allowed on 1500"),
    ("${reviewer.trim()}", "Cannot call method 'trim' on null"),
    ("${name.contains()}", "expects 1 argument(s), got 0"),
    ("${approverGroups.get(9)}", "Index 9 is out of range"),
])
def test_methods_outside_the_whitelist_are_refused(text: str, fragment: str) -> None:
    assert fragment in err(text)


# --------------------------------------------------------------------------- built-ins

def test_now_uses_the_given_clock_or_utc() -> None:
    assert ev("${now()}") == NOW
    current = compile_juel("${now()}").evaluate({})
    assert current.tzinfo is not None
    assert abs(current - datetime.now(UTC)) < timedelta(seconds=5)


def test_naive_now_argument_is_taken_as_utc() -> None:
    result = compile_juel("${now()}").evaluate({}, now=datetime(2024, 1, 1, 12, 0))
    assert result == datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("method", "expected"), [
    ("plusDays(3)", datetime(2024, 2, 3, 9, 30, tzinfo=UTC)),
    ("plusWeeks(2)", datetime(2024, 2, 14, 9, 30, tzinfo=UTC)),
    ("plusMonths(1)", datetime(2024, 2, 29, 9, 30, tzinfo=UTC)),  # Jan 31 + 1 month, leap year
    ("plusMonths(2)", datetime(2024, 3, 31, 9, 30, tzinfo=UTC)),
    ("plusMonths(1).plusMonths(1)", datetime(2024, 3, 29, 9, 30, tzinfo=UTC)),
    ("plusYears(1)", datetime(2025, 1, 31, 9, 30, tzinfo=UTC)),
    ("plusHours(15)", datetime(2024, 2, 1, 0, 30, tzinfo=UTC)),
    ("plusMinutes(45)", datetime(2024, 1, 31, 10, 15, tzinfo=UTC)),
    ("plusSeconds(30)", datetime(2024, 1, 31, 9, 30, 30, tzinfo=UTC)),
    ("minusDays(31)", datetime(2023, 12, 31, 9, 30, tzinfo=UTC)),
    ("plusDays('2')", datetime(2024, 2, 2, 9, 30, tzinfo=UTC)),
])
def test_date_time_arithmetic(method: str, expected: datetime) -> None:
    assert ev(f"${{dateTime().{method}.toDate()}}") == expected


def test_plus_months_across_a_non_leap_february() -> None:
    result = compile_juel("${dateTime().plusMonths(1).toDate()}").evaluate(
        {}, now=datetime(2023, 1, 31, tzinfo=UTC))
    assert result == datetime(2023, 2, 28, tzinfo=UTC)


def test_date_time_to_string_and_returned_values_are_aware_datetimes() -> None:
    assert ev("${dateTime().plusDays(1).toString()}") == "2024-02-01T09:30:00+00:00"
    assert ev("${dateTime()}") == NOW  # a bare dateTime() leaves as a datetime
    other_zone = timezone(timedelta(hours=2))
    result = compile_juel("${now()}").evaluate({}, now=datetime(2024, 1, 1, tzinfo=other_zone))
    assert result.utcoffset() == timedelta(hours=2)


def test_datetime_comparisons() -> None:
    assert ev("${due > now()}") is True
    assert ev("${dateTime().plusDays(2).toDate() > due}") is True
    assert ev("${naive == due}") is True  # naive values are read as UTC
    assert ev("${naive < dateTime().toDate()}") is False
    assert "Cannot compare" in err("${due < order}")


def test_execution_variables() -> None:
    assert ev("${execution.getVariable('amount')}") == 1500
    assert ev("${execution.getVariable('missing')}") is None
    assert ev("${execution.getVariables().name}") == "Ann"
    assert ev("${execution.hasVariable('foo')}") is True
    assert "Method 'setVariable' is not allowed" in err("${execution.setVariable('a', 1)}")
    assert "cannot be used as a value" in err("${execution}")


# --------------------------------------------------------------------------- names / compile

def test_names_lists_top_level_variables_only() -> None:
    expr = compile_juel("${a.b > c[d] && empty e ? execution.getVariable('z') : now()} ${f}")
    assert expr.names() == {"a", "c", "d", "e", "f"}
    assert compile_juel("plain").names() == set()


def test_names_returns_a_fresh_set() -> None:
    expr = compile_juel("${x}")
    expr.names().add("y")
    assert expr.names() == {"x"}


def test_compile_is_cached() -> None:
    assert compile_juel("${amount + 1}") is compile_juel("${amount + 1}")
    assert isinstance(compile_juel("${amount + 1}"), JuelExpression)
    assert compile_juel("${amount + 1}").source == "${amount + 1}"


@pytest.mark.parametrize(("text", "fragment"), [
    ("${}", "Empty expression"),
    ("${amount >}", "Syntax error at position 8: expected a value"),
    ("${(amount}", "expected ')'"),
    ("${amount amount}", "unexpected token"),
    ("${a = 1}", "Unexpected character '='"),
    ("${a & b}", "Unexpected character '&'"),
    ("${'open}", "Unterminated string literal"),
    ("text ${amount", "Unterminated expression"),
    ("${a ? b}", "expected ':'"),
    ("${foo()}", "Unknown function 'foo'"),
    ("${ns:fn()}", "unexpected token"),
    ("${x instanceof y}", "unexpected token"),
])
def test_syntax_errors_are_reported_at_compile_time(text: str, fragment: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_juel(text)
    assert fragment in str(info.value)
    assert text[text.index("$"):] in str(info.value)  # the message quotes the expression


def test_built_in_functions_take_no_arguments() -> None:
    assert "Function 'now()' takes no arguments" in err("${now(1)}")


# --------------------------------------------------------------------------- safety

@pytest.mark.parametrize(("text", "fragment"), [
    ("${__import__('os')}", "Forbidden name '__import__'"),
    ("${name.__class__}", "Forbidden name '__class__'"),
    ("${order.__class__.__bases__}", "Forbidden name '__class__'"),
    ("${name.getClass().forName('java.lang.Runtime')}", "Method 'getClass' is not allowed"),
    ("${open('/etc/passwd')}", "Unknown function 'open'"),
    ("${eval('1')}", "Unknown function 'eval'"),
])
def test_sandbox_refuses_escape_attempts(text: str, fragment: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_juel(text)
    assert fragment in str(info.value)


def test_python_attributes_are_never_read() -> None:
    # `upper` is a Python str method; JUEL property access only reads map keys
    assert "Cannot read property 'upper'" in err("${name.upper}")
    assert "Cannot read property 'real'" in err("${amount.real}")


def test_deep_nesting_is_an_expression_error() -> None:
    with pytest.raises(ExpressionError, match="nested too deeply"):
        compile_juel("${" + "(" * 5000 + "1" + ")" * 5000 + "}")


def test_evaluation_is_thread_safe() -> None:
    expr = compile_juel("${n * 2}")
    failures: list[int] = []

    def work(n: int) -> None:
        for _ in range(300):
            if expr.evaluate({"n": n}) != n * 2:
                failures.append(n)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
