"""Camunda Modeler generated task forms (camunda:formData): parse them and check submissions.

Forms are parsed once at deploy time so that a broken field fails the deployment
with a DiagramError; submissions are then checked field by field and every
problem is reported at once, so a user can fix the whole form in one go.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from lxml import etree

from engine.camunda.parser.extensions import BPMN_NS, EXTENSION_NAMESPACES, camunda_attr
from engine.errors import DiagramError, FormError

_NAMESPACES = EXTENSION_NAMESPACES

KNOWN_TYPES = ("string", "long", "boolean", "date", "enum")
CONSTRAINTS = (
    "required",
    "readonly",
    "minlength",
    "maxlength",
    "min",
    "max",
    "pattern",
)
DATE_MESSAGE = "must be a date (dd/MM/yyyy or YYYY-MM-DD)"
_TRUE = {"true", "on", "1", "yes"}
_FALSE = {"false", "off", "0", "no"}
_LONG_RANGE = (-(2**63), 2**63 - 1)
_WHOLE = re.compile(r"[+-]?\d+")
_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})")


@dataclass(frozen=True)
class FormField:
    """One camunda:formField; `default` and constraint configs stay raw text as written."""

    id: str
    label: str | None
    type: str
    default: str | None = None
    required: bool = False
    readonly: bool = False
    constraints: dict[str, str | None] = field(default_factory=dict)
    options: list[tuple[str, str]] = field(default_factory=list)  # enum (id, name)
    properties: dict[str, str] = field(default_factory=dict)

    @property
    def base_type(self) -> str:
        """Custom types behave as strings."""
        return self.type if self.type in KNOWN_TYPES else "string"

    @property
    def default_is_expression(self) -> bool:
        """Camunda evaluates `${...}` defaults; the caller must do that, not this module."""
        return self.default is not None and (
            "${" in self.default or "#{" in self.default
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "type": self.type,
            "default": self.default,
            "required": self.required,
            "readonly": self.readonly,
            "constraints": dict(self.constraints),
            "options": [{"id": i, "name": n} for i, n in self.options],
            "properties": dict(self.properties),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> FormField:
        return cls(
            id=d["id"],
            label=d.get("label"),
            type=d.get("type", "string"),
            default=d.get("default"),
            required=bool(d.get("required", False)),
            readonly=bool(d.get("readonly", False)),
            constraints=dict(d.get("constraints", {})),
            options=[(o["id"], o["name"]) for o in d.get("options", [])],
            properties=dict(d.get("properties", {})),
        )


@dataclass(frozen=True)
class Form:
    """The generated form of a user task or start event (possibly without fields)."""

    fields: tuple[FormField, ...] = ()
    form_key: str | None = None
    form_ref: str | None = None
    form_ref_binding: str | None = None  # latest (Camunda's default), deployment or version
    form_ref_version: str | None = None

    def field(self, field_id: str) -> FormField | None:
        return next((f for f in self.fields if f.id == field_id), None)

    def to_json(self) -> dict[str, Any]:
        """JSON-serialisable description for the web app and the CLI."""
        return {
            "form_key": self.form_key,
            "form_ref": self.form_ref,
            "form_ref_binding": self.form_ref_binding,
            "form_ref_version": self.form_ref_version,
            "fields": [f.to_json() for f in self.fields],
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Form:
        return cls(
            fields=tuple(FormField.from_json(f) for f in d.get("fields", [])),
            form_key=d.get("form_key"),
            form_ref=d.get("form_ref"),
            form_ref_binding=d.get("form_ref_binding"),
            form_ref_version=d.get("form_ref_version"),
        )


# ---- parsing ----------------------------------------------------------------


def _tags(name: str) -> list[str]:
    return [f"{{{ns}}}{name}" for ns in _NAMESPACES]



def parse_form(element: etree._Element, file: str | None = None) -> Form:
    """Read camunda:formData and formKey/formRef from a userTask or startEvent."""
    element_id = element.get("id")
    fields: list[FormField] = []
    for ext in element.iterchildren(f"{{{BPMN_NS}}}extensionElements"):
        for form_data in ext.iterchildren(*_tags("formData")):
            for node in form_data.iterchildren(*_tags("formField")):
                fields.append(_parse_field(node, element_id, file))
    seen: set[str] = set()
    for f in fields:
        if f.id in seen:
            raise DiagramError(
                f"form field '{f.id}' is defined twice", element_id, file
            )
        seen.add(f.id)
    return Form(tuple(fields), camunda_attr(element, "formKey"), camunda_attr(element, "formRef"),
                camunda_attr(element, "formRefBinding"), camunda_attr(element, "formRefVersion"))


def _parse_field(
    node: etree._Element, element_id: str | None, file: str | None
) -> FormField:
    field_id = (node.get("id") or "").strip()
    if not field_id:
        raise DiagramError("form field without id", element_id, file)

    def fail(reason: str) -> DiagramError:
        return DiagramError(f"form field '{field_id}': {reason}", element_id, file)

    constraints: dict[str, str | None] = {}
    options: list[tuple[str, str]] = []
    properties: dict[str, str] = {}
    for child in node.iterchildren(*_tags("validation")):
        for c in child.iterchildren(*_tags("constraint")):
            name = c.get("name") or ""
            if name not in CONSTRAINTS:
                raise fail(
                    f"unknown constraint '{name}' (known: {', '.join(CONSTRAINTS)})"
                )
            if name in constraints:
                raise fail(f"constraint '{name}' is given twice")
            constraints[name] = c.get("config")
    for child in node.iterchildren(*_tags("properties")):
        for p in child.iterchildren(*_tags("property")):
            properties[p.get("id") or ""] = p.get("value") or ""
    for v in node.iterchildren(*_tags("value")):
        if not v.get("id"):
            raise fail("enum value without id")
        options.append((v.get("id"), v.get("name") or v.get("id")))

    result = FormField(
        id=field_id,
        label=node.get("label"),
        type=node.get("type") or "string",
        default=node.get("defaultValue"),
        required="required" in constraints,
        readonly="readonly" in constraints,
        constraints=constraints,
        options=options,
        properties=properties,
    )
    _check_constraint_configs(result, fail)
    if not _is_empty(result.default) and not result.default_is_expression:
        value, error = _convert(result, result.default)
        error = error or _check(result, value)
        if error:
            raise fail(f"defaultValue '{result.default}' {error}")
    return result


def _check_constraint_configs(
    f: FormField, fail: Callable[[str], DiagramError]
) -> None:
    kind = f.base_type
    for name, config in f.constraints.items():
        if name in ("minlength", "maxlength"):
            if kind != "string":
                raise fail(f"constraint '{name}' applies only to text fields")
            if not re.fullmatch(r"[0-9]+", (config or "").strip()):
                raise fail(
                    f"constraint '{name}' needs a whole number config, not '{config}'"
                )
        elif name in ("min", "max"):
            if kind == "date":
                if _parse_date(config) is None:
                    raise fail(
                        f"constraint '{name}' needs a date config, not '{config}'"
                    )
            elif kind == "long":
                if _number(config) is None:
                    raise fail(
                        f"constraint '{name}' needs a numeric config, not '{config}'"
                    )
            else:
                raise fail(f"constraint '{name}' applies only to long and date fields")
        elif name == "pattern":
            if kind != "string":
                raise fail("constraint 'pattern' applies only to text fields")
            try:
                re.compile(config or "")
            except re.error as exc:
                raise fail(f"constraint 'pattern' is not a valid regex: {exc}") from exc


def _number(text: str | None) -> Decimal | None:
    try:
        value = Decimal((text or "").strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


# ---- conversion and validation ----------------------------------------------


def _parse_date(value: Any) -> date | None:
    """dd/MM/yyyy (Camunda's default pattern), YYYY-MM-DD, or an ISO date-time."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        return None
    text = value.strip()
    m = _DMY.fullmatch(text)
    try:
        if m:
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ].+", text):
            return datetime.fromisoformat(text).date()
    except ValueError:
        return None
    return None


def _convert(f: FormField, raw: Any) -> tuple[Any, str | None]:
    """(typed value, None) or (None, message) for a non-empty raw value."""
    kind = f.base_type
    if kind == "long":
        value: Any = None
        if isinstance(raw, int) and not isinstance(raw, bool):
            value = raw
        elif isinstance(raw, float) and raw.is_integer():
            value = int(raw)
        elif isinstance(raw, str) and _WHOLE.fullmatch(raw.strip()):
            value = int(raw.strip())
        if value is None:
            return None, "must be a whole number"
        if not _LONG_RANGE[0] <= value <= _LONG_RANGE[1]:
            return None, "is too large a number"
        return value, None
    if kind == "boolean":
        if isinstance(raw, bool):
            return raw, None
        text = str(raw).strip().lower() if isinstance(raw, (str, int)) else ""
        if text in _TRUE:
            return True, None
        if text in _FALSE:
            return False, None
        return None, "must be true or false"
    if kind == "date":
        parsed = _parse_date(raw)
        return (parsed.isoformat(), None) if parsed else (None, DATE_MESSAGE)
    if kind == "enum":
        ids = [i for i, _ in f.options]
        choice = (
            str(raw)
            if isinstance(raw, (str, int)) and not isinstance(raw, bool)
            else None
        )
        if not ids:
            return None, "has no values to choose from (the form defines none)"
        if choice not in ids:
            return None, f"must be one of: {', '.join(ids)}"
        return choice, None
    if isinstance(raw, str):
        return raw, None
    if isinstance(raw, (int, float, Decimal)) and not isinstance(raw, bool):
        return str(raw), None
    return None, "must be text"


def _check(f: FormField, value: Any) -> str | None:
    """First broken constraint of an already typed value, as a message."""
    c = f.constraints
    if f.base_type == "string":
        for name, word, broken in (
            ("minlength", "least", int.__lt__),
            ("maxlength", "most", int.__gt__),
        ):
            if name in c:
                limit = int(str(c[name]).strip())
                if broken(len(value), limit):
                    unit = "character" if limit == 1 else "characters"
                    return f"must be at {word} {limit} {unit}"
        if "pattern" in c and not re.fullmatch(c["pattern"] or "", value):
            return f"must match the pattern {c['pattern']}"
    elif f.base_type in ("long", "date"):
        is_long = f.base_type == "long"
        typed = value if is_long else date.fromisoformat(value)
        bound: Callable[[Any], Any] = _number if is_long else _parse_date
        above, below = (
            ("at least", "at most") if is_long else ("on or after", "on or before")
        )
        if "min" in c and typed < bound(c["min"]):
            return f"must be {above} {str(c['min']).strip()}"
        if "max" in c and typed > bound(c["max"]):
            return f"must be {below} {str(c['max']).strip()}"
    return None


def _is_empty(raw: Any) -> bool:
    return raw is None or (isinstance(raw, str) and not raw.strip())


def validate_submission(
    form: Form, data: Mapping[str, Any], current: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Typed values to store for a submitted form; FormError lists every invalid field.

    Readonly fields ignore what was submitted. A field left out keeps its current
    value, or else gets its default. A field submitted empty is stored as None.
    Keys that are not form fields pass through unchanged.
    """
    current = current or {}
    ids = {f.id for f in form.fields}
    result = {k: v for k, v in data.items() if k not in ids}
    errors: dict[str, str] = {}
    for f in form.fields:
        has_default = f.default is not None and not f.default_is_expression
        submitted = f.id in data and not f.readonly
        if not submitted and current.get(f.id) is not None:
            continue  # keeps the current value
        raw = data[f.id] if submitted else (f.default if has_default else None)
        if _is_empty(raw):
            if f.required and not f.readonly:
                errors[f.id] = "is required"
            elif submitted:
                result[f.id] = None
            continue
        value, error = _convert(f, raw)
        error = error or _check(f, value)
        if error:
            errors[f.id] = error
        else:
            result[f.id] = value
    if errors:
        raise FormError(errors)
    return result


def defaults(form: Form) -> dict[str, Any]:
    """Typed default values of all fields with a literal (non-expression) default."""
    out: dict[str, Any] = {}
    for f in form.fields:
        if not _is_empty(f.default) and not f.default_is_expression:
            value, error = _convert(f, f.default)
            if error is None:
                out[f.id] = value
    return out
