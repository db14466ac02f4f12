"""The inbox list: tabs, filters, saved filters, columns, the JSON list. Views stay thin: `casework.task_list`
lists, `casework.task_access` decides (actions on one task: task_views.py); every page showing client data logs once.
"""

from __future__ import annotations

import time as clock_time
from datetime import date, datetime
from typing import Any

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import to_user_timezone
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from casework import task_filters
from casework.access_log import log_case_access
from casework.errors import CaseworkError
from casework.errors import NotFound as CaseworkNotFound
from casework.staff import Staff
from casework.task_access import TaskPeople, may_claim
from casework.task_list import Page, Sort, Tab, TaskListing, TaskRow, filtered, listing, tab_counts
from casework.users import Role
from engine.models import Task, TaskStatus
from webapp.auth.session import login_required, require_staff
from webapp.inbox import criteria as crit

bp = Blueprint("inbox", __name__, template_folder="templates")

PAGE_SIZE = 25  # rows per page; the app config INBOX_PAGE_SIZE may say otherwise


def _page_size() -> int:
    return int(current_app.config.get("INBOX_PAGE_SIZE") or PAGE_SIZE)
STAFF_ROLES = (Role.COORDINATOR, Role.CASE_MANAGER, Role.TEAM_LEAD, Role.MANAGER, Role.ADMIN, Role.PROCESS_OWNER)
COLUMN_SORT = {"name": Sort.NAME, "business_key": Sort.BUSINESS_KEY, "client": Sort.CLIENT,
               "case_manager": Sort.CASE_MANAGER, "assignee": Sort.ASSIGNEE, "created": Sort.CREATED,
               "due": Sort.DUE, "follow_up": Sort.FOLLOW_UP}


def app_engine() -> Any:
    return current_app.config["ENGINE"]


def clock_now() -> datetime:
    now: datetime = app_engine().clock()
    return now


def inbox_staff() -> Staff:
    staff = require_staff()
    if not staff.has(*STAFF_ROLES):
        abort(403)
    return staff


def task_url(task_id: str) -> str:
    """The task page (webapp/tasks); `/tasks/<id>` while that blueprint is not there."""
    if "tasks.show" in current_app.view_functions:
        return url_for("tasks.show", task_id=task_id)
    return f"/tasks/{task_id}"


@bp.app_template_global("task_url")
def _task_url_global(task_id: str) -> str:
    return task_url(task_id)


@bp.app_template_filter("task_dates")
def task_dates(value: str | None) -> dict[str, date | None]:
    """A 'dates' history value (engine.assignment.dates_value) as {"due": date, "followUp": date}."""
    out: dict[str, date | None] = {"due": None, "followUp": None}
    for part in (value or "").split(";"):
        name, _sep, text = part.partition("=")
        if name in out and text:
            try:
                out[name] = datetime.fromisoformat(text).date()
            except ValueError:
                pass
    return out


@bp.app_template_filter("day")
def day(value: datetime | date | None) -> str:
    """A date as the Finnish convention writes it (d.m.yyyy), on the Finnish calendar (times are stored in UTC)."""
    if value is None:
        return ""
    if isinstance(value, datetime) and value.tzinfo is not None:
        value = to_user_timezone(value)
    return f"{value.day}.{value.month}.{value.year}"


@bp.context_processor
def _labels() -> dict[str, Any]:
    return {"tab_labels": {"mine": _("My tasks"), "groups": _("My groups"), "follow_up": _("Follow-up"),
                           "all": _("All I may see")},
            "column_labels": {"business_key": _("Case number"), "client": _("Client"),
                              "case_manager": _("Case manager"), "assignee": _("Assignee"),
                              "created": _("Created"), "due": _("Due"), "follow_up": _("Follow-up date")}}


# -- the list -----------------------------------------------------------------------------------------

def _tab() -> Tab:
    try:
        return Tab(request.values.get("tab") or "mine")  # a form shown again after a post keeps its tab
    except ValueError:
        return Tab.MINE


def _page() -> tuple[Page, str, int]:
    column = request.values.get("sort") or "due"
    if column not in COLUMN_SORT:
        column = "due"
    try:
        number = max(1, min(int(request.values.get("page") or 1), 100_000))
    except ValueError:
        number = 1
    descending = request.values.get("order") == "desc"
    size = _page_size()
    return Page(sort=COLUMN_SORT[column], descending=descending, offset=(number - 1) * size,
                limit=size), column, number


def _client_label(row: TaskRow) -> str | None:
    if current_app.config.get("INBOX_FULL_NAMES"):
        return row.client_name
    return row.client_initials


def _list(session: Session, staff: Staff, tab: Tab, page: Page, criteria: crit.Criteria
          ) -> tuple[dict[Tab, int], TaskListing]:
    """The tab counts and one page of the list, and the page's one access-log entry (same transaction)."""
    now = clock_now()
    counts = tab_counts(session, staff, now)
    filt = criteria.task_filter()
    keys = current_app.config.get("IDENTITY_CODE_KEYS")
    result = listing(session, staff, tab, now, filt, page, keys,
                     total=None if filtered(filt) else counts[tab])
    log_case_access(session, user_id=staff.id, role=staff.logged_role(), case_ids=[r.case_id for r in result.rows],
                    what="task inbox", why="tasks assigned or offered to the user, or of the team they lead", at=now)
    return counts, result


def _steps(session: Session) -> list[tuple[str, str]]:
    """The steps (element id, name) that have open tasks, for the step filter; read at most once a minute."""
    cache: dict[str, Any] = current_app.extensions.setdefault("polku_inbox_steps", {"at": -1e9, "steps": []})
    if clock_time.monotonic() - cache["at"] > 60:
        rows = session.execute(select(Task.element_id, Task.name).distinct().where(Task.status == TaskStatus.OPEN))
        cache["steps"] = sorted({(e, n or e) for e, n in rows}, key=lambda s: s[1].casefold())
        cache["at"] = clock_time.monotonic()
    return list(cache["steps"])


def _render_index(staff: Staff, criteria: crit.Criteria, errors: dict[str, str] | None = None,
                  form: Any = None, status: int = 200) -> Any:
    tab = _tab()
    page, column, number = _page()
    with app_engine().db.transaction() as session:
        counts, result = _list(session, staff, tab, page, criteria)
        steps = _steps(session)
        saved = [(f.id, f.name, f.team_id, f.owner == staff.id) for f in task_filters.filters_for(session, staff)]
    pages = max(1, -(-result.total // page.limit))
    now = clock_now()
    return render_template(
        "inbox/index.html", title=_("Inbox"), tab=tab, tabs=list(Tab), counts=counts, listing=result,
        rows=result.rows, column=column, descending=page.descending, number=number, pages=pages,
        criteria=criteria, errors=errors or {}, form=form or {}, steps=steps, saved=saved, now=now,
        client_label=_client_label, columns=criteria.columns, teams=sorted(staff.teams),
        may_claim_row=lambda r: may_claim(staff, _people(r)), lead=bool(staff.leads and staff.has(Role.TEAM_LEAD)),
    ), status


def _people(row: TaskRow) -> TaskPeople:
    # the candidate users are not in the row; may_claim needs only "unassigned and offered", which the tab says
    return TaskPeople(row.assignee, frozenset(), frozenset(row.candidate_groups))


@bp.route("/inbox")
@login_required
def index() -> Any:
    staff = inbox_staff()
    applied = request.args.get("filter")
    if applied:
        return _apply_saved(staff, applied)
    return _render_index(staff, crit.current())


@bp.route("/inbox.json")
@login_required
def as_json() -> Response:
    """The same list as JSON (the page's refresh and scripts); the same criteria, the same access log."""
    staff = inbox_staff()
    tab = _tab()
    page, column, number = _page()
    with app_engine().db.transaction() as session:
        counts, result = _list(session, staff, tab, page, crit.current())
    now = clock_now()
    link = task_url("TASK_ID")  # one url_for per response, not per row
    return jsonify({
        "tab": tab.value, "counts": {t.value: n for t, n in counts.items()}, "total": result.total,
        "page": number, "pageSize": page.limit, "sort": column, "order": "desc" if page.descending else "asc",
        "tasks": [{"id": r.id, "name": r.name, "step": r.element_id, "businessKey": r.business_key,
                   "client": _client_label(r), "caseManager": r.case_manager_name, "assignee": r.assignee,
                   "assigneeName": r.assignee_name, "created": r.created_at.isoformat(),
                   "due": r.due.isoformat() if r.due else None,
                   "followUp": r.follow_up.isoformat() if r.follow_up else None, "overdue": r.overdue(now),
                   "url": link.replace("TASK_ID", r.id)} for r in result.rows]})


def back_to_list(tab: str | None = None) -> Response:
    """Back to the list the person was on (tab, sort and page come back as they were)."""
    form = request.form
    args: dict[str, Any] = {k: v for k, v in (("tab", tab or form.get("tab")), ("sort", form.get("sort")),
                                              ("order", form.get("order")), ("page", form.get("page"))) if v}
    return redirect(url_for("inbox.index", **args))


@bp.route("/inbox/filter", methods=["POST"])
@login_required
def apply_filter() -> Any:
    staff = inbox_staff()
    if request.form.get("action") == "clear":
        crit.clear()
        flash(_("Filters cleared."), "success")
        return back_to_list()
    criteria, errors = crit.parse(request.form, crit.current())
    if errors:
        return _render_index(staff, crit.current(), errors, request.form, 400)
    crit.keep(criteria)
    return back_to_list()


@bp.route("/inbox/columns", methods=["POST"])
@login_required
def choose_columns() -> Response:
    inbox_staff()
    chosen = tuple(c for c in task_filters.COLUMNS if request.form.get(f"column_{c}"))
    from dataclasses import replace

    crit.keep(replace(crit.current(), columns=chosen))
    flash(_("Columns changed."), "success")
    return back_to_list()


def _apply_saved(staff: Staff, filter_id: str) -> Response:
    try:
        with app_engine().db.read() as session:
            record = task_filters.get_filter(session, staff, int(filter_id))
            saved = record.saved
    except (ValueError, CaseworkNotFound):
        flash(_("That saved filter does not exist or is not shared with you."), "error")
        return redirect(url_for("inbox.index"))
    crit.keep(crit.Criteria.of_saved(saved, record.id))
    column = next((c for c, s in COLUMN_SORT.items() if s.value == saved.sort), "due")
    return redirect(url_for("inbox.index", tab=saved.tab, sort=column, order="desc" if saved.descending else None))


@bp.route("/inbox/filters", methods=["POST"])
@login_required
def save_filter() -> Any:
    staff = inbox_staff()
    name = (request.form.get("name") or "").strip()
    team = request.form.get("share") or None
    tab = _tab_of_form()
    column = request.form.get("sort") or "due"
    sort = COLUMN_SORT.get(column, Sort.DUE).value
    errors: dict[str, str] = {}
    if not name:
        errors["filter-name"] = _("Enter a name for the filter.")
    elif len(name) > 100:
        errors["filter-name"] = _("A name has at most 100 characters.")
    elif team is not None and team not in staff.teams:
        errors["filter-share"] = _("You can share a filter only with your own team.")
    if not errors:
        try:
            with app_engine().db.transaction() as session:
                task_filters.save_filter(session, staff, name, crit.current().saved(tab, sort,
                                         request.form.get("order") == "desc"), clock_now(), team)
        except CaseworkError:
            errors["filter-name"] = _("You already have a filter with this name, or too many filters.")
    if errors:
        return _render_index(staff, crit.current(), errors, request.form, 400)
    flash(_("Filter “%(name)s” saved.", name=name) + (" " + _("Your team sees it too.") if team else ""), "success")
    return back_to_list()


def _tab_of_form() -> str:
    tab = request.form.get("tab") or "mine"
    return tab if tab in task_filters.TABS else "mine"


@bp.route("/inbox/filters/<int:filter_id>/delete", methods=["POST"])
@login_required
def delete_filter(filter_id: int) -> Response:
    staff = inbox_staff()
    try:
        with app_engine().db.transaction() as session:
            task_filters.delete_filter(session, staff, filter_id)
    except CaseworkNotFound:
        flash(_("That saved filter does not exist."), "error")
    except CaseworkError:
        flash(_("Only the person who saved a filter may delete it."), "error")
    else:
        flash(_("Filter deleted."), "success")
    return back_to_list()
