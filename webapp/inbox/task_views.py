"""The inbox's actions on one task: claim, give back, dates, a team lead's assignment, comments, and the
page that holds them (the task's form itself is on the task page, webapp/tasks). Routes of the inbox blueprint.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from casework import task_comments
from casework.access_log import log_case_access
from casework.staff import Staff
from casework.task_access import TaskPeople, may_assign, may_claim, may_see, may_unclaim, may_work
from casework.teams import team_members
from casework.users import StaffUser
from engine.errors import Conflict, NotFound
from engine.models import Case, Task, TaskStatus
from webapp.auth.session import login_required
from webapp.inbox.views import app_engine, back_to_list, bp, clock_now, day, inbox_staff

MAX_REASON = 500


# -- actions on a task --------------------------------------------------------------------------------

def _task(session: Session, task_id: str) -> tuple[Task, str | None]:
    task = session.get(Task, task_id)
    if task is None:
        abort(404)
    business_key = session.scalar(select(Case.business_key).where(Case.id == task.case_id))
    return task, business_key


def _label(task: Task, business_key: str | None) -> str:
    return f"{task.name or task.element_id} ({business_key or task.case_id[:8]})"


def _seen_task(staff: Staff, task_id: str) -> tuple[TaskPeople, str, bool]:
    """The task's people and label; 404 for a task the person may not see (no hint that it exists)."""
    with app_engine().db.read() as session:
        task, business_key = _task(session, task_id)
        people = TaskPeople.of(task)
        if not may_see(session, staff, people):
            abort(404)
        return people, _label(task, business_key), task.status == TaskStatus.OPEN


@bp.route("/inbox/tasks/<task_id>/claim", methods=["POST"])
@login_required
def claim(task_id: str) -> Response:
    staff = inbox_staff()
    people, label, _open = _seen_task(staff, task_id)
    if people.assignee == staff.id:
        flash(_("%(task)s is already yours.", task=label), "info")
        return back_to_list()
    if not may_claim(staff, people):
        flash(_("Someone else has already claimed %(task)s.", task=label) if people.assignee
              else _("%(task)s is not offered to you.", task=label), "error")
        return back_to_list()
    try:
        app_engine().claim(task_id, staff.id, actor=staff.id)
    except Conflict:
        flash(_("Someone else claimed %(task)s first, or it was completed. The list shows it as it is now.",
                task=label), "error")
        return back_to_list()
    except NotFound:
        abort(404)
    flash(_("You claimed %(task)s. It is in your tasks.", task=label), "success")
    return back_to_list()


@bp.route("/inbox/tasks/<task_id>/unclaim", methods=["POST"])
@login_required
def unclaim(task_id: str) -> Response:
    staff = inbox_staff()
    people, label, _open = _seen_task(staff, task_id)
    with app_engine().db.read() as session:
        allowed = may_unclaim(session, staff, people)
    if not allowed:
        flash(_("%(task)s is not yours to give back.", task=label), "error")
        return back_to_list()
    try:
        app_engine().unclaim(task_id, actor=staff.id)
    except Conflict:
        flash(_("%(task)s was completed meanwhile.", task=label), "error")
        return back_to_list()
    flash(_("You gave %(task)s back to its group.", task=label), "success")
    return back_to_list()


@bp.route("/inbox/tasks/<task_id>", methods=["GET"])
@login_required
def task(task_id: str) -> Any:
    """Dates, assignment, comments and history of one task (the form itself is on the task page)."""
    staff = inbox_staff()
    return _render_task(staff, task_id)


def _render_task(staff: Staff, task_id: str, errors: dict[str, str] | None = None, form: Any = None,
                 status: int = 200) -> Any:
    now = clock_now()
    with app_engine().db.transaction() as session:
        row, business_key = _task(session, task_id)
        people = TaskPeople.of(row)
        if not may_see(session, staff, people):
            abort(404)
        lead = may_assign(session, staff, people)
        members = [(u.id, u.name) for u in team_members(session, staff.leads)] if lead else []
        comments = task_comments.comments_of(session, task_id)
        log_case_access(session, user_id=staff.id, role=staff.logged_role(), case_ids=[row.case_id],
                        what="task details and comments", why="a task assigned or offered to the user", at=now)
        open_ = row.status == TaskStatus.OPEN
        label = _label(row, business_key)
        due, follow_up = row.due, row.follow_up
    history = app_engine().task_history(task_id)
    people_names = _names({p for e in history for p in (e.actor, e.from_value, e.to_value) if p}
                          | ({people.assignee} if people.assignee else set()))
    return render_template(
        "inbox/task.html", title=label, task_id=task_id, label=label, open=open_, people=people,
        may_dates=open_ and (may_work(staff, people) or lead), lead=lead and open_, members=members,
        comments=comments, history=history, errors=errors or {}, form=form or {}, now=now,
        due=due, follow_up=follow_up, people_names=people_names), status


def _names(user_ids: set[str]) -> dict[str, str]:
    """Staff names for the ids a task's history names (a history shows people, not account ids)."""
    if not user_ids:
        return {}
    with app_engine().db.read() as session:
        rows = session.execute(select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_(sorted(user_ids))))
        return {user_id: name for user_id, name in rows}


def _date(form: Any, name: str, field_id: str, errors: dict[str, str]) -> datetime | None:
    text = (form.get(name) or "").strip()
    if not text:
        return None
    try:
        return datetime.combine(date.fromisoformat(text), time.min, tzinfo=UTC)
    except ValueError:
        errors[field_id] = _("Enter the date as YYYY-MM-DD, for example 2026-03-31.")
        return None


@bp.route("/inbox/tasks/<task_id>/dates", methods=["POST"])
@login_required
def set_dates(task_id: str) -> Any:
    staff = inbox_staff()
    people, label, open_ = _seen_task(staff, task_id)
    with app_engine().db.read() as session:
        allowed = open_ and (may_work(staff, people) or may_assign(session, staff, people))
    if not allowed:
        flash(_("Only the person working on %(task)s or their team lead can change its dates.", task=label), "error")
        return redirect(url_for("inbox.task", task_id=task_id))
    errors: dict[str, str] = {}
    due = _date(request.form, "due", "task-due", errors)
    follow_up = _date(request.form, "follow_up", "task-follow-up", errors)
    if errors:
        return _render_task(staff, task_id, errors, request.form, 400)
    try:
        app_engine().set_dates(task_id, due, follow_up, actor=staff.id)
    except Conflict:
        flash(_("%(task)s was completed meanwhile; its dates were not changed.", task=label), "error")
        return redirect(url_for("inbox.task", task_id=task_id))
    if follow_up is not None and follow_up.date() > clock_now().date() and people.assignee == staff.id:
        flash(_("Dates saved. %(task)s waits in Follow-up until %(day)s.", task=label, day=day(follow_up)),
              "success")
    else:
        flash(_("Dates saved for %(task)s.", task=label), "success")
    return redirect(url_for("inbox.task", task_id=task_id))


@bp.route("/inbox/tasks/<task_id>/assign", methods=["POST"])
@login_required
def assign(task_id: str) -> Any:
    staff = inbox_staff()
    people, label, open_ = _seen_task(staff, task_id)
    with app_engine().db.read() as session:
        allowed = open_ and may_assign(session, staff, people)
        members = {u.id: u.name for u in team_members(session, staff.leads)} if allowed else {}
    if not allowed:
        flash(_("Only a team lead of the task's team can assign %(task)s.", task=label), "error")
        return redirect(url_for("inbox.task", task_id=task_id))
    user = request.form.get("assignee") or ""
    reason = (request.form.get("reason") or "").strip()
    errors: dict[str, str] = {}
    if user not in members:
        errors["assign-person"] = _("Choose a person of your team.")
    if not reason:
        errors["assign-reason"] = _("Say why the task goes to this person.")
    elif len(reason) > MAX_REASON:
        errors["assign-reason"] = _("A reason has at most %(n)d characters.", n=MAX_REASON)
    if errors:
        return _render_task(staff, task_id, errors, request.form, 400)
    try:
        app_engine().set_assignee(task_id, user, actor=staff.id, reason=reason)
    except Conflict:
        flash(_("%(task)s was completed meanwhile; it was not assigned.", task=label), "error")
        return redirect(url_for("inbox.task", task_id=task_id))
    flash(_("%(task)s is now assigned to %(person)s.", task=label, person=members[user]), "success")
    return redirect(url_for("inbox.task", task_id=task_id))


@bp.route("/inbox/tasks/<task_id>/comments", methods=["POST"])
@login_required
def add_comment(task_id: str) -> Any:
    """Add a comment; `next` may send the person back to the task page that holds the form."""
    staff = inbox_staff()
    _seen_task(staff, task_id)
    text = (request.form.get("text") or "").strip()
    errors: dict[str, str] = {}
    if not text:
        errors["comment-text"] = _("Write the comment first.")
    elif len(text) > task_comments.MAX_COMMENT:
        errors["comment-text"] = _("A comment has at most %(n)d characters.", n=task_comments.MAX_COMMENT)
    if errors:
        return _render_task(staff, task_id, errors, request.form, 400)
    with app_engine().db.transaction() as session:
        task_comments.add_comment(session, task_id, staff, text, clock_now())
    flash(_("Comment added."), "success")
    target = request.form.get("next") or ""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return redirect(target)
    return redirect(url_for("inbox.task", task_id=task_id) + "#comments")
