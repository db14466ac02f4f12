"""A step's camunda:formField form as the page shows it: one labelled input per field, its value and its message.

The engine owns the rules (`engine.forms.validate_submission`, run again by `complete_task`); this module
only decides how each Camunda type is asked (GOV.UK patterns: yes/no radios for a boolean, radios for a
short enum or a small number range, a date input, a text area for free text), which value a field shows
(the person's input after an error, else their draft, else the case's current value, else the default),
and says the engine's messages in the reader's language.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask_babel import gettext as _

from engine.forms import Form, FormField
from webapp import bpmn_texts

# Fields that name a staff member by user id: asked as a choice of the people who may be case managers.
STAFF_FIELDS = frozenset({"caseManager", "newCaseManager"})
RADIO_LIMIT = 6  # more options than this: a select
SHORT_TEXT = 200  # a maxlength up to this: a one-line input instead of a text area


@dataclass
class FieldView:
    """What the template needs to draw one field."""

    id: str  # the field id (the form's input name)
    html_id: str  # the element id the error summary links to
    label: str
    widget: str  # text | textarea | number | radios | select | yesno | date | staff
    value: str  # as the input shows it
    required: bool
    readonly: bool
    hint: str | None = None
    error: str | None = None
    options: list[tuple[str, str]] = field(default_factory=list)  # (value, label)
    attrs: dict[str, str] = field(default_factory=dict)  # HTML constraint attributes

    @property
    def inline(self) -> bool:
        """Choices short enough to sit on one line (yes/no, a rating 0-3)."""
        return self.widget == "yesno" or (self.widget == "radios" and all(len(t) <= 3 for _v, t in self.options))

    @property
    def display(self) -> str:
        """The value as words, for a read-only view."""
        if self.widget == "yesno":
            return {"true": _("Yes"), "false": _("No")}.get(self.value, "")
        if self.options:
            return dict(self.options).get(self.value, self.value)
        return self.value


def as_text(value: Any) -> str:
    """A stored value as an input's text (booleans as true/false, dates as YYYY-MM-DD)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _iso_date(text: str) -> str:
    """Camunda's dd/MM/yyyy as the YYYY-MM-DD a date input needs; anything else as it is."""
    match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text.strip())
    if match:
        return f"{match.group(3)}-{int(match.group(2)):02d}-{int(match.group(1)):02d}"
    return text[:10] if re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ].*)?", text.strip()) else text


def _number_range(f: FormField) -> list[str] | None:
    """The whole numbers a long field with a small min..max allows (asked as radios), else None."""
    try:
        low, high = int(str(f.constraints.get("min")).strip()), int(str(f.constraints.get("max")).strip())
    except ValueError:
        return None
    return [str(n) for n in range(low, high + 1)] if 0 <= high - low < RADIO_LIMIT else None


def _widget(f: FormField) -> str:
    kind = f.base_type
    if f.id in STAFF_FIELDS and kind == "string":
        return "staff"
    if kind == "boolean":
        return "yesno"
    if kind == "date":
        return "date"
    if kind == "enum":
        return "radios" if len(f.options) <= RADIO_LIMIT else "select"
    if kind == "long":
        return "radios" if _number_range(f) else "number"
    wanted = f.properties.get("input")
    if wanted in ("text", "textarea"):
        return wanted
    limit = f.constraints.get("maxlength")
    return "text" if limit and limit.strip().isdigit() and int(limit) <= SHORT_TEXT else "textarea"


def _hint(element_id: str, f: FormField) -> str | None:
    own = f.properties.get("hint") or f.properties.get("description")
    parts = [bpmn_texts.label(f"{f.id}.hint", own, f"{element_id}.{f.id}.hint")] if own else []
    c = f.constraints
    if f.base_type == "long" and not _number_range(f):
        if "min" in c and "max" in c:
            parts.append(_("A whole number from %(low)s to %(high)s.", low=c["min"], high=c["max"]))
        elif "min" in c:
            parts.append(_("A whole number, at least %(low)s.", low=c["min"]))
        elif "max" in c:
            parts.append(_("A whole number, at most %(high)s.", high=c["max"]))
    if f.base_type == "string":
        if c.get("minlength"):
            parts.append(_("At least %(count)s characters.", count=c["minlength"]))
        if c.get("maxlength"):
            parts.append(_("At most %(count)s characters.", count=c["maxlength"]))
    if f.base_type == "date":
        if c.get("min"):
            parts.append(_("On or after %(day)s.", day=_iso_date(str(c["min"]))))
        if c.get("max"):
            parts.append(_("On or before %(day)s.", day=_iso_date(str(c["max"]))))
    return " ".join(parts) or None


def _attrs(f: FormField) -> dict[str, str]:
    attrs: dict[str, str] = {}
    c = f.constraints
    if f.base_type == "string":
        for name in ("minlength", "maxlength"):
            if c.get(name):
                attrs[name] = str(c[name]).strip()
    elif f.base_type == "date":
        for name in ("min", "max"):
            if c.get(name):
                attrs[name] = _iso_date(str(c[name]))
    return attrs


def field_views(element_id: str, form: Form, shown: Mapping[str, Any], errors: Mapping[str, str],
                staff_choices: list[tuple[str, str]] | None = None) -> list[FieldView]:
    """The form's fields with the values `shown` (field id -> value or text) and messages from `errors`."""
    views = []
    for f in form.fields:
        widget = _widget(f)
        value = as_text(shown.get(f.id))
        options: list[tuple[str, str]] = []
        if f.base_type == "enum":
            options = [(i, bpmn_texts.enum_label(element_id, f.id, i, name)) for i, name in f.options]
        elif widget == "radios":
            options = [(n, n) for n in _number_range(f) or []]
        elif widget == "staff":
            options = list(staff_choices or [])
            if value and value not in dict(options):
                options.append((value, value))  # someone no longer on the list keeps being shown
        if widget == "date":
            value = _iso_date(value)
        views.append(FieldView(
            id=f.id, html_id=f"field-{f.id}", label=bpmn_texts.field_label(element_id, f.id, f.label),
            widget=widget, value=value, required=f.required, readonly=f.readonly, hint=_hint(element_id, f),
            error=errors.get(f.id), options=options, attrs=_attrs(f)))
    return views


def initial_values(form: Form, variables: Mapping[str, Any], draft: Mapping[str, Any] | None) -> dict[str, Any]:
    """What each field shows before the person types: the draft, else the case's value, else the default.

    A read-only field always shows the case's value (or default): a draft cannot change it.
    """
    values: dict[str, Any] = {}
    for f in form.fields:
        if draft is not None and f.id in draft and not f.readonly:
            values[f.id] = draft[f.id]
        elif variables.get(f.id) is not None:
            values[f.id] = variables[f.id]
        elif f.default is not None and not f.default_is_expression:
            values[f.id] = f.default
    return values


def submitted_values(form: Form, posted: Mapping[str, str]) -> dict[str, str]:
    """Every field the person may change, as posted; a field without an answer (an unticked radio) is "".

    Every editable field is always sent to the engine, so emptying a field empties it (a missing key
    would keep the case's old value), and read-only fields are never sent, whatever was posted.
    """
    return {f.id: str(posted.get(f.id, "")).strip() if f.base_type != "string" else str(posted.get(f.id, ""))
            for f in form.fields if not f.readonly}


_MESSAGES: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"is required"),
     lambda m, f: _("Choose an answer") if f.base_type in ("boolean", "enum") or _number_range(f)
     else _("This is required")),
    (re.compile(r"must be a whole number"), lambda m, f: _("Enter a whole number")),
    (re.compile(r"is too large a number"), lambda m, f: _("Enter a smaller number")),
    (re.compile(r"must be at least (\d+) characters?"),
     lambda m, f: _("Enter at least %(count)s characters", count=m.group(1))),
    (re.compile(r"must be at most (\d+) characters?"),
     lambda m, f: _("Enter at most %(count)s characters", count=m.group(1))),
    (re.compile(r"must be at least (\S+)"), lambda m, f: _("Enter %(low)s or more", low=m.group(1))),
    (re.compile(r"must be at most (\S+)"), lambda m, f: _("Enter %(high)s or less", high=m.group(1))),
    (re.compile(r"must be on or after (\S+)"),
     lambda m, f: _("Enter a date on or after %(day)s", day=_iso_date(m.group(1)))),
    (re.compile(r"must be on or before (\S+)"),
     lambda m, f: _("Enter a date on or before %(day)s", day=_iso_date(m.group(1)))),
    (re.compile(r"must be a date"), lambda m, f: _("Enter a real date")),
    (re.compile(r"must be true or false"), lambda m, f: _("Choose yes or no")),
    (re.compile(r"must be one of|has no values"), lambda m, f: _("Choose one of the options")),
    (re.compile(r"must match the pattern"), lambda m, f: _("Enter it in the form asked for")),
]


def field_message(f: FormField | None, message: str) -> str:
    """The engine's message for a field (English, e.g. "must be at most 3") said to the reader."""
    if f is not None:
        for pattern, say in _MESSAGES:
            match = pattern.search(message)
            if match:
                return str(say(match, f))
    return message
