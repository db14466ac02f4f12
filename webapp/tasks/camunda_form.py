"""A Camunda Form (form-js schema) as a server-rendered HDS form that works without JavaScript.

What Camunda Modeler's form preview shows is what the coordinator sees: the same fields, labels, hints,
options, groups and repeating lists, in the schema's order. Input names are the fields' paths
(`services[0].provider`), so `form_values_from_request` turns a post back into nested values, and the
engine's messages (keyed by the same paths) land next to their fields. A dynamic list's "Add a row" and
"Remove" are submit buttons: the page posts, the view re-renders with the row added or removed and
nothing typed is lost. Hidden fields (`conditional.hide`) are decided here from the current values; the
engine decides again on completion (`engine.camunda_forms`), which is the rule that counts.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from typing import Any

from flask import current_app, has_app_context
from flask_babel import gettext as _
from markupsafe import Markup, escape

from casework.network import partners
from engine.camunda.feel import compile_expression
from engine.camunda_form_values import walk
from engine.camunda_forms import (
    INPUT_TYPES,
    MULTIPLE_TYPES,
    components,
    flag,
    get_path,
    hidden,
    is_expression,
    options,
    path_text,
    scope_context,
    segments,
)
from engine.errors import ExpressionError
from webapp import bpmn_texts
from webapp.tasks.camunda_form_post import (  # noqa: F401 - the post side, re-exported for the task page
    ADD,
    REMOVE,
    ROWS,
    Path,
    form_values_from_request,
    parse_path,
    wants_row_change,
)

# ---- names and ids ----------------------------------------------------------------------------------


def html_id(path: str) -> str:
    """The element id of a field's input (what the error summary links to)."""
    return "cf-" + re.sub(r"[^A-Za-z0-9_]", "-", path)


def _template(path: Path) -> str:
    """A field's path without row numbers (`services.provider`): the key of its texts in bpmn/i18n."""
    return ".".join(str(p) for p in path if isinstance(p, str))


# ---- texts ------------------------------------------------------------------------------------------


def _label(form: str, path: Path, default: Any) -> str:
    key = _template(path)
    return bpmn_texts.label(key, str(default or ""), f"{form}.{key}") if key else str(default or "")


def _hint(form: str, path: Path, default: Any) -> str | None:
    if not default:
        return None
    key = f"{_template(path)}.description"
    return bpmn_texts.label(key, str(default), f"{form}.{key}")


def _option_label(form: str, path: Path, value: Any, default: str) -> str:
    key = f"{_template(path)}.{value}"
    return bpmn_texts.label(key, default, f"{form}.{key}")


_MESSAGES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^is required$"), lambda m: _("This is required")),
    (re.compile(r"^must be at least (\d+) characters$"), lambda m: _("Enter at least %(count)s characters",
                                                                       count=m.group(1))),
    (re.compile(r"^must be at most (\d+) characters$"), lambda m: _("Enter at most %(count)s characters",
                                                                      count=m.group(1))),
    (re.compile(r"^must be at least (\S+)$"), lambda m: _("Enter %(low)s or more", low=m.group(1))),
    (re.compile(r"^must be at most (\S+)$"), lambda m: _("Enter %(high)s or less", high=m.group(1))),
    (re.compile(r"^must be a number$"), lambda m: _("Enter a number")),
    (re.compile(r"^must be a whole number$"), lambda m: _("Enter a whole number")),
    (re.compile(r"^must have at most (\d+) decimals$"), lambda m: _("Enter at most %(count)s decimals",
                                                                      count=m.group(1))),
    (re.compile(r"^must be a multiple of (\S+)$"), lambda m: _("Enter a multiple of %(step)s", step=m.group(1))),
    (re.compile(r"^must be a date \(YYYY-MM-DD\)$"), lambda m: _("Enter a real date")),
    (re.compile(r"^must be a time"), lambda m: _("Enter a time, for example 14:30")),
    (re.compile(r"^must be a date and a time$"), lambda m: _("Enter a real date and time")),
    (re.compile(r"^must not be in the past$"), lambda m: _("Enter today or a later date")),
    (re.compile(r"^must be one of the options$"), lambda m: _("Choose one of the options")),
    (re.compile(r"^must be an email address$"), lambda m: _("Enter an email address, like name@example.com")),
    (re.compile(r"^must be an international phone number"),
     lambda m: _("Enter a phone number in international form, like +358 40 123 4567")),
    (re.compile(r"^must match the pattern"), lambda m: _("Enter it in the form asked for")),
    (re.compile(r"^must be ticked or not$"), lambda m: _("Tick the box or leave it empty")),
    (re.compile(r"^must be a list of rows$|^must be a row of fields$|^must be text$"),
     lambda m: _("Enter the answer again")),
]


def field_message(message: str) -> str:
    """The engine's message (English, e.g. "must be at most 3") in the reader's language; a form's own
    patternErrorMessage is shown as written."""
    for pattern, say in _MESSAGES:
        match = pattern.search(message)
        if match:
            return say(match)
    return message


# ---- values as the inputs show them -------------------------------------------------------------------


def as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def _is_on(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in ("true", "on", "1", "yes"))


def _chosen(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [as_text(v) for v in value]
    return [] if value in (None, "") else [as_text(value)]


def _input_value(kind: str, subtype: str, value: Any) -> str:
    """A stored value as the input's text: date inputs want YYYY-MM-DD, datetime-local YYYY-MM-DDTHH:MM."""
    text = as_text(value)
    if kind == "datetime":
        if subtype == "date":
            match = re.fullmatch(r"(\d{4}-\d{2}-\d{2}).*", text)
            return match.group(1) if match else text
        if subtype == "datetime":
            match = re.fullmatch(r"(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}).*", text)
            return f"{match.group(1)}T{match.group(2)}" if match else text
        match = re.fullmatch(r"(\d{2}:\d{2}).*", text)
        return match.group(1) if match else text
    return text


# ---- rendering ----------------------------------------------------------------------------------------


class _Renderer:
    def __init__(self, schema: Mapping[str, Any], values: Mapping[str, Any], errors: Mapping[str, str]) -> None:
        self.form = str(schema.get("id") or "form")
        self.values = values
        self.errors = errors
        self.out: list[str] = []

    def put(self, html: str | Markup) -> None:
        self.out.append(str(html))

    def scope(self, container: Mapping[str, Any], this: Any, parent: Any, prefix: Path, indexes: list[int],
              data: Any) -> None:
        """The components of one scope; `data` is the scope's values (the form's, a group's, a row's)."""
        for component in components(container):
            kind = str(component.get("type"))
            context = scope_context(self.values, this, parent, indexes)
            is_hidden = hidden(component, context)
            condition = (component.get("conditional") or {}).get("hide") if isinstance(
                component.get("conditional"), Mapping) else None
            if is_hidden or is_expression(condition):
                # kept in the page (hidden) so a script may show it; the engine ignores it while hidden
                self.put(Markup('<div class="polku-cf-conditional" data-hide="{}" data-scope="{}"{}>').format(
                    str(condition or "true")[1:] if is_expression(condition) else "true",
                    path_text(prefix), Markup(" hidden") if is_hidden else ""))
            if kind in INPUT_TYPES:
                self.field(component, kind, prefix, data)
            elif kind == "group":
                self.group(component, this, parent, prefix, indexes, data)
            elif kind == "dynamiclist":
                self.rows(component, this, prefix, indexes, data)
            elif kind == "text":
                self.text(component, context)
            elif kind == "separator":
                self.put('<hr class="polku-cf-separator">')
            elif kind == "spacer":
                self.put('<div class="polku-cf-spacer"></div>')
            # a form-js button is the page's own submit button: the task page draws its actions itself
            if is_hidden or is_expression(condition):
                self.put("</div>")

    def group(self, component: Mapping[str, Any], this: Any, parent: Any, prefix: Path, indexes: list[int],
              data: Any) -> None:
        path = segments(component.get("path"))
        label = component.get("label")
        border = " hds-fieldset--border" if component.get("showOutline", True) else ""
        if label:
            self.put(Markup('<fieldset class="hds-fieldset{} polku-cf-group"><legend class="hds-fieldset-legend">'
                            '{}</legend>').format(border, _label(self.form, [*prefix, *path], label)))
        else:
            self.put('<div class="polku-cf-group">')
        self.scope(component, this, parent, [*prefix, *path], indexes, get_path(data, path) if path else data)
        self.put("</fieldset>" if label else "</div>")

    def rows(self, component: Mapping[str, Any], this: Any, prefix: Path, indexes: list[int], data: Any) -> None:
        path = segments(component.get("path"))
        list_path: Path = [*prefix, *path]
        name = path_text(list_path)
        given = get_path(data, path)
        if isinstance(given, list):
            rows = [r if isinstance(r, Mapping) else {} for r in given]
        else:
            repetitions = component.get("defaultRepetitions")
            rows = [{} for _ in range(int(repetitions) if isinstance(repetitions, (int, float)) else 1)]
        label = _label(self.form, list_path, component.get("label") or name)
        editable = bool(component.get("allowAddRemove")) and not flag(component, "readonly", self.values) \
            and not flag(component, "disabled", self.values)
        self.put(Markup('<fieldset class="hds-fieldset hds-fieldset--border polku-cf-list" id="{}">'
                        '<legend class="hds-fieldset-legend">{}</legend>'
                        '<input type="hidden" name="{}" value="{}">').format(
            html_id(name), label, ROWS + name, len(rows)))
        error = self.errors.get(name)
        if error:
            self.put(Markup('<p class="hds-text-input__error-text polku-cf-error">{}</p>').format(field_message(error)))
        if not rows:
            self.put(Markup('<p class="polku-cf-empty">{}</p>').format(_("No rows yet.")))
        for n, row in enumerate(rows):
            row_path: Path = [*list_path, n]
            legend = _("%(list)s, row %(number)s", list=label, number=n + 1)
            self.put(Markup('<fieldset class="hds-fieldset polku-cf-row" id="{}"><legend class="hds-fieldset-legend '
                            'polku-cf-row__legend">{}</legend>').format(html_id(path_text(row_path)), legend))
            self.scope(component, row, this, row_path, [*indexes, n + 1], row)
            if editable:
                self.put(Markup('<button type="submit" formnovalidate name="{}" value="{}" class="hds-button '
                                'hds-button--secondary hds-button--small polku-cf-remove">'
                                '<span class="hds-button__label">{}<span class="visually-hidden"> {}</span></span>'
                                '</button>').format(
                    REMOVE, path_text(row_path), _("Remove"), legend))
            self.put("</fieldset>")
        if editable:
            self.put(Markup('<button type="submit" formnovalidate name="{}" value="{}" class="hds-button '
                            'hds-button--secondary polku-cf-add"><span class="hds-button__label">{}'
                            '<span class="visually-hidden"> {}</span></span></button>').format(
                ADD, name, _("Add a row"), label))
        self.put("</fieldset>")

    def text(self, component: Mapping[str, Any], context: Mapping[str, Any]) -> None:
        source = component.get("text")
        if source and not is_expression(source) and component.get("id"):
            source = bpmn_texts.label(f"{self.form}.{component['id']}", str(source))
        if is_expression(source):
            try:
                source = compile_expression(str(source)[1:]).evaluate(context)
            except ExpressionError:
                source = ""
        text = re.sub(r"\{\{\s*([A-Za-z0-9_.]+)\s*\}\}",
                      lambda m: as_text(get_path(context, segments(m.group(1)))), as_text(source))
        self.put('<div class="polku-cf-text">')
        for block in re.split(r"\n\s*\n", text.strip()):
            heading = re.match(r"(#{1,4})\s+(.*)", block)
            if heading:
                level = min(len(heading.group(1)) + 1, 5)  # the page's own heading is h1
                self.put(Markup("<h{0}>{1}</h{0}>").format(level, heading.group(2)))
            elif block.strip():
                self.put(Markup("<p>{}</p>").format(Markup("<br>").join(escape(line) for line in block.split("\n"))))
        self.put("</div>")

    def field(self, component: Mapping[str, Any], kind: str, prefix: Path, data: Any) -> None:
        key = segments(str(component.get("key")))
        path: Path = [*prefix, *key]
        name = path_text(path)
        ident = html_id(name)
        label = _label(self.form, path, component.get("label") or component.get("dateLabel") or name)
        hint = _hint(self.form, path, component.get("description"))
        error = self.errors.get(name)
        rules = component.get("validate") if isinstance(component.get("validate"), Mapping) else {}
        required = bool((rules or {}).get("required"))
        value = get_path(data, key)
        if not _has(data, key):  # never answered: the form's default
            default = component.get("defaultValue")
            value = None if is_expression(default) else default
        readonly = flag(component, "readonly", self.values)
        disabled = flag(component, "disabled", self.values)
        described = " ".join(i for i, on in ((f"{ident}-hint", hint), (f"{ident}-error", error)) if on)
        field = _Field(name, ident, label, hint, field_message(error) if error else None, required, readonly,
                       disabled, described)
        if kind in ("radio", "checklist", "taglist"):
            self.choices(component, kind, field, path, value)
        elif kind == "checkbox":
            self.checkbox(field, value)
        else:
            self.text_input(component, kind, field, path, value, rules or {})

    def text_input(self, component: Mapping[str, Any], kind: str, f: _Field, path: Path, value: Any,
                   rules: Mapping[str, Any]) -> None:
        self.put(Markup('<div class="hds-text-input{}">').format(" hds-text-input--invalid" if f.error else ""))
        self.put(Markup('<label for="{}" class="hds-text-input__label">{}{}</label>').format(f.ident, f.label, f.star))
        if f.hint:
            self.put(Markup('<span class="hds-text-input__helper-text" id="{}-hint">{}</span>').format(f.ident, f.hint))
        self.put('<div class="hds-text-input__input-wrapper">')
        attrs = f.attrs(readonly_as_disabled=kind == "select")
        if kind == "select":
            self.put(Markup('<select class="hds-text-input__input" id="{}" name="{}"{}>').format(
                f.ident, f.name, attrs))
            chosen = as_text(value)
            choices = [(as_text(v), _option_label(self.form, path, v, label))
                       for v, label in options(component, self.values) or []]
            if chosen and chosen not in dict(choices):
                choices.append((chosen, chosen))  # an answer the options no longer hold stays visible
            self.put(Markup('<option value="">{}</option>').format(_("Choose")))
            for option_value, option_label in choices:
                self.put(Markup('<option value="{}"{}>{}</option>').format(
                    option_value, Markup(" selected") if option_value == chosen else "", option_label))
            self.put("</select>")
        elif kind == "textarea":
            self.put(Markup('<textarea class="hds-text-input__input" id="{}" name="{}" rows="4"{}{}>{}</textarea>'
                            ).format(f.ident, f.name, attrs, _length(rules), as_text(value)))
        else:
            subtype = str(component.get("subtype") or "date")
            input_type, extra = "text", ""
            if kind == "number":
                extra = ' inputmode="decimal"'
            elif kind == "datetime":
                input_type = {"date": "date", "time": "time", "datetime": "datetime-local"}.get(subtype, "date")
            elif rules.get("validationType") == "email":
                input_type, extra = "email", ' autocomplete="off"'
            elif rules.get("validationType") == "phone":
                input_type = "tel"
            self.put(Markup('<input class="hds-text-input__input" type="{}" id="{}" name="{}" value="{}"{}{}{}>'
                            ).format(input_type, f.ident, f.name, _input_value(kind, subtype, value), attrs,
                Markup(extra), _length(rules) if kind in ("textfield",) else ""))
        self.put("</div>")
        if f.error:
            self.put(Markup('<span class="hds-text-input__error-text" id="{}-error">{}</span>').format(
                f.ident, f.error))
        self.put("</div>")

    def checkbox(self, f: _Field, value: Any) -> None:
        self.put('<div class="polku-cf-checkbox">')
        self.put(Markup('<div class="hds-checkbox">'))
        if not (f.readonly or f.disabled):  # an unticked box sends nothing: this says "not ticked"
            self.put(Markup('<input type="hidden" name="{}" value="false">').format(f.name))
        self.put(Markup('<input type="checkbox" class="hds-checkbox__input" id="{}" name="{}" value="true"{}{}>'
                        ).format(f.ident, f.name, Markup(" checked") if _is_on(value) else "",
            f.attrs(readonly_as_disabled=True)))
        self.put(Markup('<label for="{}" class="hds-checkbox__label">{}{}</label></div>').format(
            f.ident, f.label, f.star))
        if f.hint:
            self.put(Markup('<span class="hds-text-input__helper-text" id="{}-hint">{}</span>').format(f.ident, f.hint))
        if f.error:
            self.put(Markup('<span class="hds-checkbox__error-text" id="{}-error">{}</span>').format(f.ident, f.error))
        self.put("</div>")

    def choices(self, component: Mapping[str, Any], kind: str, f: _Field, path: Path, value: Any) -> None:
        multiple = kind in MULTIPLE_TYPES
        chosen = _chosen(value)
        self.put(Markup('<fieldset class="hds-selection-group polku-cf-choices" id="{}-group"{}>').format(
            f.ident, Markup(' aria-describedby="{}"').format(f.described) if f.described else ""))
        self.put(Markup('<legend class="hds-selection-group__legend">{}{}</legend>').format(f.label, f.star))
        if f.hint:
            self.put(Markup('<span class="hds-text-input__helper-text" id="{}-hint">{}</span>').format(f.ident, f.hint))
        if multiple and not (f.readonly or f.disabled):  # nothing ticked still says "none"
            self.put(Markup('<input type="hidden" name="{}" value="">').format(f.name))
        self.put('<div class="hds-selection-group__items hds-selection-group__items--vertical">')
        known = [(as_text(v), _option_label(self.form, path, v, label))
                 for v, label in options(component, self.values) or []]
        known += [(c, c) for c in chosen if c not in dict(known)]
        css = "hds-checkbox" if multiple else "hds-radio-button"
        for n, (option_value, option_label) in enumerate(known):
            ident = f.ident if n == 0 else f"{f.ident}-{n}"
            self.put(Markup('<div class="hds-selection-group__item"><div class="{0}"><input type="{1}" '
                            'class="{0}__input" id="{2}" name="{3}" value="{4}"{5}{6}>'
                            '<label for="{2}" class="{0}__label">{7}</label></div></div>').format(
                css, "checkbox" if multiple else "radio", ident, f.name, option_value,
                Markup(" checked") if option_value in chosen else "",
                Markup(" disabled") if (f.readonly or f.disabled) else "", option_label))
        self.put("</div>")
        if f.error:
            self.put(Markup('<span class="hds-selection-group__error-text" id="{}-error">{}</span>').format(
                f.ident, f.error))
        self.put("</fieldset>")


def _has(data: Any, key: list[str]) -> bool:
    for part in key:
        if not isinstance(data, Mapping) or part not in data:
            return False
        data = data[part]
    return True


def _length(rules: Mapping[str, Any]) -> Markup:
    limit = rules.get("maxLength")
    return Markup(' maxlength="{}"').format(int(limit)) if isinstance(limit, int) and limit > 0 else Markup("")


class _Field:
    """What every input needs: its name, id, texts and states."""

    def __init__(self, name: str, ident: str, label: str, hint: str | None, error: str | None, required: bool,
                 readonly: bool, disabled: bool, described: str) -> None:
        self.name, self.ident, self.label, self.hint, self.error = name, ident, label, hint, error
        self.required, self.readonly, self.disabled, self.described = required, readonly, disabled, described

    @property
    def star(self) -> Markup:
        return Markup(' <span class="polku-required" aria-hidden="true">*</span>') if self.required else Markup("")

    def attrs(self, readonly_as_disabled: bool = False) -> Markup:
        parts = []
        if self.required:
            parts.append(' aria-required="true"')
        if self.error:
            parts.append(' aria-invalid="true"')
        if self.described:
            parts.append(str(Markup(' aria-describedby="{}"').format(self.described)))
        if self.disabled or (self.readonly and readonly_as_disabled):
            parts.append(" disabled")
        elif self.readonly:
            parts.append(" readonly")
        return Markup("".join(parts))


NETWORK_PARTNERS = "networkPartners"  # a valuesKey Polku fills in: the registered network partners


def known_lists(schema: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Option lists Polku supplies when the case has no variable of that name (`valuesKey: networkPartners`:
    the active registered partners, so a planned service can name the one its referral goes to)."""
    wanted = {component.get("valuesKey") for component in walk(schema)}
    if NETWORK_PARTNERS not in wanted or values.get(NETWORK_PARTNERS) is not None or not has_app_context():
        return {}
    engine = current_app.config.get("ENGINE")
    if engine is None:
        return {}
    with engine.db.read() as session:
        found = [{"label": p.organisation + (f", {p.unit}" if p.unit else ""), "value": str(p.id)}
                 for p in partners(session)]
    return {NETWORK_PARTNERS: found}


def render_camunda_form(schema: Mapping[str, Any], values: Mapping[str, Any] | None = None,
                        errors: Mapping[str, str] | None = None) -> Markup:
    """The form's fields as HTML (without the <form> element, its CSRF token and buttons, which the page adds).

    `values`: what the fields show (the case's variables, a draft, or what was just posted), nested as the
    engine stores them; a select with a `valuesKey` takes its options from `values[valuesKey]`.
    `errors`: the engine's FormError.errors, keyed by field path.
    """
    values = {**known_lists(schema, values or {}), **(values or {})}
    renderer = _Renderer(schema, values, errors or {})
    renderer.put(Markup('<div class="polku-cf" data-form="{}">').format(renderer.form))
    renderer.scope(schema, values, None, [], [], values)
    renderer.put("</div>")
    return Markup("".join(renderer.out))


def field_labels(schema: Mapping[str, Any]) -> dict[str, str]:
    """Each field's label by its path template (`services.provider`), in the reader's language."""
    form = str(schema.get("id") or "form")
    found: dict[str, str] = {}

    def visit(container: Mapping[str, Any], prefix: Path) -> None:
        for component in components(container):
            kind = component.get("type")
            own = segments(str(component.get("key") if kind in INPUT_TYPES else component.get("path") or ""))
            if own and component.get("label"):
                found[_template([*prefix, *own])] = _label(form, [*prefix, *own], component.get("label"))
            visit(component, [*prefix, *own])

    visit(schema, [])
    return found


def render_camunda_form_errors_summary(errors: Mapping[str, str], schema: Mapping[str, Any] | None = None
                                       ) -> Markup:
    """The GOV.UK error summary: one link per message to its field (empty when there are none)."""
    if not errors:
        return Markup("")
    labels = field_labels(schema) if schema is not None else {}
    items = []
    for path, message in errors.items():
        parts = parse_path(path)
        label = labels.get(_template(parts), path)
        rows = [p + 1 for p in parts if isinstance(p, int)]
        where = _("%(label)s (row %(number)s)", label=label, number=rows[-1]) if rows else label
        items.append(Markup('<li><a href="#{}">{}: {}</a></li>').format(html_id(path), where, field_message(message)))
    return Markup('<div class="hds-notification hds-notification--error polku-error-summary" role="alert" '
                  'tabindex="-1" id="error-summary" aria-labelledby="error-summary-title">'
                  '<div class="hds-notification__content"><h2 class="hds-notification__label" '
                  'id="error-summary-title">{}</h2><div class="hds-notification__body"><ul>{}</ul></div></div></div>'
                  ).format(_("There is a problem"), Markup("").join(items))
