"""Steps whose form is a Camunda Form (`camunda:formRef` to a `.form` file deployed with the diagram).

Drawing the form and reading a post back belong to `webapp.tasks.camunda_form` (imported when first
needed: without it the page says the form type is not available instead of failing); the engine checks the
values against the schema when the task is completed (`engine.camunda_forms`), and its FormError, keyed by
field path, is shown next to the fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flask import current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup

from casework.staff import Staff
from casework.task_drafts import save_draft
from engine.errors import NotFound
from engine.forms import Form
from engine.models import Task, TaskStatus

if TYPE_CHECKING:
    from webapp.tasks.views import Outcome


def is_camunda_form(form: Form) -> bool:
    return bool(form.form_ref) and not form.fields


def _tools() -> Any:
    """The Camunda Form renderer module, or None while it is not there."""
    try:
        from webapp.tasks import camunda_form
    except ImportError:
        return None
    return camunda_form


def schema_of(row: Task) -> dict[str, Any] | None:
    """The `.form` schema the task links to, by the engine's binding rules (None: not deployed)."""
    engine = current_app.config["ENGINE"]
    try:
        schema: dict[str, Any] | None = engine.task_form_schema(row.id)
    except NotFound:
        return None
    return schema


def render(row: Task, variables: Mapping[str, Any], draft: Mapping[str, Any] | None,
           outcome: Outcome) -> tuple[str, Markup | None, Markup | None]:
    """("camunda", the form's fields, the error summary) or ("unavailable", None, None)."""
    tools = _tools()
    schema = schema_of(row) if tools is not None else None
    if tools is None or schema is None:
        return "unavailable", None, None
    values = dict(variables)
    if draft:
        values.update(draft)
    if outcome.shown is not None:
        values.update(outcome.shown)
    return ("camunda", tools.render_camunda_form(schema, values, dict(outcome.errors)),
            tools.render_camunda_form_errors_summary(dict(outcome.errors), schema))


def submit(row: Task, relation: str, staff: Staff, action: str) -> Any:
    """Add or remove a row, save a draft of, or complete a Camunda Form step."""
    from webapp.tasks.views import Outcome, _closed_message, _page, _taken_message, complete, engine

    tools = _tools()
    schema = schema_of(row) if tools is not None else None
    if tools is None or schema is None:
        return _page(row, relation, staff, Outcome(409, problem=_("This form type is not available.")))
    raw = tools.form_values_from_request(schema, request.form)
    if row.status != TaskStatus.OPEN:
        return _page(row, relation, staff, Outcome(409, shown=raw, problem=_closed_message(row)))
    if relation != "work":
        return _page(row, relation, staff, Outcome(409, shown=raw, problem=_taken_message(row)))
    if tools.wants_row_change(request.form):
        return _page(row, relation, staff, Outcome(200, shown=raw))
    if action == "draft":
        with engine().db.transaction() as session:
            save_draft(session, row.id, staff.id, raw, engine().clock())
        flash(_("Your draft was saved. Only you can see it."), "success")
        return redirect(url_for("tasks.show", task_id=row.id))
    return complete(row, relation, staff, raw, lambda err: dict(err.errors))
