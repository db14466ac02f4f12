"""`/tasks/<task id>`: show a step's form, claim it, save a draft, complete it.

Only the assignee fills in and completes (`casework.task_access.may_work`); a candidate sees the form
read-only with a Claim button; a team lead sees it read-only with a link to assign it. Whatever races
happen (someone else claimed or completed it first), the answer is a page that says so, never a 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.access_log import log_case_access
from casework.staff import Staff
from casework.task_access import TaskPeople, leads_task, may_claim, may_see, may_unclaim, may_work
from casework.task_comments import comments_of
from casework.task_drafts import discard_drafts, draft_of, save_draft
from casework.users import CASE_MANAGER_ROLES, Role, StaffUser, users_with_role
from engine.clock import aware
from engine.errors import Conflict, FormError, NotFound, ProcessError
from engine.forms import Form, validate_submission
from engine.models import Task, TaskStatus
from engine.runtime import Engine
from webapp import bpmn_texts
from webapp.auth.session import login_required, require_staff
from webapp.tasks import bp, camunda
from webapp.tasks.form_fields import (
    STAFF_FIELDS,
    FieldView,
    field_message,
    field_views,
    initial_values,
    submitted_values,
)
from webapp.tasks.glance import case_glance

MAX_ID = 36


@dataclass
class Outcome:
    """What a POST left for the page to show (nothing for a plain GET)."""

    status: int = 200
    shown: dict[str, Any] | None = None  # the person's input, shown again
    errors: dict[str, str] = field(default_factory=dict)
    problem: str | None = None  # a conflict or another reason the action did not happen


def engine() -> Engine:
    engine_: Engine = current_app.config["ENGINE"]
    return engine_


def _relation(session: Session, staff: Staff, row: Task) -> str | None:
    """How `staff` stands to the task: work, claim, lead, see, or None (may not see it)."""
    people = TaskPeople.of(row)
    if may_work(staff, people):
        return "work"
    if may_claim(staff, people):
        return "claim"
    if leads_task(session, staff, people):
        return "lead"
    return "see" if may_see(session, staff, people) else None


def _load(task_id: str, staff: Staff) -> tuple[Task, str]:
    """The task row and the relation, or a 404 / 403 page."""
    if len(task_id) > MAX_ID:
        abort(404)
    with engine().db.read() as session:
        row = session.get(Task, task_id)
        if row is None:
            abort(404)
        relation = _relation(session, staff, row)
        session.expunge(row)
    if relation is None:
        abort(403)
    return row, relation


@bp.route("/<task_id>", methods=["GET", "POST"])
@login_required
def show(task_id: str) -> Any:
    staff = require_staff()
    row, relation = _load(task_id, staff)
    if request.method == "GET":
        return _page(row, relation, staff, Outcome())
    action = request.form.get("action", "")
    if action == "claim":
        return _claim(row, relation, staff)
    if action == "unclaim":
        return _unclaim(row, staff)
    if action in ("complete", "draft") or camunda.is_camunda_form(Form.from_json(row.form or {})):
        return _submit(row, relation, staff, action)  # a Camunda Form's "Add a row" posts no action
    abort(400)


def _claim(row: Task, relation: str, staff: Staff) -> Any:
    if row.status != TaskStatus.OPEN:
        return _page(row, relation, staff, Outcome(409, problem=_closed_message(row)))
    if relation == "work":
        return redirect(url_for("tasks.show", task_id=row.id))
    if relation != "claim":
        return _page(row, relation, staff, Outcome(409, problem=_taken_message(row)))
    try:
        engine().claim(row.id, staff.id, actor=staff.id)
    except NotFound:
        abort(404)
    except Conflict:
        fresh, relation = _load(row.id, staff)
        problem = _taken_message(fresh) if fresh.status == TaskStatus.OPEN else _closed_message(fresh)
        return _page(fresh, relation, staff, Outcome(409, problem=problem))
    flash(_("You took the task. It is now in your own tasks."), "success")
    return redirect(url_for("tasks.show", task_id=row.id))


def _unclaim(row: Task, staff: Staff) -> Any:
    with engine().db.read() as session:
        allowed = may_unclaim(session, staff, TaskPeople.of(row))
    if not allowed:
        abort(403)
    try:
        engine().unclaim(row.id, actor=staff.id)
    except NotFound:
        abort(404)
    except Conflict:
        pass  # already closed: the page shows that
    flash(_("You gave the task back to the group."), "success")
    return redirect(url_for("tasks.show", task_id=row.id))


def _submit(row: Task, relation: str, staff: Staff, action: str) -> Any:
    form = Form.from_json(row.form or {})
    if camunda.is_camunda_form(form):
        return camunda.submit(row, relation, staff, action)
    posted = submitted_values(form, request.form)
    if row.status != TaskStatus.OPEN:
        return _page(row, relation, staff, Outcome(409, shown=posted, problem=_closed_message(row)))
    if relation != "work":
        return _page(row, relation, staff, Outcome(409, shown=posted, problem=_taken_message(row)))
    if action == "draft":
        with engine().db.transaction() as session:
            save_draft(session, row.id, staff.id, posted, engine().clock())
        flash(_("Your draft was saved. Only you can see it."), "success")
        return redirect(url_for("tasks.show", task_id=row.id))
    errors = _check(form, row, posted)
    if errors:
        return _page(row, relation, staff, Outcome(400, shown=posted, errors=errors))
    return complete(row, relation, staff, posted, lambda err: _field_errors(form, err))


def complete(row: Task, relation: str, staff: Staff, values: Mapping[str, Any],
             errors_of: Any) -> Any:
    """Complete the task with `values`; the inbox with a message, or this page saying why not."""
    try:
        engine().complete_task(row.id, dict(values), actor=staff.id)
    except FormError as err:
        return _page(row, relation, staff, Outcome(400, shown=dict(values), errors=errors_of(err)))
    except NotFound:
        abort(404)
    except Conflict:
        fresh, relation = _load(row.id, staff)
        return _page(fresh, relation, staff, Outcome(409, shown=dict(values), problem=_closed_message(fresh)))
    except ProcessError as err:
        current_app.logger.warning("task %s: the process could not go on: %s", row.id, err.element_id)
        problem = _("The process could not go on from this step with these answers (at %(element)s). "
                    "Nothing was saved; check the answers or ask the process owner.",
                    element=bpmn_texts.element_name(err.element_id or "-", err.element_id))
        return _page(row, relation, staff, Outcome(422, shown=dict(values), problem=problem))
    with engine().db.transaction() as session:
        discard_drafts(session, row.id)
    flash(_("Done: %(task)s.", task=bpmn_texts.element_name(row.element_id, row.name)), "success")
    return redirect(_inbox_url())


def _check(form: Form, row: Task, posted: Mapping[str, Any]) -> dict[str, str]:
    """Every problem at once: the engine's form rules, and that a named case manager is someone who may be one."""
    errors: dict[str, str] = {}
    try:
        validate_submission(form, posted, current=_variables(row))
    except FormError as err:
        errors.update(_field_errors(form, err))
    choices = dict(_staff_choices()) if any(f.id in STAFF_FIELDS for f in form.fields) else {}
    for f in form.fields:
        value = str(posted.get(f.id) or "").strip()
        if f.id in STAFF_FIELDS and value and value not in choices and f.id not in errors:
            errors[f.id] = _("Choose a person from the list")
    return errors


def _field_errors(form: Form, err: FormError) -> dict[str, str]:
    return {field_id: field_message(form.field(field_id), message) for field_id, message in err.errors.items()}


def _variables(row: Task) -> dict[str, Any]:
    try:
        variables: dict[str, Any] = engine().case(row.case_id)["variables"]
    except NotFound:
        return {}
    return variables


def _staff_choices() -> list[tuple[str, str]]:
    """The people who may be named case manager: (user id, "Name, title")."""
    with engine().db.read() as session:
        people = {u.id: u for role in sorted(CASE_MANAGER_ROLES, key=lambda r: r.value)
                  for u in users_with_role(session, role)}
    return [(u.id, f"{u.name}, {u.title}" if u.title else u.name)
            for u in sorted(people.values(), key=lambda u: (u.name, u.id))]


def _inbox_url() -> str:
    for endpoint in ("inbox.index", "inbox.show", "inbox.inbox"):
        if endpoint in current_app.view_functions:
            return url_for(endpoint)
    return url_for("home")


def _details_url(row: Task, anchor: str = "") -> str | None:
    """The inbox's page of the task (dates, assignment, comments, history), when the inbox is there."""
    if "inbox.task" in current_app.view_functions:
        return url_for("inbox.task", task_id=row.id) + anchor
    return None


def _closed_message(row: Task) -> str:
    if row.status == TaskStatus.COMPLETED:
        who = _person(row.completed_by)
        return (_("This task was already completed by %(person)s. Your answers were not saved.", person=who)
                if who else _("This task was already completed. Your answers were not saved."))
    return _("This task is no longer open (the case moved on or was cancelled). Your answers were not saved.")


def _taken_message(row: Task) -> str:
    who = _person(row.assignee)
    if who:
        return _("%(person)s took this task first. Your answers were not saved.", person=who)
    return _("Take the task first: only the person it is assigned to can fill it in.")


def _person(user_id: str | None) -> str | None:
    if not user_id:
        return None
    with engine().db.read() as session:
        user = session.get(StaffUser, user_id)
        return user.name if user is not None else user_id


_WHY = {"work": "assignee of the task", "claim": "the task is offered to them", "lead": "team lead of the task's team",
        "see": "may see the task"}


def _role(staff: Staff, relation: str) -> str:
    if relation == "lead":
        return Role.TEAM_LEAD.value
    return next((r.value for r in Role if r in staff.roles), "staff")


def _page(row: Task, relation: str, staff: Staff, outcome: Outcome) -> Any:
    """Render the task page; writes one access-log row per client case shown."""
    form = Form.from_json(row.form or {})
    try:
        case = engine().case(row.case_id)
    except NotFound:
        abort(404)
    open_ = row.status == TaskStatus.OPEN
    editable = open_ and relation == "work"
    now = engine().clock()
    with engine().db.transaction() as session:
        draft = draft_of(session, row.id, staff.id) if editable else None
        glance = case_glance(session, case, now, current_app.config.get("IDENTITY_CODE_KEYS"))
        log_case_access(session, user_id=staff.id, role=_role(staff, relation), case_ids=[row.case_id],
                        what=f"task page {row.element_id}", why=_WHY[relation], at=now)
        comments = comments_of(session, row.id) if "inbox.add_comment" in current_app.view_functions else None
        draft_values = dict(draft.values) if draft is not None else None
        draft_saved_at = draft.saved_at if draft is not None else None
    history = _history(row)
    variables = case.get("variables") or {}
    shown = outcome.shown if outcome.shown is not None else initial_values(form, variables, draft_values)
    fields: list[FieldView] = []
    camunda_html: Markup | None = None
    camunda_summary: Markup | None = None
    kind = "fields"
    if camunda.is_camunda_form(form):
        kind, camunda_html, camunda_summary = camunda.render(row, variables, draft_values, outcome)
    else:
        needs_staff = any(f.id in STAFF_FIELDS for f in form.fields)
        fields = field_views(row.element_id, form, shown, outcome.errors, _staff_choices() if needs_staff else None)
    summary = [(f.html_id, f.label, f.error) for f in fields if f.error]
    context = {
        "task": row, "task_name": bpmn_texts.element_name(row.element_id, row.name), "title": None,
        "relation": relation, "open": open_, "editable": editable, "fields": fields, "kind": kind,
        "camunda_html": camunda_html, "camunda_summary": camunda_summary, "summary": summary,
        "problem": outcome.problem,
        "draft_saved_at": draft_saved_at if outcome.shown is None else None, "glance": glance,
        "assign_url": _details_url(row, "#assign-heading") if relation == "lead" and open_ else None,
        "details_url": _details_url(row), "task_id": row.id, "comments": comments,
        "comment_next": url_for("tasks.show", task_id=row.id) + "#comments",
        "people_names": _names_of(history), "history": history,
        "assignee_name": _person(row.assignee), "completed_by_name": _person(row.completed_by),
        "now": now, "due": aware(row.due), "completed_at": aware(row.completed_at),
    }
    context["title"] = context["task_name"]
    return render_template("tasks/show.html", **context), outcome.status


def _names_of(history: list[Any]) -> dict[str, str]:
    """Staff names for the ids the task's history names."""
    ids = sorted({p for e in history for p in (e.actor, e.from_value, e.to_value) if p})
    if not ids:
        return {}
    with engine().db.read() as session:
        return dict(session.execute(select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_(ids))).all())


def _history(row: Task) -> list[Any]:
    try:
        return list(engine().task_history(row.id))
    except NotFound:
        return []


@bp.errorhandler(404)
def _missing(_err: Exception) -> Any:
    return render_template("tasks/missing.html", title=_("Task not found")), 404


@bp.errorhandler(403)
def _forbidden(_err: Exception) -> Any:
    return render_template("tasks/forbidden.html", title=_("No access to this task")), 403
