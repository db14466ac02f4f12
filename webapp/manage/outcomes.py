"""Whether the model works (`/manage/outcomes`), its tables as CSV and its JSON twin (`/api/manage/outcomes`).

Views stay thin: `casework.outcomes` counts (and says which cases each figure covers) and suppresses small
numbers; the page, the CSV files and the JSON all show the same suppressed figures (`public`), so "< 5" is "< 5"
everywhere. The filters are the managers' (`webapp.manage.views.filters`); two defaults differ from `/manage`,
because outcomes come from closed cases, which are few in a month and mostly on older process versions: without
a `period` the last 365 days, and without a `version` every version.

Aggregates hold no client data and are not logged. The clients' free texts are: a client wrote them, and they
may name people or health matters, so showing them (page, JSON) or downloading them (CSV) writes the access log
once per request, one row per case whose text is shown (no names or case numbers are shown beside them).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from flask import abort, jsonify, render_template, request
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from casework.access_log import AccessAction, log_case_access
from casework.client_case import ClosureReason
from casework.evaluation import DIMENSIONS, FeedbackResponse, GoalProgress
from casework.finnish_time import finnish_day
from casework.outcomes import (
    QUESTIONS,
    SCORES,
    Cohort,
    Period,
    comment_case_ids,
    may_read_free_texts,
    outcomes,
    public,
)
from casework.referral import ReferralSource
from casework.small_numbers import HIDDEN, SUPPRESSED
from casework.staff import Staff
from casework.stalls import ALL_VERSIONS, may_manage
from webapp.api.openapi import describe, query
from webapp.auth.api import api_route, api_staff, json_error
from webapp.auth.session import roles_required
from webapp.cases.sections import PROGRESS_LABELS
from webapp.manage import api, bp
from webapp.manage.views import (
    DATE_PARAMS,
    FILTER_PARAMS,
    REFERRAL_LABELS,
    ROLES,
    Filters,
    csv_response,
    engine,
    filters,
)
from webapp.manage.views import _manager_staff as manager_staff

DEFAULT_DAYS = 365
WHY = "management: the clients' feedback at closure, read by a team lead or manager (no names or case numbers)"
TABLES = ("case-manager", "knows", "ratings", "goals", "services", "destinations", "responses", "feedback",
          "comments")

DIMENSION_LABELS: dict[str, Any] = {"physical": _l("Physical"), "psychological": _l("Psychological"),
                                    "social": _l("Social"), "cognitive": _l("Cognitive")}
DESTINATION_LABELS: dict[ClosureReason, Any] = {
    ClosureReason.EMPLOYMENT: _l("Employment"),
    ClosureReason.EDUCATION: _l("Education"),
    ClosureReason.VOCATIONAL_REHABILITATION: _l("Vocational rehabilitation (Kela)"),
    ClosureReason.PENSION_PROCESS: _l("Pension process"),
    ClosureReason.EMPLOYMENT_SERVICES: _l("Back to employment services only"),
    ClosureReason.MOVED_AWAY: _l("Moved away"),
    ClosureReason.NOT_REACHED: _l("Client not reached"),
    ClosureReason.CLIENT_ENDED: _l("The client ended the case"),
    ClosureReason.BASIC_SERVICES: _l("Basic services (no case manager needed)"),
    ClosureReason.OWN_WORKER: _l("Own worker carries the client (no case manager needed)"),
}
RESPONSE_LABELS: dict[FeedbackResponse, Any] = {
    FeedbackResponse.ANSWERED: _l("Answered"),
    FeedbackResponse.PAPER: _l("Answered on paper"),
    FeedbackResponse.DECLINED: _l("Did not want to answer"),
    FeedbackResponse.NOT_REACHED: _l("Not reached"),
}
QUESTION_LABELS: dict[str, Any] = {
    "knew_whom_to_contact": _l("I knew whom to contact"),
    "got_services": _l("I got the services I needed"),
    "was_heard": _l("I was heard when the plan was made"),
}
SERVICE_LABELS: dict[str, Any] = {
    "onTime": _l("Started by the due date"),
    "late": _l("Started after the due date"),
    "notStarted": _l("Not started, past the due date"),
    "endedUnstarted": _l("Ended without starting (refused, not available, no consent, dropped)"),
}


def _outcome_filters(session: Session, staff: Staff) -> Filters:
    """The managers' filters with this page's defaults: the last 365 days, every process version."""
    chosen = filters(session, staff)
    if not request.args.get("period"):
        last = finnish_day(engine().clock())
        chosen = replace(chosen, period=str(DEFAULT_DAYS), first_day=last - timedelta(days=DEFAULT_DAYS - 1),
                         last_day=last)
    if not request.args.get("version"):
        chosen = replace(chosen, version=ALL_VERSIONS)
    return chosen


def _cohort(chosen: Filters) -> Cohort:
    assert chosen.first_day is not None and chosen.last_day is not None
    return Cohort(Period.of_dates(chosen.first_day, chosen.last_day), chosen.scope, version=chosen.version)


def _figures(session: Session, staff: Staff, chosen: Filters, what: str, export: bool = False) -> dict[str, Any]:
    """The public figures; when free texts are in them (and the person may read them), the access is logged."""
    now = engine().clock()
    found = outcomes(session, _cohort(chosen), now)
    figures = public(found)
    if not may_read_free_texts(staff):
        figures["feedback"]["comments"] = []
        figures["feedback"]["commentsShown"] = False
        return figures
    read = comment_case_ids(found)
    if read:
        log_case_access(session, user_id=staff.id, role=staff.logged_role(), case_ids=read, what=what, why=WHY, at=now,
                        action=AccessAction.EXPORT if export else AccessAction.VIEW)
    return figures


# -- display -----------------------------------------------------------------------------------------------------
def share_text(value: Any) -> str:
    """A share as a percentage with one decimal; "< 5" when suppressed; a dash when hidden or nothing to divide."""
    if value is None or value == HIDDEN:
        return "–"
    if value == SUPPRESSED:
        return SUPPRESSED
    return format_decimal(float(value) * 100, format="0.0") + " %"


def number_text(value: Any, pattern: str = "0.0") -> str:
    """A count, mean or sum as shown on the page: "< 5" when suppressed, a dash when hidden or unknown."""
    if value is None or value == HIDDEN:
        return "–"
    if value == SUPPRESSED:
        return SUPPRESSED
    return str(format_decimal(value, format=pattern))


def count_text(value: Any) -> str:
    """A count as shown on the page: "< 5" when suppressed, a dash when hidden."""
    return "–" if value in (None, HIDDEN) else str(value)


def _bar(value: Any) -> float | None:
    """The length of a bar: none for a suppressed figure (the table says "< 5")."""
    return None if value in (None, SUPPRESSED, HIDDEN) else float(value)


@bp.route("/outcomes", endpoint="outcomes")
@roles_required(*ROLES)
def outcomes_page() -> Any:
    """Whether the model works, for the chosen period and filters (aggregates; free texts logged)."""
    staff = manager_staff()
    with engine().db.transaction() as session:
        chosen = _outcome_filters(session, staff)
        figures = _figures(session, staff, chosen, "management outcomes: the clients' feedback texts")
    args = chosen.args()
    return render_template("manage/outcomes.html", title=_("Outcomes"), f=chosen, o=figures, args=args,
                           referral_labels=REFERRAL_LABELS,
                           share=share_text, number=number_text, count=count_text, bar=_bar, SUPPRESSED=SUPPRESSED,
                           dimensions=DIMENSION_LABELS, destinations=DESTINATION_LABELS,
                           destination_of={r.value: r for r in ClosureReason}, responses=RESPONSE_LABELS,
                           response_of={r.value: r for r in FeedbackResponse}, questions=QUESTION_LABELS,
                           services=SERVICE_LABELS, progress=PROGRESS_LABELS,
                           progress_of={p.value: p for p in GoalProgress}, scores=SCORES)


# -- CSV -----------------------------------------------------------------------------------------------------------
def _csv_number(value: Any) -> Any:
    return "" if value is None else value


def _csv_share(value: Any) -> Any:
    """A share as a percentage with one decimal (a dot, as the other management CSV files)."""
    if value is None:
        return ""
    return SUPPRESSED if value == SUPPRESSED else f"{float(value) * 100:.1f}"


def _csv_table(table: str, o: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    period = [o["period"]["from"], o["period"]["to"]]
    head = ["period_from", "period_to"]
    if table == "case-manager":
        c = o["caseManager"]
        return head + ["cases", "always_named", "with_gap", "always_named_percent", "days_without"], [
            period + [c["cases"], c["alwaysNamed"], c["withGap"], _csv_share(c["alwaysNamedShare"]),
                      _csv_number(c["daysWithout"])]]
    if table == "knows":
        k = o["knowsCaseManager"]
        return head + ["asked", "yes", "no", "yes_percent", "not_asked"], [
            period + [k["asked"], k["yes"], k["no"], _csv_share(k["yesShare"]), k["notAsked"]]]
    if table == "ratings":
        return head + ["dimension", "paired", "unpaired", "mean_change", "improved", "same", "worse",
                      "improved_percent", "same_percent", "worse_percent"], [
            period + [r["dimension"], r["paired"], r["unpaired"], _csv_number(r["meanChange"]), r["improved"],
                      r["same"], r["worse"], _csv_share(r["improvedShare"]), _csv_share(r["sameShare"]),
                      _csv_share(r["worseShare"])] for r in o["ratings"]]
    if table == "goals":
        g = o["goals"]
        return head + ["goals", *[p.value for p in GoalProgress], "reached_percent"], [
            period + [g["goals"], *[g[p.value] for p in GoalProgress], _csv_share(g["reachedShare"])]]
    if table == "services":
        s = o["services"]
        return head + ["due", "on_time", "late", "not_started", "ended_unstarted", "on_time_percent",
                      "not_due_yet"], [
            period + [s["due"], s["onTime"], s["late"], s["notStarted"], s["endedUnstarted"],
                      _csv_share(s["onTimeShare"]), s["notDueYet"]]]
    if table == "destinations":
        return head + ["destination", "cases", "percent"], [
            period + [d["destination"], d["cases"], _csv_share(d["share"])] for d in o["destinations"]]
    if table == "responses":
        return head + ["response", "cases"], [period + [key, value]
                                              for key, value in o["feedback"]["responses"].items()]
    if table == "feedback":
        return head + ["question", "answers", *[f"score_{n}" for n in SCORES], "mean"], [
            period + [q["question"], q["answers"], *[q["scores"][str(n)] for n in SCORES], _csv_number(q["mean"])]
            for q in o["feedback"]["questions"]]
    return ["comment"], [[text] for text in o["feedback"]["comments"]]


@bp.route("/outcomes/<table>.csv")
@roles_required(*ROLES)
def outcomes_csv(table: str) -> Response:
    """One table of the outcomes page as CSV, suppressed as on the page; the free texts' download is logged."""
    staff = manager_staff()
    if table not in TABLES:
        abort(404)
    with engine().db.transaction() as session:
        chosen = _outcome_filters(session, staff)
        if table == "comments":
            figures = _figures(session, staff, chosen, "management outcomes: the clients' feedback texts",
                               export=True)
        else:  # no free texts read: nothing to log
            figures = public(outcomes(session, _cohort(chosen), engine().clock()))
    header, rows = _csv_table(table, figures)
    return csv_response(f"outcomes-{table}.csv", header, rows)


# -- JSON ----------------------------------------------------------------------------------------------------------
@api.route("/outcomes")
@api_route
def api_outcomes() -> Any:
    """Every figure of the outcomes page, suppressed as there ("< 5"); the free texts' reading is logged."""
    staff = api_staff()
    if not may_manage(staff):
        return json_error(403, "AuthorizationException", "only managers and team leads see the management figures")
    with engine().db.transaction() as session:
        chosen = _outcome_filters(session, staff)
        if chosen.errors:
            return json_error(400, "InvalidRequestException", "; ".join(message for _, message in chosen.errors))
        figures = _figures(session, staff, chosen, "management outcomes (API): the clients' feedback texts")
    return jsonify({"team": chosen.team, "municipality": chosen.municipality or None,
                    "referralSource": chosen.referral_source or None, "version": chosen.version, **figures})


COUNT = {"oneOf": [{"type": "integer"}, {"type": "string", "enum": [SUPPRESSED]}],
         "description": f'a count, or "{SUPPRESSED}" when it is below 5 (0 too) or would give such a count away'}
SHARE = {"oneOf": [{"type": "number"}, {"type": "string", "enum": [SUPPRESSED]}], "nullable": True,
         "description": f'a fraction 0-1 (3 decimals); "{SUPPRESSED}" when suppressed; null when nothing to divide'}
NUMBER = {"oneOf": [{"type": "number"}, {"type": "string", "enum": [SUPPRESSED]}], "nullable": True}


def _object(**properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties}


describe("manage_api.api_outcomes", parameters=[
    *FILTER_PARAMS,
    query("referral_source", "only cases of this referral source (" + ", ".join(
        s.value for s in ReferralSource) + ")"),
    query("version", "all (default here: every process version), latest, or processKey:version"),
    query("period", "30, 90 or 365 (default here: the last 365 days, today included), or dates"),
    *DATE_PARAMS],
    response=_object(
        team={"type": "string"}, municipality={"type": "string", "nullable": True},
        referralSource={"type": "string", "nullable": True}, version={"type": "string"},
        period=_object(**{"from": {"type": "string", "format": "date"}, "to": {"type": "string", "format": "date"}}),
        caseManager=_object(cases=COUNT, alwaysNamed=COUNT, withGap=COUNT, alwaysNamedShare=SHARE,
                            daysWithout={**NUMBER, "description": "days without a named case manager, summed"}),
        knowsCaseManager=_object(asked=COUNT, yes=COUNT, no=COUNT, notAsked=COUNT, yesShare=SHARE),
        ratings={"type": "array", "description": "per dimension (" + ", ".join(DIMENSIONS) + "), paired: "
                 "referral (the first plan's starting situation) to closure; 0 no need - 3 severe",
                 "items": _object(dimension={"type": "string"}, paired=COUNT, unpaired=COUNT,
                                  meanChange={**NUMBER, "description": "closure minus referral (negative: less need)"},
                                  improved=COUNT, same=COUNT, worse=COUNT, improvedShare=SHARE, sameShare=SHARE,
                                  worseShare=SHARE)},
        goals=_object(goals=COUNT, **{p.value: COUNT for p in GoalProgress}, reachedShare=SHARE),
        services=_object(due=COUNT, onTime=COUNT, late=COUNT, notStarted=COUNT, endedUnstarted=COUNT,
                         notDueYet=COUNT, onTimeShare=SHARE),
        closed=COUNT,
        destinations={"type": "array", "items": _object(destination={"type": "string", "enum": [
            r.value for r in ClosureReason]}, cases=COUNT, share=SHARE)},
        feedback=_object(evaluated=COUNT, responses=_object(**{r.value: COUNT for r in FeedbackResponse}),
                         questions={"type": "array", "items": _object(
                             question={"type": "string", "enum": list(QUESTIONS)}, answers=COUNT,
                             scores=_object(**{str(n): COUNT for n in SCORES}), mean=NUMBER)},
                         commentsShown={"type": "boolean"},
                         comments={"type": "array", "items": {"type": "string"},
                                   "description": "the clients' free texts, alphabetical, only when at least 5 "
                                                  "questionnaires were answered; reading them is access-logged"})))
