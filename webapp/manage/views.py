"""The management view (`/manage`): alarms first, then where cases wait per BPMN step; every table as CSV.

Views stay thin: `casework.manager_alarms` and `casework.stalls` count, `casework.stalls.scope_for` decides
which cases a person's figures cover (a manager every case, a team lead their own teams'). Aggregates carry no
personal data. The drill-down lists (`/manage/alarms/<kind>`, `/manage/steps/<process>/<element>`) show case
numbers only, no names, and write the access log once per request for the cases listed.

CSV: UTF-8 with a byte order mark (Excel opens it as UTF-8), semicolon-separated (Finnish Excel's list
separator, since the decimal separator is a comma), ages as whole hours and times as ISO 8601 in Helsinki time.
The aggregates are `/manage/alarms.csv` and `/manage/steps.csv`; a drill-down list is its own URL with
`?format=csv`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import abort, current_app, jsonify, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from casework.access_log import AccessAction, log_case_access
from casework.finnish_time import HELSINKI, finnish_day
from casework.manager_alarms import Alarm, AlarmKind, AlarmSettings, alarm, manager_alarms
from casework.referral import ReferralSource
from casework.staff import Staff
from casework.staffing import Severity
from casework.stalls import (
    ALL_TEAMS,
    ALL_VERSIONS,
    LATEST,
    MY_TEAMS,
    Scope,
    StepKey,
    StepStall,
    known_step,
    may_manage,
    municipality_choices,
    process_versions,
    scope_for,
    step_name,
    step_stalls,
    team_choices,
    version_filter,
    waiting_cases,
)
from casework.stalls import _StepMap as _Steps
from casework.step_summary import (
    BUCKET_ERROR,
    StepDuration,
    StepDurations,
    period_durations,
    refresh,
    refreshed_at,
    site_variants,
)
from casework.users import Role
from engine.runtime import Engine
from webapp import bpmn_texts
from webapp.api.openapi import describe, query
from webapp.auth.api import api_route, api_staff, json_error
from webapp.auth.session import require_staff, roles_required
from webapp.home import add_navigation
from webapp.manage import api, bp

ROLES = (Role.MANAGER, Role.TEAM_LEAD)
LIST_LIMIT = 500  # rows a drill-down page shows (the longest waiting); its CSV has every row
WHY = "management: a team lead or manager following where cases wait (case numbers only)"
DELIMITER = ";"

add_navigation("manage.index", _l("Management"), *ROLES)

ALARM_LABELS: dict[AlarmKind, Any] = {
    AlarmKind.NO_CASE_MANAGER: _l("Active cases without a case manager"),
    AlarmKind.DEACTIVATED_CASE_MANAGER: _l("Cases of deactivated staff"),
    AlarmKind.CLIENT_NOT_INFORMED: _l("Clients not told who their case manager is"),
    AlarmKind.IDLE: _l("Cases without activity"),
    AlarmKind.FOLLOW_UP_OVERDUE: _l("Follow-ups overdue"),
    AlarmKind.REFERRAL_UNANSWERED: _l("Partner referrals unanswered past their start date"),
    AlarmKind.INCIDENT: _l("Open incidents"),
}
SEVERITY_LABELS: dict[Severity, Any] = {
    Severity.CRITICAL: _l("Critical"),
    Severity.HIGH: _l("High"),
    Severity.WARNING: _l("Warning"),
}
KIND_LABELS: dict[str, Any] = {"task": _l("User task"), "job": _l("Automatic step"), "timer": _l("Timer"),
                               "message": _l("Waiting for a message")}


def engine() -> Engine:
    found: Engine = current_app.config["ENGINE"]
    return found


def alarm_description(kind: AlarmKind, settings: AlarmSettings) -> str:
    """What the alarm counts, with the limits in force."""
    if kind is AlarmKind.NO_CASE_MANAGER:
        return _("Past the coordinator decision and nobody named. Should always be zero.")
    if kind is AlarmKind.DEACTIVATED_CASE_MANAGER:
        return _("The case manager's account was deactivated; name someone else.")
    if kind is AlarmKind.CLIENT_NOT_INFORMED:
        return ngettext("Not told within %(num)d day of the naming.", "Not told within %(num)d days of the naming.",
                        settings.inform_within.days)
    if kind is AlarmKind.IDLE:
        return ngettext("No step of the case has moved for %(num)d day.",
                        "No step of the case has moved for %(num)d days.", settings.idle_after.days)
    if kind is AlarmKind.FOLLOW_UP_OVERDUE:
        return _("The follow-up meeting is past its due date, or its date passed without the meeting opening.")
    if kind is AlarmKind.REFERRAL_UNANSWERED:
        return _("The partner has not answered and the service should already have started.")
    return _("A step failed and waits for repair.")


def duration(value: timedelta) -> str:
    """An age as people read it: days and hours (hours only under a day)."""
    hours = int(value.total_seconds() // 3600)
    if hours < 24:
        return _("%(hours)d h", hours=hours)
    return _("%(days)d d %(hours)d h", days=hours // 24, hours=hours % 24)


def step_label(element_id: str, name: str | None) -> str:
    return bpmn_texts.label(element_id, name)


@bp.app_template_global("manage_link")
def manage_link(endpoint: str, **values: Any) -> str | None:
    """The URL of a managers' page, or None while that page does not exist yet (the sub-navigation skips it)."""
    if endpoint not in current_app.view_functions:
        return None
    return url_for(endpoint, **values)


@bp.context_processor
def _filter_choices() -> dict[str, Any]:
    return {"referral_labels": REFERRAL_LABELS}


@bp.app_template_filter("manage_duration")
def _duration_filter(value: timedelta) -> str:
    return duration(value)


# -- the filters ---------------------------------------------------------------------------------------------
PERIODS = ("30", "90", "365")  # the last N days; "dates": from-to
MAX_PERIOD_DAYS = 3 * 365 + 1  # three years: a longer range would draw hundreds of weekly columns on /manage/flow
MAIN_SITE = "main"  # the site variant filter's value for the main model (stored as '')
REFERRAL_LABELS: dict[str, Any] = {
    ReferralSource.EMPLOYMENT_SERVICES.value: _l("Employment services"),
    ReferralSource.SOCIAL_WORK.value: _l("Social work"),
    ReferralSource.HEALTH_STATION.value: _l("Health station"),
    ReferralSource.KELA.value: _l("Kela"),
    ReferralSource.SELF.value: _l("The client themselves"),
    ReferralSource.OTHER.value: _l("Other"),
}


@dataclass(frozen=True)
class Filters:
    scope: Scope
    team: str
    municipality: str
    version: str
    teams: list[tuple[str, str]]
    municipalities: list[str]
    versions: list[tuple[str, int, str]]
    may_see_all: bool
    referral_source: str = ""
    site: str = ""  # '' every variant, MAIN_SITE the main model, else a site's name
    sites: tuple[str, ...] = ()
    period: str = "30"
    first_day: date | None = None
    last_day: date | None = None
    date_from: str = ""  # as typed (kept when wrong)
    date_to: str = ""
    errors: tuple[tuple[str, str], ...] = ()  # (field id, message)

    def args(self, with_version: bool = True) -> dict[str, str]:
        """The query string that keeps the filters on the next page."""
        out = {"team": self.team}
        if self.municipality:
            out["municipality"] = self.municipality
        if self.referral_source:
            out["referral_source"] = self.referral_source
        if self.site:
            out["site"] = self.site
        if with_version and self.version != LATEST:
            out["version"] = self.version
        if with_version and self.period != "30":
            out["period"] = self.period
            if self.period == "dates":
                out["from"], out["to"] = self.date_from, self.date_to
        return out

    def error_for(self, field_id: str) -> str | None:
        return next((message for at, message in self.errors if at == field_id), None)


def _period(today: date) -> tuple[str, date, date, str, str, tuple[tuple[str, str], ...]]:
    """The period filter: the last 30/90/365 days (today included) or from-to dates (ISO, inclusive)."""
    period = request.args.get("period") or "30"
    raw_from, raw_to = (request.args.get("from") or "").strip()[:20], (request.args.get("to") or "").strip()[:20]
    if period in PERIODS:
        return period, today - timedelta(days=int(period) - 1), today, raw_from, raw_to, ()
    if period != "dates":
        return "30", today - timedelta(days=29), today, raw_from, raw_to, ()
    errors: list[tuple[str, str]] = []
    parsed: dict[str, date] = {}
    for field_id, raw in (("filter-from", raw_from), ("filter-to", raw_to)):
        try:
            parsed[field_id] = date.fromisoformat(raw)
        except ValueError:
            errors.append((field_id, _("Enter a date as year-month-day, for example 2026-01-31.")))
    if not errors and parsed["filter-from"] > parsed["filter-to"]:
        errors.append(("filter-to", _("The end date must not be before the start date.")))
    elif not errors and (parsed["filter-to"] - parsed["filter-from"]).days >= MAX_PERIOD_DAYS:
        errors.append(("filter-to", _("The period may be at most three years: choose a later start date or an "
                                      "earlier end date.")))
    if errors:  # the figures of the last 30 days meanwhile; the dates stay in the fields
        return "dates", today - timedelta(days=29), today, raw_from, raw_to, tuple(errors)
    return "dates", parsed["filter-from"], parsed["filter-to"], raw_from, raw_to, ()


def filters(session: Session, staff: Staff) -> Filters:
    """The filters of the request, within what the person may see (a team not theirs falls back to their own)."""
    source = (request.args.get("referral_source") or "").strip()
    if source not in REFERRAL_LABELS:
        source = ""
    sites = tuple(v or MAIN_SITE for v in site_variants(session))
    site = (request.args.get("site") or "").strip()
    if site not in sites:
        site = ""
    variant = None if not site else ("" if site == MAIN_SITE else site)
    scope, team = scope_for(session, staff, request.args.get("team"), request.args.get("municipality"),
                            source or None, variant)
    versions = process_versions(session)
    version = (request.args.get("version") or "").strip() or LATEST
    if version not in (LATEST, ALL_VERSIONS) and version not in {f"{k}:{v}" for k, v, _ in versions}:
        version = LATEST
    period, first, last, raw_from, raw_to, errors = _period(finnish_day(engine().clock()))
    return Filters(scope, team, scope.municipality or "", version, team_choices(session, staff),
                   municipality_choices(session), versions, staff.has(Role.MANAGER), source, site, sites, period,
                   first, last, raw_from, raw_to, errors)


def _wants_csv() -> bool:
    return request.args.get("format") == "csv"


def csv_response(filename: str, header: list[str], rows: list[list[Any]]) -> Response:
    """UTF-8 with BOM, semicolons, CRLF line ends: what Excel opens as it is."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=DELIMITER, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    response = Response("\ufeff" + out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _local(value: datetime | None) -> str:
    return value.astimezone(HELSINKI).isoformat(timespec="seconds") if value is not None else ""


def _tenths(value: timedelta) -> str:
    return f"{value.total_seconds() / 3600:.1f}"


def _hours(value: timedelta) -> int:
    return int(value.total_seconds() // 3600)


def _manager_staff() -> Staff:
    staff = require_staff()
    if not may_manage(staff):
        abort(403)
    return staff


@dataclass(frozen=True)
class StepRow:
    """A row of the steps table: where cases wait now, and how long cases spent there in the period."""

    stall: StepStall
    period: StepDurations | None


@dataclass(frozen=True)
class Figures:
    at: datetime  # when the scheduler's summary was computed (the waits' counts are as of then)
    alarms: list[Alarm]
    steps: list[StepStall]
    durations: dict[tuple[str, int | None, str], StepDurations]

    def rows(self) -> list[StepRow]:
        return [StepRow(s, self.durations.get((s.process_key, s.version, s.element_id))) for s in self.steps]


def summary_time(session: Session) -> datetime:
    """When the summary was computed; the first time ever (no scheduler has run yet), computed now, once."""
    at = refreshed_at(session)
    if at is None:
        with engine().db.transaction() as writer:
            at = refreshed_at(writer) or refresh(writer, engine().clock()).at
    return at


def figures(session: Session, chosen: Filters, settings: AlarmSettings, now: datetime, with_alarms: bool = True
            ) -> Figures:
    """The alarms (small indexed queries) and the steps table, read from the scheduler's summary tables
    (casework.step_summary): no scan of the waits or the history per request."""
    at = summary_time(session)
    alarms = manager_alarms(session, now, chosen.scope, settings) if with_alarms else []
    steps = step_stalls(session, now, chosen.scope, chosen.version)
    durations: dict[tuple[str, int | None, str], StepDurations] = {}
    if chosen.first_day is not None and chosen.last_day is not None:
        durations = period_durations(session, chosen.first_day, chosen.last_day,
                                     chosen.scope.summary_conditions(StepDuration))
    return Figures(at, alarms, steps + quiet_steps(session, steps, durations, chosen.version), durations)


def _figures_of(staff: Staff, with_alarms: bool) -> tuple[Filters, Figures]:
    """The request's filters and their figures, read in one read-only session (the CSVs and the JSON twins)."""
    now = engine().clock()
    with engine().db.read() as session:
        chosen = filters(session, staff)
        return chosen, figures(session, chosen, AlarmSettings.from_config(current_app.config), now,
                               with_alarms=with_alarms)


def process_latest(session: Session) -> dict[str, int]:
    return _Steps.latest_of(session)


def quiet_steps(session: Session, steps: list[StepStall], durations: dict[tuple[str, int | None, str], StepDurations],
                version: str) -> list[StepStall]:
    """Steps where nobody waits now but cases spent time in the period: rows with zero waits, after the others."""
    seen = {(s.process_key, s.version, s.element_id) for s in steps}
    _, wanted = version_filter(version, process_latest(session))
    out = []
    for key in sorted(k for k in durations if k not in seen and wanted(StepKey(*k))):
        name = step_name(session, key[0], key[2])
        out.append(StepStall(key[0], key[1], key[2], name, "", 0, timedelta(0), timedelta(0), timedelta(0), 0, 0))
    return out


# -- pages ---------------------------------------------------------------------------------------------------
@bp.route("")
@roles_required(*ROLES)
def index() -> Any:
    """Alarms first, then where cases wait now per step of the chosen process version."""
    staff = _manager_staff()
    settings = AlarmSettings.from_config(current_app.config)
    now = engine().clock()
    with engine().db.read() as session:
        chosen = filters(session, staff)
        found = figures(session, chosen, settings, now)
    process_names: dict[str, str] = {}
    for key, _number, name in chosen.versions:  # newest first: the current name of each process
        process_names.setdefault(key, name or key)
    return render_template("manage/index.html", title=_("Management"), f=chosen, alarms=found.alarms,
                           steps=found.rows(), figures_at=found.at, bucket_error=round(BUCKET_ERROR * 100),

                           process_names=process_names,
                           settings=settings, alarm_labels=ALARM_LABELS, severity_labels=SEVERITY_LABELS,
                           kind_labels=KIND_LABELS, describe_alarm=alarm_description, step_label=step_label,
                           ALL_TEAMS=ALL_TEAMS, MY_TEAMS=MY_TEAMS, LATEST=LATEST, ALL_VERSIONS=ALL_VERSIONS)


@bp.route("/alarms.csv")
@roles_required(*ROLES)
def alarms_csv() -> Response:
    """The alarms' counts as CSV (no personal data)."""
    alarms = _figures_of(_manager_staff(), with_alarms=True)[1].alarms
    return csv_response("alarms.csv", ["alarm", "severity", "count"],
                        [[a.kind.value, a.severity.value, a.count] for a in alarms])


STEP_COLUMNS = ["process", "version", "element_id", "step", "kind", "waiting", "cases", "age_p50_hours",
                "age_p90_hours", "age_max_hours", "overdue", "period_from", "period_to", "period_completed",
                "period_median_hours", "period_p90_hours"]


def _step_rows(found: Figures, chosen: Filters) -> list[list[Any]]:
    """The table's rows; the period's figures are from the histogram (within BUCKET_ERROR), in hours with one
    decimal."""
    first = chosen.first_day.isoformat() if chosen.first_day else ""
    last = chosen.last_day.isoformat() if chosen.last_day else ""
    out = []
    for row in found.rows():
        s, d = row.stall, row.period
        out.append([s.process_key, s.version if s.version is not None else "", s.element_id,
                    step_label(s.element_id, s.name), s.kind, s.waiting, s.cases, _hours(s.age_p50),
                    _hours(s.age_p90), _hours(s.age_max), s.overdue, first, last, d.count if d else 0,
                    _tenths(d.p50) if d else "", _tenths(d.p90) if d else ""])
    return out


@bp.route("/steps.csv")
@roles_required(*ROLES)
def steps_csv() -> Response:
    """Where cases wait now per step as CSV (no personal data)."""
    chosen, found = _figures_of(_manager_staff(), with_alarms=False)
    return csv_response("steps.csv", STEP_COLUMNS, _step_rows(found, chosen))


def _log_list(session: Session, staff: Staff, case_ids: list[str], what: str, export: bool, now: datetime) -> None:
    log_case_access(session, user_id=staff.id, role=staff.logged_role(), case_ids=case_ids, what=what, why=WHY, at=now,
                    action=AccessAction.EXPORT if export else AccessAction.VIEW)


@bp.route("/alarms/<kind>")
@roles_required(*ROLES)
def alarm_list(kind: str) -> Any:
    """The cases of one alarm (case numbers, since when, what), the oldest first; `?format=csv` for all."""
    staff = _manager_staff()
    try:
        alarm_kind = AlarmKind(kind)
    except ValueError:
        abort(404)
    now = engine().clock()
    export = _wants_csv()
    with engine().db.transaction() as session:
        chosen = filters(session, staff)
        found = alarm(session, alarm_kind, now, chosen.scope, AlarmSettings.from_config(current_app.config))
        shown = found.items if export else found.items[:LIST_LIMIT]
        _log_list(session, staff, [i.case_id for i in shown], f"management alarm list: {alarm_kind.value}", export,
                  now)
    if export:
        return csv_response(f"alarm-{alarm_kind.value}.csv", ["case_number", "since", "detail"],
                            [[i.business_key or "", _local(i.since), i.detail or ""] for i in shown])
    return render_template("manage/alarm.html", title=str(ALARM_LABELS[alarm_kind]), f=chosen, alarm=found,
                           items=shown, label=ALARM_LABELS[alarm_kind], severity_labels=SEVERITY_LABELS,
                           description=alarm_description(alarm_kind, AlarmSettings.from_config(current_app.config)),
                           limit=LIST_LIMIT)


@bp.route("/steps/<process_key>/<element_id>")
@roles_required(*ROLES)
def step_list(process_key: str, element_id: str) -> Any:
    """The cases waiting at one step now (case numbers, since, due), the longest waiting first."""
    staff = _manager_staff()
    now = engine().clock()
    export = _wants_csv()
    with engine().db.transaction() as session:
        if len(process_key) > 200 or len(element_id) > 200 or not known_step(session, process_key, element_id):
            abort(404)
        chosen = filters(session, staff)
        version = chosen.version if chosen.version.startswith(f"{process_key}:") else (
            ALL_VERSIONS if chosen.version == ALL_VERSIONS else LATEST)
        rows = waiting_cases(session, now, chosen.scope, process_key, element_id, version)
        shown = rows if export else rows[:LIST_LIMIT]
        _log_list(session, staff, [w.case_id for w in shown], f"management step list: {process_key}/{element_id}",
                  export, now)
        name = step_label(element_id, step_name(session, process_key, element_id))
    if export:
        return csv_response(f"step-{process_key}-{element_id}.csv",
                            ["case_number", "kind", "since", "due", "overdue", "age_hours"],
                            [[w.business_key or "", w.kind, _local(w.since), _local(w.due), "1" if w.overdue else "0",
                              _hours(now - w.since)] for w in shown])
    return render_template("manage/step.html", title=name, f=chosen, name=name, process_key=process_key,
                           element_id=element_id, rows=shown, total=len(rows), cases=len({w.case_id for w in rows}),
                           limit=LIST_LIMIT, now=now,
                           kind_labels=KIND_LABELS, version=version)


# -- JSON ----------------------------------------------------------------------------------------------------
def _api_figures(with_alarms: bool) -> tuple[Filters, Figures] | Response:
    """The caller's filters and figures for a JSON twin, or its 403 (managers and team leads only)."""
    staff = api_staff()
    if not may_manage(staff):
        return json_error(403, "AuthorizationException", "only managers and team leads see the management figures")
    return _figures_of(staff, with_alarms)


@api.route("/alarms")
@api_route
def api_alarms() -> Any:
    """The alarms' counts for the caller's scope (no personal data: the lists are on the pages)."""
    answer = _api_figures(with_alarms=True)
    if not isinstance(answer, tuple):
        return answer
    chosen, found = answer
    alarms = found.alarms
    return jsonify({"team": chosen.team, "municipality": chosen.municipality or None, "asOf": found.at.isoformat(),
                    "alarms": [{"kind": a.kind.value, "severity": a.severity.value, "count": a.count,
                                "oldestSince": a.items[0].since.isoformat() if a.items else None}
                               for a in alarms]})


@api.route("/steps")
@api_route
def api_steps() -> Any:
    """Where cases wait now per step: waiting, age p50 / p90 / max in seconds, overdue."""
    answer = _api_figures(with_alarms=False)
    if not isinstance(answer, tuple):
        return answer
    chosen, found = answer
    return jsonify({"team": chosen.team, "municipality": chosen.municipality or None, "version": chosen.version,
                    "asOf": found.at.isoformat(),
                    "periodFrom": chosen.first_day.isoformat() if chosen.first_day else None,
                    "periodTo": chosen.last_day.isoformat() if chosen.last_day else None,
                    "steps": [{"processKey": s.process_key, "version": s.version, "elementId": s.element_id,
                               "name": s.name, "kind": s.kind or None, "waiting": s.waiting, "cases": s.cases,
                               "ageP50Seconds": int(s.age_p50.total_seconds()),
                               "ageP90Seconds": int(s.age_p90.total_seconds()),
                               "ageMaxSeconds": int(s.age_max.total_seconds()), "overdue": s.overdue,
                               "periodCompleted": d.count if d else 0,
                               "periodMedianSeconds": int(d.p50.total_seconds()) if d else None,
                               "periodP90Seconds": int(d.p90.total_seconds()) if d else None}
                              for s, d in ((r.stall, r.period) for r in found.rows())]})


FILTER_PARAMS = [query("team", "mine (the teams the caller leads; a team lead's default), all (managers' default), "
                               "or a team id"),
                 query("municipality", "only cases of this municipality (the client's at referral)")]
DATE_PARAMS = [query("from", "with period=dates: the period's first day, YYYY-MM-DD (Helsinki)"),
               query("to", "with period=dates: the period's last day, YYYY-MM-DD (Helsinki), included; at most three "
                           "years after the first")]
AS_OF = {"type": "string", "description": "when the scheduler computed the summary the figures are read from "
                                          "(every POLKU_SUMMARY_REFRESH_SECONDS); ages are as of the request"}
describe("manage_api.api_alarms", parameters=FILTER_PARAMS, response={"type": "object", "properties": {
    "team": {"type": "string"}, "municipality": {"type": "string", "nullable": True}, "asOf": AS_OF,
    "alarms": {"type": "array", "items": {"type": "object", "properties": {
        "kind": {"type": "string"}, "severity": {"type": "string", "enum": [s.value for s in Severity]},
        "count": {"type": "integer"}, "oldestSince": {"type": "string", "nullable": True}}}}}})
describe("manage_api.api_steps", parameters=[*FILTER_PARAMS, query(
    "version", "latest (default: each process's newest version), all, or processKey:version"),
    query("referral_source", "only cases referred by this source (employment_services, social_work, health_station, "
                             "kela, self, other)"),
    query("site", "only cases of this site variant (main: the main model; else a directory of bpmn/sites/)"),
    query("period", "the period of the time spent: 30 (default), 90 or 365 last days, or dates (with from and to)"),
    *DATE_PARAMS],
    response={"type": "object", "properties": {
        "team": {"type": "string"}, "municipality": {"type": "string", "nullable": True},
        "version": {"type": "string"}, "asOf": AS_OF,
        "steps": {"type": "array", "items": {"type": "object", "properties": {
            "processKey": {"type": "string"}, "version": {"type": "integer", "nullable": True},
            "elementId": {"type": "string"}, "name": {"type": "string", "nullable": True},
            "kind": {"type": "string", "nullable": True, "enum": ["task", "job", "timer", "message"],
                     "description": "null for a step nobody waits at now but completed in the period"},
            "waiting": {"type": "integer", "description": "waits (a case waits once per called instance)"},
            "cases": {"type": "integer", "description": "distinct cases among them"},
            "ageP50Seconds": {"type": "integer"},
            "ageP90Seconds": {"type": "integer"}, "ageMaxSeconds": {"type": "integer"},
            "overdue": {"type": "integer"},
            "periodCompleted": {"type": "integer", "description": "instances completed in the period"},
            "periodMedianSeconds": {"type": "integer", "nullable": True,
                                    "description": "their median duration, within 9.1 % (log-scale histogram)"},
            "periodP90Seconds": {"type": "integer", "nullable": True}}}}}})
