"""Camunda's typed variables ({"value", "type", "valueInfo"}) to plain JSON values and back."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from flask import current_app, has_app_context

from webapp.engine_rest.errors import InvalidRequest
from webapp.engine_rest.json_input import loads, shown

INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
CAMUNDA_DATE = "%Y-%m-%dT%H:%M:%S.%f%z"


def format_date(value: datetime | None) -> str | None:
    """Camunda's date format yyyy-MM-dd'T'HH:mm:ss.SSSZ, e.g. 2026-01-05T09:00:00.000+0000."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}" + value.strftime("%z")


def parse_date(text: Any, what: str) -> datetime:
    """Camunda's date format; ISO 8601 (with or without zone, then UTC) is accepted too."""
    if isinstance(text, str):
        for parse in (lambda t: datetime.strptime(t, CAMUNDA_DATE), datetime.fromisoformat):
            try:
                value = parse(text)
            except ValueError:
                continue
            return value if value.tzinfo else value.replace(tzinfo=UTC)
    raise InvalidRequest(f"{what}: {shown(text)} is not a date in the format yyyy-MM-dd'T'HH:mm:ss.SSSZ")


def typed(value: Any) -> dict[str, Any]:
    """One plain value in Camunda's typed form (the type inferred from the Python value)."""
    if value is None:
        return {"type": "Null", "value": None, "valueInfo": {}}
    if isinstance(value, bool):
        return {"type": "Boolean", "value": value, "valueInfo": {}}
    if isinstance(value, int):
        return {"type": "Integer" if INT_MIN <= value <= INT_MAX else "Long", "value": value, "valueInfo": {}}
    if isinstance(value, float):
        return {"type": "Double", "value": value, "valueInfo": {}}
    if isinstance(value, str):
        return {"type": "String", "value": value, "valueInfo": {}}
    if isinstance(value, datetime):
        return {"type": "Date", "value": format_date(value), "valueInfo": {}}
    return {"type": "Json", "value": json.dumps(value, ensure_ascii=False, default=str), "valueInfo": {}}


def typed_map(values: dict[str, Any], names: list[str] | None = None) -> dict[str, dict[str, Any]]:
    return {k: typed(v) for k, v in values.items() if names is None or k in names}


def plain_map(body: Any, what: str = "variables") -> dict[str, Any]:
    """A request's {"name": {"value", "type", "valueInfo"}} map as plain values; null is no variables.

    Each value must fit in MAX_VARIABLE_BYTES (app config) as JSON: a case's variables are saved with
    every action on it.
    """
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise InvalidRequest(f"{what} must be a JSON object of name: {{value, type}}")
    values = {name: plain(name, entry, what) for name, entry in body.items()}
    limit: int | None = current_app.config.get("MAX_VARIABLE_BYTES") if has_app_context() else None
    if limit is None:
        return values
    for name, value in values.items():
        size = len(json.dumps(value, ensure_ascii=False).encode())
        if size > limit:
            raise InvalidRequest(f"{what}.{name} is {size} bytes as JSON; a variable may be at most {limit} bytes")
    return values


def plain(name: str, entry: Any, what: str = "variables") -> Any:
    label = f"{what}.{name}"
    if not isinstance(entry, dict):
        raise InvalidRequest(f"{label} must be an object with 'value' and optionally 'type'")
    value = entry.get("value")
    kind = entry.get("type")
    if kind is None:
        return value
    if not isinstance(kind, str):
        raise InvalidRequest(f"{label}.type must be a string")
    info = entry.get("valueInfo") or {}
    if not isinstance(info, dict):
        raise InvalidRequest(f"{label}.valueInfo must be an object")
    converter = _CONVERTERS.get(kind.lower())
    if converter is None:
        raise InvalidRequest(f"{label}: unsupported variable type '{kind}' (supported: {', '.join(_NAMES)})")
    if value is None:
        return None
    return converter(value, label, info)


def _string(value: Any, label: str, info: dict[str, Any]) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"{label}: a String value must be a JSON string")
    return value


def _integer(lo: int, hi: int, kind: str) -> Any:
    def convert(value: Any, label: str, info: dict[str, Any]) -> int:
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str):
            try:
                number = int(value.strip())
            except ValueError:
                number = None
        if number is None or not lo <= number <= hi:
            raise InvalidRequest(f"{label}: {shown(value)} is not a valid {kind} value")
        return number

    return convert


def _double(value: Any, label: str, info: dict[str, Any]) -> float:
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        raise InvalidRequest(f"{label}: {shown(value)} is not a valid Double value")
    return number


def _boolean(value: Any, label: str, info: dict[str, Any]) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidRequest(f"{label}: {shown(value)} is not a valid Boolean value")


def _json(value: Any, label: str, info: dict[str, Any]) -> Any:
    if not isinstance(value, str):
        return value  # already structured (and checked with the request body)
    return loads(value, f"{label}: the Json value")


def _object(value: Any, label: str, info: dict[str, Any]) -> Any:
    fmt = info.get("serializationDataFormat")
    if fmt not in (None, "application/json"):
        raise InvalidRequest(f"{label}: Object variables are only supported as application/json, not {fmt}")
    return _json(value, label, info)


def _date(value: Any, label: str, info: dict[str, Any]) -> str:
    # stored as ISO 8601 UTC text: case variables are JSON, and the engine compares dates in that form
    try:
        return parse_date(value, label).astimezone(UTC).isoformat()
    except OverflowError:  # year 1 at +14:00 is in year 0 in UTC
        raise InvalidRequest(f"{label}: {shown(value)} is out of the range of dates (years 1 to 9999 in UTC)") from None


def _null(value: Any, label: str, info: dict[str, Any]) -> None:
    return None


_CONVERTERS = {
    "string": _string, "integer": _integer(INT_MIN, INT_MAX, "Integer"),
    "short": _integer(-(2**15), 2**15 - 1, "Short"), "long": _integer(LONG_MIN, LONG_MAX, "Long"),
    "double": _double, "boolean": _boolean, "json": _json, "object": _object, "date": _date, "null": _null,
}
_NAMES = ["String", "Integer", "Short", "Long", "Double", "Boolean", "Json", "Object", "Date", "Null"]
