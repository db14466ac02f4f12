"""Lead times (`/manage/flow`) and workload (`/manage/workload`) for team leads and managers, with JSON twins.

Views stay thin: `casework.lead_times` and `casework.workload` count; the filters of `/manage` (team,
municipality: `webapp.manage.views.filters`) are reused and this module adds the period, the referral source
and the process version the case runs on. The lead times page holds aggregates only. The workload page names
staff (not clients); a team lead's rebalancing list shows one case manager's case numbers and is access-logged
once per request; the rebalancing itself goes through the case's process (the case manager change flow).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask import session as flask_session
from flask_babel import format_date, format_decimal, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from casework.access_log import AccessAction, log_case_access
from casework.case_actions import CHANGE_REASONS, MAX_TEXT
from casework.case_manager import AssignmentReason
from casework.client_case import ClosureReason
from casework.finnish_time import finnish_day
from casework.lead_times import (
    MIN_CASES,
    NAMED,
    NOT_NAMED,
    Count,
    Endings,
    FlowFilter,
    LeadTime,
    Period,
    Stretch,
    Week,
    case_versions,
    endings,
    lead_times,
    weekly_flow,
)
from casework.referral import ReferralSource
from casework.small_numbers import SUPPRESSED
from casework.staff import Staff
from casework.stalls import ALL_VERSIONS, LATEST, may_manage
from casework.workload import (
    MAX_REBALANCE,
    NO_PLAN,
    CaseRef,
    Load,
    Outcome,
    Workload,
    cases_of,
    may_rebalance,
    rebalance,
    workload,
)
from webapp.api.openapi import describe, query
from webapp.auth.api import api_route, api_staff, json_error
from webapp.auth.session import roles_required
from webapp.manage import api, bp
from webapp.manage.views import (
    DATE_PARAMS,
    FILTER_PARAMS,
    ROLES,
    Filters,
    _manager_staff,
    csv_response,
    engine,
    filters,
)

WHY_LIST = "management: a team lead choosing cases to rebalance (case numbers only)"
RESULTS_KEY = "manage_rebalance_results"
STRETCH_LABELS: dict[Stretch, Any] = {
    Stretch.REFERRAL_TO_DECISION: _l("Referral → decision"),
    Stretch.DECISION_TO_PLAN: _l("Decision → first plan"),
    Stretch.PLAN_TO_SERVICE: _l("Plan → first service started"),
    Stretch.REFERRAL_TO_CLOSURE: _l("Referral → closure"),
    Stretch.DECISION_TO_CASE_MANAGER: _l("Decision → first case manager"),
    Stretch.WITHOUT_CASE_MANAGER: _l("Without a case manager at a change"),
}
STRETCH_HINTS: dict[Stretch, Any] = {
    Stretch.REFERRAL_TO_DECISION: _l("From the referral to the coordinator's decision."),
    Stretch.DECISION_TO_PLAN: _l("From the decision to the first version of the plan."),
    Stretch.PLAN_TO_SERVICE: _l("From the first plan to the first service that started."),
    Stretch.REFERRAL_TO_CLOSURE: _l("From the referral to the closing of the case."),
    Stretch.DECISION_TO_CASE_MANAGER: _l("From the decision to the naming of the first case manager."),
    Stretch.WITHOUT_CASE_MANAGER: _l("Per change of case manager: from the end of one to the start of the next."),
}
CLOSURE_LABELS: dict[str, Any] = {
    ClosureReason.EMPLOYMENT.value: _l("Employment"),
    ClosureReason.EDUCATION.value: _l("Education"),
    ClosureReason.VOCATIONAL_REHABILITATION.value: _l("Vocational rehabilitation (Kela)"),
    ClosureReason.PENSION_PROCESS.value: _l("Pension process"),
    ClosureReason.EMPLOYMENT_SERVICES.value: _l("Back to employment services only"),
    ClosureReason.MOVED_AWAY.value: _l("Moved away"),
    ClosureReason.NOT_REACHED.value: _l("Client not reached"),
    ClosureReason.CLIENT_ENDED.value: _l("Client ended it"),
    ClosureReason.BASIC_SERVICES.value: _l("Basic services (no case manager needed)"),
    ClosureReason.OWN_WORKER.value: _l("The own worker carries the client"),
}
NEXT_LABELS: dict[str, Any] = {NAMED: _l("Next responsible named"), NOT_NAMED: _l("No next responsible named")}
REASON_LABELS: dict[AssignmentReason, Any] = {
    AssignmentReason.STAFF_LEAVING: _l("Staff leaving or absent"),
    AssignmentReason.WORKLOAD: _l("Workload"),
    AssignmentReason.BETTER_FIT: _l("Better fit"),
}
# what casework says when a change cannot start, as the page says it
CONFLICT_TEXTS: dict[str, Any] = {
    "a change of case manager is already under way": _l("A change of case manager is already under way."),
    "the case has no case manager to change": _l("The case has no case manager to change."),
    "the case has no case manager yet: the coordinator's decision names one":
        _l("The case has no case manager yet."),
    "the process cannot start a change of case manager now": _l("The process cannot start a change now."),
    "no such case": _l("No such case."),
    "not a case of a team you lead": _l("Not a case of a team you lead."),
}
TABLES = ("lead-times", "weekly", "closure-reasons", "destinations", "next-responsible")


def _today() -> date:
    return finnish_day(engine().clock())


# -- the flow filters ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FlowChoice:
    """The filters of `/manage` (team, municipality, referral source, site variant, period) and the process
    version of the case: every version unless one is asked for (`latest`: each process's newest)."""

    base: Filters
    period: Period
    definition_ids: frozenset[int] | None

    @property
    def errors(self) -> tuple[tuple[str, str], ...]:
        return self.base.errors

    def args(self) -> dict[str, str]:
        return self.base.args()

    def flow_filter(self) -> FlowFilter:
        return FlowFilter(self.period, self.base.scope, None, self.definition_ids)


def flow_choice(session: Session, staff: Staff, today: date) -> FlowChoice:
    """The request's filters as the lead times count them."""
    base = filters(session, staff)
    used = case_versions(session)
    version = base.version if (request.args.get("version") or "").strip() else ALL_VERSIONS
    ids: frozenset[int] | None = None
    if version == LATEST:
        newest: dict[str, int] = {}
        for _id, key, number, _name in used:
            newest[key] = max(number, newest.get(key, number))
        ids = frozenset(d for d, key, number, _n in used if newest[key] == number)
    elif version != ALL_VERSIONS:
        ids = frozenset(d for d, key, number, _n in used if f"{key}:{number}" == version)
    base = replace(base, version=version, versions=[(key, number, name) for _d, key, number, name in used])
    first, last = base.first_day or today - timedelta(days=29), base.last_day or today
    return FlowChoice(base, Period(first, last), ids)


# -- what the page and the CSV show ------------------------------------------------------------------------------
def days_text(value: timedelta | None) -> str:
    """A lead time in days with one decimal (hours under a day would be false precision over weeks)."""
    if value is None:
        return ""
    return _("%(days)s d", days=format_decimal(value.total_seconds() / 86400, "#,##0.0"))


def _days_number(value: timedelta | None) -> str:
    return f"{value.total_seconds() / 86400:.1f}".replace(".", ",") if value is not None else ""


def week_label(week: Week) -> str:
    year, number = week.iso
    return _("Week %(week)d/%(year)d (from %(day)s)", week=number, year=year,
             day=format_date(week.monday, "d.M."))


def week_tick(week: Week) -> str:
    return _("wk %(week)d", week=week.iso[1])


def _count_rows(counts: list[Count], labels: dict[str, Any]) -> list[tuple[str, int | None, str]]:
    return [(str(labels.get(c.key, c.key)), c.shown, str(c.shown) if c.shown is not None else SUPPRESSED)
            for c in counts]


def _csv_table(table: str, times: list[LeadTime], weeks: list[Week], ended: Endings) -> tuple[list[str], list[Any]]:
    if table == "lead-times":
        return (["stretch", "cases", "median_days", "p90_days"],
                [[t.stretch.value, t.count, _days_number(t.p50), _days_number(t.p90)] for t in times])
    if table == "weekly":
        return (["week", "monday", "opened", "closed"],
                [[f"{w.iso[0]}-W{w.iso[1]:02d}", w.monday.isoformat(), w.opened, w.closed] for w in weeks])
    counts = {"closure-reasons": ended.reasons, "destinations": ended.destinations,
              "next-responsible": ended.next_responsible}[table]
    return (["key", "cases"], [[c.key, c.shown if c.shown is not None else SUPPRESSED] for c in counts])


@dataclass(frozen=True)
class FlowFigures:
    times: list[LeadTime]
    weeks: list[Week]
    ended: Endings


def _flow_figures(session: Session, chosen: FlowChoice) -> FlowFigures:
    wanted = chosen.flow_filter()
    return FlowFigures(lead_times(session, wanted), weekly_flow(session, wanted), endings(session, wanted))


# -- pages: lead times -------------------------------------------------------------------------------------------
@bp.route("/flow")
@roles_required(*ROLES)
def flow() -> Any:
    """Lead times, weekly inflow and outflow, and how cases ended, for a period (aggregates only)."""
    staff = _manager_staff()
    today = _today()
    with engine().db.read() as session:
        chosen = flow_choice(session, staff, today)
        found = _flow_figures(session, chosen)
    return render_template("manage/flow.html", title=_("Lead times"), c=chosen, f=chosen.base, times=found.times,
                           weeks=found.weeks, ended=found.ended, stretch_labels=STRETCH_LABELS,
                           stretch_hints=STRETCH_HINTS, days_text=days_text,
                           week_label=week_label, week_tick=week_tick, min_cases=MIN_CASES,
                           reasons=_count_rows(found.ended.reasons, CLOSURE_LABELS),
                           destinations=_count_rows(found.ended.destinations, CLOSURE_LABELS),
                           next_responsible=_count_rows(found.ended.next_responsible, NEXT_LABELS))


@bp.route("/flow/<table>.csv")
@roles_required(*ROLES)
def flow_csv(table: str) -> Response:
    """One table of the lead times page as CSV (no personal data)."""
    staff = _manager_staff()
    if table not in TABLES:
        abort(404)
    today = _today()
    with engine().db.read() as session:
        chosen = flow_choice(session, staff, today)
        found = _flow_figures(session, chosen)
    header, rows = _csv_table(table, found.times, found.weeks, found.ended)
    return csv_response(f"{table}-{chosen.period.first.isoformat()}-{chosen.period.last.isoformat()}.csv", header,
                        rows)


# -- pages: workload ---------------------------------------------------------------------------------------------
WORKLOAD_TABLES = ("people", "teams")


def interval_label(months: int) -> str:
    if months == NO_PLAN:
        return _("No plan yet")
    return ngettext("%(num)d month", "%(num)d months", months)


def _workload_rows(loads: list[Load], intervals: list[int], key_header: str) -> tuple[list[str], list[Any]]:
    header = [key_header, "name", "active_cases", "open_tasks", "overdue_tasks",
              *[("no_plan" if i == NO_PLAN else f"follow_up_{i}_months") for i in intervals]]
    return header, [[load.key, load.name, load.active_cases, load.open_tasks, load.overdue_tasks,
                     *[load.by_interval.get(i, 0) for i in intervals]] for load in loads]


def _chosen_manager(found: Workload) -> str | None:
    wanted = (request.values.get("manager") or "").strip()
    return wanted if wanted and wanted in {p.key for p in found.people} else None


def _render_workload(staff: Staff, errors: dict[str, str] | None = None, status: int = 200) -> Any:
    now = engine().clock()
    rebalancer = may_rebalance(staff)
    manager: str | None = None
    cases: list[CaseRef] = []
    with engine().db.transaction() as session:
        chosen = filters(session, staff)
        found = workload(session, chosen.scope, now)
        if rebalancer:
            manager = _chosen_manager(found)
            if manager is not None:
                cases = cases_of(session, manager, chosen.scope)
                log_case_access(session, user_id=staff.id, role=staff.logged_role(),
                                case_ids=[c.case_id for c in cases],
                                what="management workload: a case manager's cases", why=WHY_LIST, at=now,
                                action=AccessAction.VIEW)
    results = flask_session.pop(RESULTS_KEY, None) if request.method == "GET" else None
    form = request.form if request.method == "POST" else None
    body = render_template(
        "manage/workload.html", title=_("Workload"), f=chosen, found=found, rebalancer=rebalancer, manager=manager,
        manager_name=next((p.name for p in found.people if p.key == manager), ""), cases=cases,
        interval_label=interval_label, reasons=[(r.value, REASON_LABELS[r]) for r in CHANGE_REASONS],
        errors=errors or {}, form=form, chosen_cases=set(form.getlist("case")) if form else set(),
        results=results if isinstance(results, list) else None, conflict_texts=CONFLICT_TEXTS, max_text=MAX_TEXT)
    return body, status


@bp.route("/workload", endpoint="workload")
@roles_required(*ROLES)
def workload_page() -> Any:
    """Per case manager and per team: active cases, open and overdue tasks, cases per follow-up interval."""
    return _render_workload(_manager_staff())


@bp.route("/workload/<table>.csv")
@roles_required(*ROLES)
def workload_csv(table: str) -> Response:
    """The workload per case manager or per team as CSV (staff names, no client data)."""
    staff = _manager_staff()
    if table not in WORKLOAD_TABLES:
        abort(404)
    with engine().db.read() as session:
        chosen = filters(session, staff)
        found = workload(session, chosen.scope, engine().clock())
    loads = found.people if table == "people" else found.teams
    header, rows = _workload_rows(loads, found.intervals, "user_id" if table == "people" else "team_id")
    return csv_response(f"workload-{table}.csv", header, rows)


@bp.route("/workload/rebalance", methods=["POST"])
@roles_required(*ROLES)
def rebalance_cases() -> Any:
    """Starts the case manager change flow for the chosen cases (team leads only), one result per case."""
    staff = _manager_staff()
    if not may_rebalance(staff):
        abort(403)
    chosen_cases = [c for c in request.form.getlist("case") if c.strip()]
    errors: dict[str, str] = {}
    if not chosen_cases:
        errors["rebalance-cases"] = _("Choose at least one case.")
    elif len(chosen_cases) > MAX_REBALANCE:
        errors["rebalance-cases"] = _("Choose at most %(n)d cases at a time.", n=MAX_REBALANCE)
    try:
        reason = AssignmentReason(request.form.get("reason") or "")
        if reason not in CHANGE_REASONS:
            raise ValueError(reason)
    except ValueError:
        reason = CHANGE_REASONS[0]
        errors["rebalance-reason-" + CHANGE_REASONS[0].value] = _("Choose why the case manager should change.")
    note = (request.form.get("note") or "").strip()
    if not note:
        errors["rebalance-note"] = _("Write a few words about why.")
    elif len(note) > MAX_TEXT:
        errors["rebalance-note"] = _("Write at most %(n)d characters.", n=MAX_TEXT)
    if errors:
        return _render_workload(staff, errors, 400)
    results = rebalance(engine(), staff, chosen_cases, reason, note)
    flask_session[RESULTS_KEY] = [[r.business_key, r.outcome.value, r.detail] for r in results]
    started = sum(1 for r in results if r.outcome is Outcome.STARTED)
    if started:
        flash(ngettext("The change of case manager was started for %(num)d case. You name the new case manager "
                       "in its task.",
                       "The change of case manager was started for %(num)d cases. You name the new case managers "
                       "in their tasks.", started), "success")
    if started < len(results):
        flash(ngettext("%(num)d case was not changed: see below.", "%(num)d cases were not changed: see below.",
                       len(results) - started), "error")
    args: dict[str, Any] = {k: v for k, v in request.args.items()
                            if k in ("team", "municipality", "referral_source", "site") and v}
    manager = (request.form.get("manager") or "").strip()
    if manager:
        args["manager"] = manager
    return redirect(url_for("manage.workload", **args) + "#rebalance-results", code=303)


# -- JSON --------------------------------------------------------------------------------------------------------
def _forbidden() -> Any:
    return json_error(403, "AuthorizationException", "only managers and team leads see the management figures")


def _seconds(value: timedelta | None) -> int | None:
    return int(value.total_seconds()) if value is not None else None


@api.route("/lead-times")
@api_route
def api_lead_times() -> Any:
    """The lead times, weekly inflow and outflow and endings of a period, as on /manage/flow."""
    staff = api_staff()
    if not may_manage(staff):
        return _forbidden()
    today = _today()
    with engine().db.read() as session:
        chosen = flow_choice(session, staff, today)
        if chosen.errors:
            return json_error(400, "InvalidRequestException", "; ".join(message for _f, message in chosen.errors))
        found = _flow_figures(session, chosen)

    def counts(items: list[Count]) -> list[dict[str, Any]]:
        return [{"key": c.key, "count": c.shown, "suppressed": c.shown is None} for c in items]

    return jsonify({
        "team": chosen.base.team, "municipality": chosen.base.municipality or None,
        "from": chosen.period.first.isoformat(), "to": chosen.period.last.isoformat(),
        "referralSource": chosen.base.referral_source or None, "site": chosen.base.site or None,
        "version": chosen.base.version, "minCases": MIN_CASES,
        "leadTimes": [{"stretch": t.stretch.value, "count": t.count, "p50Seconds": _seconds(t.p50),
                       "p90Seconds": _seconds(t.p90)} for t in found.times],
        "weeks": [{"week": f"{w.iso[0]}-W{w.iso[1]:02d}", "monday": w.monday.isoformat(), "opened": w.opened,
                   "closed": w.closed} for w in found.weeks],
        "closed": found.ended.closed,
        "closureReasons": counts(found.ended.reasons), "destinations": counts(found.ended.destinations),
        "nextResponsible": counts(found.ended.next_responsible)})


@api.route("/workload")
@api_route
def api_workload() -> Any:
    """The workload per case manager and per team, as on /manage/workload (no client data)."""
    staff = api_staff()
    if not may_manage(staff):
        return _forbidden()
    with engine().db.read() as session:
        chosen = filters(session, staff)
        found = workload(session, chosen.scope, engine().clock())

    def load(item: Load) -> dict[str, Any]:
        return {"id": item.key or None, "name": item.name, "activeCases": item.active_cases,
                "openTasks": item.open_tasks, "overdueTasks": item.overdue_tasks,
                "byFollowUpMonths": {("none" if k == NO_PLAN else str(k)): v
                                     for k, v in sorted(item.by_interval.items())}}

    return jsonify({"team": chosen.team, "municipality": chosen.municipality or None,
                    "followUpMonths": [i for i in found.intervals if i != NO_PLAN],
                    "people": [load(p) for p in found.people], "teams": [load(t) for t in found.teams]})


_COUNTS = {"type": "array", "items": {"type": "object", "properties": {
    "key": {"type": "string"}, "count": {"type": "integer", "nullable": True,
                                         "description": "null when suppressed (1 to minCases - 1)"},
    "suppressed": {"type": "boolean"}}}}
describe("manage_api.api_lead_times", parameters=[
    *FILTER_PARAMS, query("referral_source", "referral source: " + ", ".join(s.value for s in ReferralSource)),
    query("site", "site variant of the process (main: the main model)"),
    query("period", "30, 90 or 365 (the last N days, today included; default 30) or dates (from-to)"),
    *DATE_PARAMS,
    query("version", "all (default: every version), latest (each process's newest) or processKey:version")],
    response={"type": "object", "properties": {
        "team": {"type": "string"}, "municipality": {"type": "string", "nullable": True},
        "from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"},
        "referralSource": {"type": "string", "nullable": True}, "site": {"type": "string", "nullable": True},
        "version": {"type": "string"},
        "minCases": {"type": "integer", "description": "under this many cases the percentiles are null"},
        "leadTimes": {"type": "array", "items": {"type": "object", "properties": {
            "stretch": {"type": "string", "enum": [s.value for s in Stretch]}, "count": {"type": "integer"},
            "p50Seconds": {"type": "integer", "nullable": True}, "p90Seconds": {"type": "integer", "nullable": True}}}},
        "weeks": {"type": "array", "items": {"type": "object", "properties": {
            "week": {"type": "string"}, "monday": {"type": "string", "format": "date"},
            "opened": {"type": "integer"}, "closed": {"type": "integer"}}}},
        "closed": {"type": "integer"}, "closureReasons": _COUNTS, "destinations": _COUNTS,
        "nextResponsible": _COUNTS}})
_LOAD = {"type": "object", "properties": {
    "id": {"type": "string", "nullable": True}, "name": {"type": "string"}, "activeCases": {"type": "integer"},
    "openTasks": {"type": "integer"}, "overdueTasks": {"type": "integer"},
    "byFollowUpMonths": {"type": "object", "additionalProperties": {"type": "integer"},
                         "description": "active cases per follow-up interval of the current plan; none: no plan"}}}
describe("manage_api.api_workload", parameters=FILTER_PARAMS, response={"type": "object", "properties": {
    "team": {"type": "string"}, "municipality": {"type": "string", "nullable": True},
    "followUpMonths": {"type": "array", "items": {"type": "integer"}},
    "people": {"type": "array", "items": _LOAD}, "teams": {"type": "array", "items": _LOAD}}})
