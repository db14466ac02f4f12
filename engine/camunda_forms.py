"""Camunda Forms: `.form` files (form-js JSON) made in Camunda Modeler's form editor and linked by formRef.

A form is checked when it is deployed, so a field Polku cannot show or check fails the deployment with a
DiagramError naming the field, as a broken diagram does. A submission is converted and validated on the
server field by field, every problem at once, keyed by the field's path (`services[1].provider`):
Polku renders these forms itself, so the server is the one place their rules are kept. Hidden fields
(`conditional.hide`, FEEL) are neither validated nor stored, as in form-js. Converting single values
lives in `engine.camunda_form_values`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from lxml import etree

from engine.camunda.feel import compile_expression
from engine.camunda.parser.extensions import BPMN_NS, camunda_attr
from engine.camunda_form_values import (
    CONTAINER_TYPES,
    INPUT_TYPES,
    KNOWN_TYPES,
    MULTIPLE_TYPES,
    OPTION_TYPES,
    Field,
    as_decimal,
    check_rules,
    components,
    convert,
    flag,
    form_id,
    get_path,
    has_path,
    hidden,
    is_empty,
    is_expression,
    merge,
    options,
    path_text,
    scope_context,
    segments,
    set_path,
    walk,
)
from engine.errors import DiagramError, ExpressionError, FormError, ValidationFailed

__all__ = ["INPUT_TYPES", "MULTIPLE_TYPES", "check_form", "check_form_refs", "components", "flag", "get_path",
           "hidden", "is_expression", "options", "parse_form_file", "path_text", "scope_context", "segments",
           "validate_form_submission"]

REFUSED_TYPES = {
    "filepicker": "Polku keeps no uploaded files in case variables",
    "iframe": "the pages allow no embedded external pages (Content-Security-Policy)",
    "html": "raw HTML could carry script; use a text field (Markdown) instead",
    "image": "the pages load no external images; describe it in a text field",
    "table": "tables of variables are not shown by Polku's forms",
    "expression": "computed values are not evaluated by Polku's forms",
    "documentPreview": "documents are shown on the case page, not in a form",
}
BINDINGS = ("latest", "deployment", "version")
_KEY = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*")


# ---- checking at deploy -------------------------------------------------------------------------


class _Check:
    """Collects every problem of one form file, each naming the field by id."""

    def __init__(self, file: str | None) -> None:
        self.file = file
        self.problems: list[DiagramError] = []

    def problem(self, field_id: str | None, reason: str) -> None:
        self.problems.append(DiagramError(reason, field_id, self.file))

    def expression(self, field_id: str, what: str, value: Any) -> None:
        if is_expression(value):
            try:
                compile_expression(value[1:])
            except ExpressionError as err:
                self.problem(field_id, f"{what} '{value}' cannot be evaluated by Polku's FEEL: {err}")

    def number(self, field_id: str, what: str, value: Any, whole: bool = False) -> None:
        if value is None or is_expression(value):
            self.expression(field_id, what, value)
            return
        parsed = as_decimal(value)
        if parsed is None or (whole and parsed != parsed.to_integral_value()):
            self.problem(field_id, f"{what} must be a {'whole ' if whole else ''}number, not {value!r}")


def parse_form_file(name: str | None, data: bytes | str) -> dict[str, Any]:
    """The schema of a `.form` file; ValidationFailed lists every problem as `FILE: FIELD_ID: reason`."""
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
        schema = json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as err:
        raise ValidationFailed([DiagramError(f"not a form-js JSON form: {err}", None, name)]) from None
    problems = check_form(schema, name)
    if problems:
        raise ValidationFailed(problems)
    return dict(schema)


def check_form(schema: Any, file: str | None = None) -> list[DiagramError]:
    """Every problem of a form schema: unknown or unsupported fields, bad keys, rules and expressions."""
    check = _Check(file)
    if not isinstance(schema, dict):
        check.problem(None, "a form is a JSON object with components")
        return check.problems
    if schema.get("type", "default") != "default":
        check.problem(None, f"form type must be 'default', not {schema.get('type')!r}")
    if form_id(schema) is None:
        check.problem(None, "the form has no id; camunda:formRef finds a form by its id")
    if not isinstance(schema.get("components"), list):
        check.problem(form_id(schema), "the form has no list of components")
        return check.problems
    _check_components(check, schema, set())
    return check.problems


def _check_components(check: _Check, container: Mapping[str, Any], scope: set[str]) -> None:
    for n, component in enumerate(container.get("components") or [], 1):
        if not isinstance(component, dict):
            check.problem(None, f"component {n} is not an object")
            continue
        kind = component.get("type")
        field_id = str(component.get("id") or f"{kind or 'component'} {n}")
        if kind in REFUSED_TYPES:
            check.problem(field_id, f"field type '{kind}' is not supported: {REFUSED_TYPES[kind]}")
            continue
        if kind not in KNOWN_TYPES:
            check.problem(field_id, f"unknown field type {kind!r} (known: {', '.join(KNOWN_TYPES)})")
            continue
        conditional = component.get("conditional") or {}
        hide = conditional.get("hide") if isinstance(conditional, dict) else None
        if hide is not None and not isinstance(hide, (str, bool)):
            check.problem(field_id, "conditional.hide must be a FEEL expression (=...) or true/false")
        check.expression(field_id, "conditional.hide", hide)
        for attribute in ("readonly", "disabled"):
            check.expression(field_id, attribute, component.get(attribute))
        if kind in INPUT_TYPES:
            _check_input(check, component, field_id, kind, scope)
        elif kind in CONTAINER_TYPES:
            _check_container(check, component, field_id, kind, scope)
        elif kind == "button" and component.get("action", "submit") not in ("submit", "reset"):
            check.problem(field_id, f"button action must be submit or reset, not {component.get('action')!r}")


def _claim(check: _Check, field_id: str, path: str, scope: set[str], what: str) -> None:
    if path in scope:
        check.problem(field_id, f"{what} '{path}' is used by another field of the same form part")
    scope.add(path)


def _check_container(check: _Check, component: dict[str, Any], field_id: str, kind: str, scope: set[str]) -> None:
    path = component.get("path")
    if path not in (None, "") and not (isinstance(path, str) and _KEY.fullmatch(path)):
        check.problem(field_id, f"path {path!r} must be names joined by dots (letters, digits, _)")
        return
    if kind == "dynamiclist" and not path:
        check.problem(field_id, "a dynamic list needs a path: the variable that holds its rows")
        return
    for name in ("defaultRepetitions",):
        if component.get(name) is not None:
            check.number(field_id, name, component.get(name), whole=True)
    if path:
        _claim(check, field_id, path, scope, "path")
        _check_components(check, component, set())
    else:
        _check_components(check, component, scope)


def _check_input(check: _Check, component: dict[str, Any], field_id: str, kind: str, scope: set[str]) -> None:
    key = component.get("key")
    if not (isinstance(key, str) and _KEY.fullmatch(key)):
        check.problem(field_id, f"key {key!r} must be a variable name, or names joined by dots")
        return
    _claim(check, field_id, key, scope, "key")
    rules = component.get("validate") or {}
    if not isinstance(rules, dict):
        check.problem(field_id, "validate must be an object")
        rules = {}
    for name in ("minLength", "maxLength"):
        if name in rules:
            check.number(field_id, f"validate.{name}", rules[name], whole=True)
    for name in ("min", "max"):
        if name in rules:
            check.number(field_id, f"validate.{name}", rules[name])
    if rules.get("pattern"):
        try:
            re.compile(str(rules["pattern"]))
        except re.error as err:
            check.problem(field_id, f"validate.pattern is not a regular expression Polku can use: {err}")
    if rules.get("validationType") not in (None, "", "custom", "email", "phone"):
        check.problem(field_id, f"validate.validationType {rules.get('validationType')!r} is not email or phone")
    if kind == "datetime":
        if component.get("subtype", "date") not in ("date", "time", "datetime"):
            check.problem(field_id, f"datetime subtype {component.get('subtype')!r} is not date, time or datetime")
    elif kind == "number":
        if component.get("decimalDigits") is not None:
            check.number(field_id, "decimalDigits", component["decimalDigits"], whole=True)
        if component.get("increment") not in (None, ""):
            check.number(field_id, "increment", component["increment"])
    elif kind in OPTION_TYPES:
        _check_options(check, component, field_id)
    default = component.get("defaultValue")
    if default not in (None, "") and not is_expression(default) and not component.get("valuesKey") \
            and not component.get("valuesExpression"):
        probe = Field(component, key, [key])
        _, error = convert(probe, default, {}, None)
        if error:
            check.problem(field_id, f"defaultValue {default!r} {error}")


def _check_options(check: _Check, component: dict[str, Any], field_id: str) -> None:
    values, key, expression = component.get("values"), component.get("valuesKey"), component.get("valuesExpression")
    if expression:
        check.expression(field_id, "valuesExpression", expression)
        if not is_expression(expression):
            check.problem(field_id, "valuesExpression must be a FEEL expression starting with '='")
    elif key:
        if not isinstance(key, str) or not _KEY.fullmatch(key):
            check.problem(field_id, f"valuesKey {key!r} must be a variable name")
    elif not isinstance(values, list) or not values:
        check.problem(field_id, "has no options: give values, a valuesKey or a valuesExpression")
    elif any(not isinstance(v, dict) or "value" not in v for v in values):
        check.problem(field_id, "every static value needs a label and a value")


def check_form_refs(root: etree._Element, forms: Mapping[str, Any], file: str | None
                    ) -> tuple[list[DiagramError], list[DiagramError]]:
    """(problems, warnings) of the camunda:formRef links of one BPMN file against the deployment's forms."""
    problems: list[DiagramError] = []
    warnings: list[DiagramError] = []
    for tag in ("userTask", "startEvent"):
        for element in root.iter(f"{{{BPMN_NS}}}{tag}"):
            ref = camunda_attr(element, "formRef")
            if not ref or "${" in ref or "#{" in ref:
                continue
            binding = camunda_attr(element, "formRefBinding") or "latest"
            where = element.get("id")
            if binding not in BINDINGS:
                problems.append(DiagramError(f"formRefBinding {binding!r} is not one of {', '.join(BINDINGS)}",
                                             where, file))
            elif binding == "version" and not (camunda_attr(element, "formRefVersion") or "").strip().isdigit():
                problems.append(DiagramError("formRefBinding 'version' needs a whole number formRefVersion",
                                             where, file))
            elif ref not in forms:
                message = f"form '{ref}' is not in this deployment (deploy its .form file with the diagram)"
                (problems if binding == "deployment" else warnings).append(DiagramError(
                    message if binding == "deployment" else message + "; an earlier deployment's form is used",
                    where, file))
    return problems, warnings


# ---- a submission -----------------------------------------------------------------------------------


class _Submission:
    """One pass over the form: converts what was sent, then drops what the form hides."""

    def __init__(self, raw: Mapping[str, Any], current: Mapping[str, Any], today: date | None) -> None:
        self.raw = raw
        self.current = current
        self.today = today
        self.data = merge(current, {k: v for k, v in raw.items()})  # for rules that read other fields
        self.errors: dict[str, str] = {}

    def scope(self, container: Mapping[str, Any], raw: Any, current: Any, out: dict[str, Any],
              prefix: list[str | int]) -> None:
        """Convert the fields of one scope (the form, a group with a path, a row) into `out`."""
        for component in components(container):
            kind = component.get("type")
            if kind in INPUT_TYPES:
                self.input(component, raw, current, out, prefix)
            elif kind == "group":
                path = segments(component.get("path"))
                if not path:
                    self.scope(component, raw, current, out, prefix)
                    continue
                inner: dict[str, Any] = {}
                self.scope(component, get_path(raw, path), get_path(current, path), inner, [*prefix, *path])
                if inner:
                    set_path(out, path, inner)
            elif kind == "dynamiclist":
                self.rows(component, raw, current, out, prefix)

    def input(self, schema: Mapping[str, Any], raw: Any, current: Any, out: dict[str, Any],
              prefix: list[str | int]) -> None:
        key = segments(str(schema.get("key")))
        field = Field(schema, ".".join(key), [*prefix, *key])
        if flag(schema, "readonly", self.data) or flag(schema, "disabled", self.data):
            return  # keeps its current value whatever was sent
        if has_path(raw, key):
            value, error = convert(field, get_path(raw, key), self.data, self.today)
        elif get_path(current, key) is not None:
            return  # left out: keeps its current value
        else:
            default = schema.get("defaultValue")
            value, error = convert(field, None if is_expression(default) else default, self.data, self.today)
        error = error or check_rules(field, value, self.data)
        if not error and field.rules.get("required") and is_empty(field, value):
            error = "is required"
        if error:
            self.errors[path_text(field.path)] = error
        set_path(out, key, value)

    def rows(self, schema: Mapping[str, Any], raw: Any, current: Any, out: dict[str, Any],
             prefix: list[str | int]) -> None:
        path = segments(str(schema.get("path")))
        if not has_path(raw, path):
            return  # left out: the rows stay as they are
        sent = get_path(raw, path)
        if sent in (None, ""):
            sent = []
        if not isinstance(sent, list):
            self.errors[path_text([*prefix, *path])] = "must be a list of rows"
            return
        now = get_path(current, path)
        rows: list[dict[str, Any]] = []
        for row in sent:
            if not isinstance(row, Mapping):
                self.errors[path_text([*prefix, *path, len(rows)])] = "must be a row of fields"
                continue
            if _blank(schema, row):
                continue  # a row left wholly empty is no row
            before = now[len(rows)] if isinstance(now, list) and len(rows) < len(now) else {}
            converted: dict[str, Any] = {}
            self.scope(schema, row, before, converted, [*prefix, *path, len(rows)])
            rows.append(converted)
        set_path(out, path, rows)

    def prune(self, container: Mapping[str, Any], data: Mapping[str, Any], this: Any, parent: Any,
              out: Any, prefix: list[str | int], indexes: list[int]) -> None:
        """Drop hidden fields (with everything inside them) from `out` and from the errors."""
        for component in components(container):
            kind = component.get("type")
            context = scope_context(data, this, parent, indexes)
            path = segments(str(component.get("key") if kind in INPUT_TYPES else component.get("path") or ""))
            if hidden(component, context):
                if path:
                    self.drop(out, prefix, path)
                else:  # a group without a path hides its fields, which live in this scope
                    for inner in walk(component):
                        self.drop_component(inner, out, prefix)
                continue
            if kind == "group":  # a group keeps its scope's `this`; only a list row starts a new one
                if path:
                    self.prune(component, data, this, parent, get_path(out, path), [*prefix, *path], indexes)
                else:
                    self.prune(component, data, this, parent, out, prefix, indexes)
            elif kind == "dynamiclist":
                rows = get_path(out, path)
                for n, row in enumerate(rows if isinstance(rows, list) else []):
                    self.prune(component, data, row, this, row, [*prefix, *path, n], [*indexes, n + 1])

    def drop_component(self, component: Mapping[str, Any], out: Any, prefix: list[str | int]) -> None:
        kind = component.get("type")
        path = segments(str(component.get("key") if kind in INPUT_TYPES else component.get("path") or ""))
        if path:
            self.drop(out, prefix, path)

    def drop(self, out: Any, prefix: list[str | int], path: list[str]) -> None:
        holder = get_path(out, path[:-1]) if path[:-1] else out
        if isinstance(holder, dict):
            holder.pop(path[-1], None)
        name = path_text([*prefix, *path])
        for key in [k for k in self.errors if k == name or k.startswith((name + ".", name + "["))]:
            del self.errors[key]


def _blank(schema: Mapping[str, Any], row: Mapping[str, Any]) -> bool:
    """Nothing typed, ticked or listed in the row (a select's preselected answer is not typing)."""
    for component in walk(schema):
        if component.get("type") not in INPUT_TYPES or component.get("type") in ("radio", "select"):
            continue
        value = get_path(row, segments(str(component.get("key"))))
        if value is None or value is False or value == []:
            continue
        if isinstance(value, str) and value.strip().lower() in ("", "false", "off"):
            continue
        return False
    return True


def validate_form_submission(schema: Mapping[str, Any], raw_values: Mapping[str, Any],
                             current: Mapping[str, Any] | None = None, today: date | None = None) -> dict[str, Any]:
    """Typed values to store for a Camunda Form submission; FormError maps each bad field's path to its message.

    A field left out keeps its current value (else its default); a readonly or disabled field keeps its
    current value whatever was sent; a hidden field is neither checked nor stored; a dynamic list sent
    replaces its rows (a row left wholly empty is dropped). Keys the form does not bind pass through.
    """
    current = current or {}
    submission = _Submission(raw_values, current, today)
    out: dict[str, Any] = {}
    submission.scope(schema, raw_values, current, out, [])
    shown = merge(submission.data, out)  # what the conditions see: the case, what was sent, typed
    submission.prune(schema, shown, shown, None, out, [], [])
    if submission.errors:
        raise FormError(submission.errors)
    roots = bound_roots(schema)
    result = {k: v for k, v in raw_values.items() if k not in roots}
    for key, value in out.items():
        result[key] = merge(current.get(key), value) if isinstance(value, dict) else value
    return result


def bound_roots(schema: Mapping[str, Any]) -> set[str]:
    """The top-level variable names the form binds (first part of each top-level key or path)."""
    roots: set[str] = set()

    def visit(container: Mapping[str, Any]) -> None:
        for component in components(container):
            name = component.get("key") if component.get("type") in INPUT_TYPES else component.get("path")
            if name:
                roots.add(segments(str(name))[0])
            elif component.get("type") == "group":
                visit(component)

    visit(schema)
    return roots
