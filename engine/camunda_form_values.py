"""The values of a Camunda Form (form-js schema): reading its components, converting what a person typed
into typed values, the `validate` rules, options, FEEL conditions and nested paths.

`engine.camunda_forms` checks forms at deploy and validates whole submissions with these pieces; the web
app uses the same ones to draw a form, so a field shows and checks what the engine will accept.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.camunda.feel import compile_expression
from engine.errors import ExpressionError

INPUT_TYPES = ("textfield", "textarea", "number", "datetime", "checkbox", "checklist", "radio", "select", "taglist")
CONTAINER_TYPES = ("group", "dynamiclist")
PRESENTATION_TYPES = ("text", "spacer", "separator", "button")
KNOWN_TYPES = INPUT_TYPES + CONTAINER_TYPES + PRESENTATION_TYPES
OPTION_TYPES = ("checklist", "radio", "select", "taglist")
MULTIPLE_TYPES = ("checklist", "taglist")
EMAIL = re.compile(r"^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
                   r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$")
PHONE = re.compile(r"^(\+|00)[1-9]\d{6,19}$")  # international form, as form-js asks (+358401234567)
_TRUE = {"true", "on", "1", "yes"}
_FALSE = {"false", "off", "0", "no", ""}


# ---- reading the schema ---------------------------------------------------------------------------


def form_id(schema: Mapping[str, Any]) -> str | None:
    value = schema.get("id")
    return value if isinstance(value, str) and value else None


def components(container: Mapping[str, Any]) -> list[dict[str, Any]]:
    found = container.get("components")
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []


def segments(path: str | None) -> list[str]:
    return [s for s in (path or "").split(".") if s]


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("=")


def walk(container: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every component of a form or container, depth first."""
    for component in components(container):
        yield component
        yield from walk(component)

# ---- values ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One input field as met in a submission: its schema, its key and its path for messages."""

    schema: Mapping[str, Any]
    key: str
    path: list[str | int]

    @property
    def type(self) -> str:
        return str(self.schema.get("type"))

    @property
    def rules(self) -> Mapping[str, Any]:
        rules = self.schema.get("validate")
        return rules if isinstance(rules, Mapping) else {}


def path_text(path: list[str | int]) -> str:
    """`["services", 1, "provider"]` as `services[1].provider`: error keys and input names alike."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    text = str(value).strip().replace("\u2212", "-").replace(" ", "")
    if "," in text and "." not in text:
        text = text.replace(",", ".")  # a Finnish or Swedish decimal comma
    try:
        parsed = Decimal(text)
    except InvalidOperation:
        return None
    return parsed if parsed.is_finite() else None


def options(schema: Mapping[str, Any], data: Mapping[str, Any]) -> list[tuple[Any, str]] | None:
    """The (value, label) choices of an option field; None when they come from data that is not there."""
    raw: Any
    if schema.get("valuesExpression"):
        try:
            raw = compile_expression(str(schema["valuesExpression"])[1:]).evaluate(data)
        except ExpressionError:
            return None
    elif schema.get("valuesKey"):
        raw = get_path(data, segments(str(schema["valuesKey"])))
    else:
        raw = schema.get("values")
    if not isinstance(raw, list):
        return None
    found: list[tuple[Any, str]] = []
    for item in raw:
        if isinstance(item, Mapping):
            found.append((item.get("value"), str(item.get("label", item.get("value")))))
        elif item is not None:
            found.append((item, str(item)))
    return found


def _rule(value: Any, data: Mapping[str, Any]) -> Any:
    if is_expression(value):
        try:
            return compile_expression(value[1:]).evaluate(data)
        except ExpressionError:
            return None
    return value


def flag(schema: Mapping[str, Any], name: str, data: Mapping[str, Any]) -> bool:
    """readonly / disabled: true, false, or a FEEL expression over the data."""
    return _rule(schema.get(name), data) is True


def hidden(schema: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    """conditional.hide is true (a FEEL expression that cannot be evaluated hides nothing, as in form-js)."""
    conditional = schema.get("conditional")
    hide = conditional.get("hide") if isinstance(conditional, Mapping) else None
    return hide is True or (is_expression(hide) and _rule(hide, context) is True)


def scope_context(data: Mapping[str, Any], this: Any, parent: Any, indexes: list[int]) -> dict[str, Any]:
    """The FEEL variables of a field in form-js: the form's data, `this`, `parent` and `i` (1-based)."""
    special = {"this": this, "parent": parent, "i": indexes}
    return {**special, **data, **{f"_{k}_": v for k, v in special.items()}}


def convert(field: Field, raw: Any, data: Mapping[str, Any], today: date | None) -> tuple[Any, str | None]:
    """(typed value, None) or (None, message); empty input converts to None ([] and False for lists, checkbox)."""
    kind, schema = field.type, field.schema
    if kind == "checkbox":
        if isinstance(raw, bool):
            return raw, None
        text = str(raw).strip().lower() if raw is not None else ""
        if text in _TRUE or text in _FALSE:
            return text in _TRUE, None
        return None, "must be ticked or not"
    if kind in MULTIPLE_TYPES:
        items = raw if isinstance(raw, (list, tuple)) else ([] if raw in (None, "") else [raw])
        return _choose_many(schema, [i for i in items if i not in (None, "")], data)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, None
    if kind in ("radio", "select"):
        return _choose(schema, raw, data)
    if kind == "number":
        return _number(schema, raw)
    if kind == "datetime":
        return _datetime(schema, raw, today)
    if isinstance(raw, (dict, list, tuple, bool)):
        return None, "must be text"
    return str(raw), None


def _choose(schema: Mapping[str, Any], raw: Any, data: Mapping[str, Any]) -> tuple[Any, str | None]:
    choices = options(schema, data)
    if choices is None:  # the options come from data this submission does not carry: keep the answer as given
        return (raw, None) if isinstance(raw, (str, int, float)) else (None, "must be one of the options")
    for value, _label in choices:
        if value == raw or str(value) == str(raw):
            return value, None
    return None, "must be one of the options"


def _choose_many(schema: Mapping[str, Any], raw: list[Any], data: Mapping[str, Any]) -> tuple[Any, str | None]:
    chosen: list[Any] = []
    for item in raw:
        value, error = _choose(schema, item, data)
        if error:
            return None, error
        if value not in chosen:
            chosen.append(value)
    return chosen, None


def _number(schema: Mapping[str, Any], raw: Any) -> tuple[Any, str | None]:
    value = as_decimal(raw)
    if value is None:
        return None, "must be a number"
    digits = schema.get("decimalDigits")
    exponent = value.normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if isinstance(digits, int) and places > digits:
        return None, "must be a whole number" if digits == 0 else f"must have at most {digits} decimals"
    increment = as_decimal(schema.get("increment")) if schema.get("increment") not in (None, "") else None
    if increment and value % increment != 0:
        return None, f"must be a multiple of {increment}"
    if schema.get("serializeToString"):
        return format(value.normalize(), "f"), None
    return (int(value) if value == value.to_integral_value() else float(value)), None


_DMY = re.compile(r"(\d{1,2})[./](\d{1,2})[./](\d{4})")
_HM = re.compile(r"(\d{1,2})[:.](\d{2})(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")


def parse_date(raw: Any) -> date | None:
    """YYYY-MM-DD (what a date input posts), or d.m.yyyy / d/m/yyyy as people type it."""
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = str(raw).strip()
    match = _DMY.fullmatch(text)
    try:
        if match:
            return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        return date.fromisoformat(text[:10]) if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text[:10]) else None
    except ValueError:
        return None


def _time(text: str) -> str | None:
    match = _HM.fullmatch(text.strip())
    if not match:
        return None
    try:
        moment = time(int(match.group(1)), int(match.group(2)))
    except ValueError:
        return None
    return moment.strftime("%H:%M") + (match.group(3) or "")


def _datetime(schema: Mapping[str, Any], raw: Any, today: date | None) -> tuple[Any, str | None]:
    subtype = schema.get("subtype", "date")
    text = raw.isoformat() if isinstance(raw, (date, datetime)) else str(raw).strip()
    if subtype == "time":
        moment = _time(text)
        return (moment, None) if moment else (None, "must be a time (HH:MM)")
    if subtype == "datetime":
        day_text, _sep, time_text = text.replace(" ", "T", 1).partition("T")
        day, moment = parse_date(day_text), _time(time_text) if time_text else None
        if day is None or moment is None:
            return None, "must be a date and a time"
        value: str = f"{day.isoformat()}T{moment}"
    else:
        day = parse_date(text)
        if day is None:
            return None, "must be a date (YYYY-MM-DD)"
        value = day.isoformat()
    if schema.get("disallowPassedDates") and today is not None and day < today:
        return None, "must not be in the past"
    return value, None


def check_rules(field: Field, value: Any, data: Mapping[str, Any]) -> str | None:
    """The first broken `validate` rule of a converted value (required apart), as a message."""
    rules = field.rules
    if value is None or value == [] or field.type == "checkbox":
        return None
    if field.type == "number":
        number = as_decimal(value)
        for name, broken, word in (("min", lambda a, b: a < b, "least"), ("max", lambda a, b: a > b, "most")):
            limit = as_decimal(_rule(rules.get(name), data)) if rules.get(name) not in (None, "") else None
            if limit is not None and number is not None and broken(number, limit):
                return f"must be at {word} {format(limit.normalize(), 'f')}"
        return None
    if not isinstance(value, str):
        return None
    for name, broken, word in (("minLength", lambda a, b: a < b, "least"), ("maxLength", lambda a, b: a > b, "most")):
        limit = as_decimal(_rule(rules.get(name), data)) if rules.get(name) not in (None, "") else None
        if limit is not None and broken(len(value.strip()), int(limit)):
            return f"must be at {word} {int(limit)} characters"
    if rules.get("pattern") and not re.search(str(rules["pattern"]), value):
        return str(rules.get("patternErrorMessage") or f"must match the pattern {rules['pattern']}")
    if rules.get("validationType") == "email" and not EMAIL.match(value.strip()):
        return "must be an email address"
    if rules.get("validationType") == "phone" and not PHONE.match(re.sub(r"[\s()-]", "", value)):
        return "must be an international phone number (e.g. +358401234567)"
    return None


def is_empty(field: Field, value: Any) -> bool:
    return value is None or value == "" or value == [] or (field.type == "checkbox" and value is False)


# ---- nested data ----------------------------------------------------------------------------------


def get_path(data: Any, path: list[str] | list[str | int]) -> Any:
    for part in path:
        if isinstance(part, int):
            data = data[part] if isinstance(data, list) and 0 <= part < len(data) else None
        else:
            data = data.get(part) if isinstance(data, Mapping) else None
        if data is None:
            return None
    return data


def has_path(data: Any, path: list[str]) -> bool:
    for part in path:
        if not isinstance(data, Mapping) or part not in data:
            return False
        data = data[part]
    return True


def set_path(data: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        inner = data.get(part)
        if not isinstance(inner, dict):
            inner = data[part] = {}
        data = inner
    data[path[-1]] = value


def merge(base: Any, update: Mapping[str, Any]) -> dict[str, Any]:
    """`update` over `base`, nested objects merged, so a group's unsent fields keep their values."""
    out = dict(base) if isinstance(base, Mapping) else {}
    for key, value in update.items():
        out[key] = merge(out.get(key), value) if isinstance(value, dict) else value
    return out
