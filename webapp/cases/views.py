"""The case page (`/cases/<case number>`), case search (`/cases`), notes, and their JSON twins under `/api/cases`.

Views stay thin: `casework.case_access` decides who may open a case (through `webapp.cases.access.open_case`,
which writes the access log or the refused attempt once per request), `casework.case_summary`,
`case_timeline`, `case_notes` and `case_search` read and write. A search term other than a case number never
travels in a URL: the form posts, and the search is kept in the signed session (an identity code only as
its keyed hash) so that the results page can be reloaded.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from casework.access_log import AccessAction, log_case_access
from casework.case_notes import MAX_NOTE, CaseNote, InvalidNote, Visibility, add_note, notes_of
from casework.case_search import (
    MAX_QUERY,
    MIN_NAME,
    CaseHit,
    CaseQuery,
    QueryKind,
    SearchProblem,
    parse_query,
    search_cases,
)
from casework.case_summary import CaseSummary, case_summary
from casework.case_timeline import Entry, Kind, case_timeline
from casework.staff import Staff
from casework.users import Role
from engine.runtime import Engine
from webapp import bpmn_texts
from webapp.api.openapi import describe, json_body, query
from webapp.auth.api import api_route, api_staff, json_error
from webapp.auth.session import login_required, require_staff
from webapp.cases import api, bp
from webapp.cases.access import Opened, case_or_abort, open_case_json
from webapp.cases.api_views import read_case
from webapp.cases.diagram import diagram_context
from webapp.cases.sections import page_sections
from webapp.home import add_navigation

SEARCH_ROLES = (Role.COORDINATOR, Role.CASE_MANAGER, Role.TEAM_LEAD)
_SEARCH_KEY = "case_search"  # the session's last search: {"kind", "value", "shown"}
SEARCH_WHY = "case search: cases the user may open (case manager, team, team lead or a task of the case)"

# Added when the blueprint is registered, not at import: the inbox (imported after this package) stays the
# first entry, where `/` takes a signed-in person.
bp.record_once(lambda _state: add_navigation("cases.search", _l("Cases"), *SEARCH_ROLES))


def engine() -> Engine:
    found: Engine = current_app.config["ENGINE"]
    return found


def _keys() -> Any:
    return current_app.config.get("IDENTITY_CODE_KEYS")


# -- what the page says of the timeline -----------------------------------------------------------------------

@dataclass(frozen=True)
class TimelineItem:
    """One timeline entry as the page shows it: a headline in the reader's language, the detail, who, when."""

    at: datetime
    kind: str
    headline: str
    detail: str | None
    who: str | None
    tag: str | None = None


def _answer_label(value: str | None) -> str:
    labels = {"requested": _("requested"), "accepted": _("accepted"), "started": _("started"), "done": _("done"),
              "refused": _("refused"), "not_available": _("not available"), "no_consent": _("no consent"),
              "dropped": _("dropped")}
    return labels.get(value or "", value or "")


def _reason_label(value: str | None) -> str:
    labels = {"initial": _("first case manager"), "staff_leaving": _("the previous case manager left"),
              "workload": _("workload"), "better_fit": _("a better fit"),
              "deactivated": _("the previous case manager's account was closed"),
              "team_decision": _("team decision"), "other": _("other reason")}
    return labels.get(value or "", value or "")


def _service(entry: Entry) -> str:
    if entry.text:
        return entry.text
    return bpmn_texts.label(f"serviceType.{entry.subject}", (entry.subject or "").replace("_", " "))


def describe_entry(entry: Entry) -> TimelineItem:
    """The page's words for one entry (the JSON API gives the entry's codes instead)."""
    # a person by name; a step run by a worker ("inline", a worker id) names nobody
    who = entry.actor_name or (entry.actor if entry.actor and entry.kind not in (Kind.STEP,)
                               and entry.actor != "polku" else None)
    headline: str
    detail: str | None = None
    tag: str | None = None
    if entry.kind == Kind.OPENED:
        headline = _("Case opened")
        detail = _("Referred by %(who)s", who=entry.text) if entry.text else None
    elif entry.kind == Kind.CLOSED:
        headline, detail = _("Case closed"), entry.text
    elif entry.kind == Kind.STEP:
        headline = bpmn_texts.element_name(entry.subject or "", entry.name)
        tag = _("process step")
        if entry.state and entry.state not in ("completed", "COMPLETED"):
            detail = _("ended: %(state)s", state=entry.state.lower())
    elif entry.kind == Kind.TASK:
        headline = _("Done: %(step)s", step=bpmn_texts.element_name(entry.subject or "", entry.name))
        tag = _("task")
    elif entry.kind == Kind.TASK_EVENT:
        step = bpmn_texts.element_name(entry.subject or "", entry.name)
        to = entry.data.get("toName") or entry.data.get("to")
        words = {"claim": _("%(step)s: claimed", step=step), "unclaim": _("%(step)s: given back", step=step),
                 "dates": _("%(step)s: dates changed", step=step)}
        headline = words.get(entry.state or "") or (_("%(step)s: assigned to %(who)s", step=step, who=to) if to
                                                   else _("%(step)s: assignment changed", step=step))
        detail, tag = entry.text, _("task")
    elif entry.kind == Kind.PLAN:
        headline = _("Plan version %(n)s saved", n=entry.subject)
        detail, tag = entry.text, _("plan")
    elif entry.kind == Kind.NOTE:
        headline = _("Note from %(organisation)s", organisation=entry.name) if entry.name else _("Note")
        detail = entry.text
        tag = _("shared with network partners") if entry.state == Visibility.NETWORK.value else _("case team only")
    elif entry.kind == Kind.LETTER:
        if entry.data.get("event") == "delivered":
            headline = _("Letter delivered: %(title)s", title=entry.name)
            detail = {"mailed": _("by email"), "printed_and_posted": _("printed and posted"),
                      "handed_over": _("handed over")}.get(entry.state or "")
        else:
            headline = _("Letter written: %(title)s", title=entry.name)
            detail = _("to be printed") if entry.state == "print" else _("sent by email")
        tag = _("letter")
    elif entry.kind == Kind.REFERRAL:
        if entry.state == "no_consent":
            headline = _("Not referred to %(partner)s: no consent", partner=entry.name or "–")
        else:
            headline = _("Referred to %(partner)s", partner=entry.name or "–")
        detail, tag = _service(entry), _("referral")
    elif entry.kind == Kind.ANSWER:
        headline = _("%(partner)s answered: %(answer)s", partner=entry.name or "–",
                     answer=_answer_label(entry.state))
        detail, tag = entry.text or _service(_without_text(entry)), _("referral")
    elif entry.kind == Kind.CASE_MANAGER:
        headline = _("Case manager: %(name)s", name=entry.name)
        detail = _reason_label(entry.state) + (f" – {entry.text}" if entry.text else "")
        tag = _("case manager")
    elif entry.kind == Kind.CONSENT:
        headline = _("Consent given for %(partner)s", partner=entry.name)
        detail, tag = entry.text, _("consent")
    elif entry.kind == Kind.CONSENT_REVOKED:
        headline = _("Consent revoked for %(partner)s", partner=entry.name)
        detail, tag = entry.text, _("consent")
    else:
        headline = entry.kind
    return TimelineItem(entry.at, entry.kind, headline, detail, who, tag)


def _without_text(entry: Entry) -> Entry:
    return replace(entry, text=None)


# -- the case page -------------------------------------------------------------------------------------------

@bp.route("/<key>")
@login_required
def case_page(key: str) -> Any:
    """The case: header, where it is, plan, network, history, letters, actions, timeline and notes."""
    staff = require_staff()
    opened = case_or_abort(staff, key, "case page")
    return _render_case(opened, staff)


def _render_case(opened: Opened, staff: Staff, errors: dict[str, str] | None = None,
                 form: dict[str, str] | None = None, status: int = 200) -> Any:
    """The page of a case already opened (access checked and logged by the caller, once)."""
    now = engine().clock()
    with engine().db.read() as db:
        summary = case_summary(db, opened.case_id, now, _keys())
        entries = case_timeline(db, opened.case_id)
        sections = page_sections(db, opened, staff, now)
    timeline = [describe_entry(e) for e in entries]
    notes = [e for e in entries if e.kind == Kind.NOTE]  # the notes part: the timeline read them already
    context: dict[str, Any] = {**diagram_context(opened), **sections}
    context.update(title=_("Case %(key)s", key=opened.business_key), opened=opened, summary=summary,
                   timeline=list(reversed(timeline)), notes=list(reversed(notes)), now=now,
                   note_errors=errors or {}, note_form=form or {}, max_note=MAX_NOTE,
                   relationship=opened.access.relationship, bpmn_name=bpmn_texts.element_name,
                   diagram_script=_static_exists("case-diagram.js"))
    return render_template("cases/case.html", **context), status


def _static_exists(name: str) -> bool:
    folder = current_app.static_folder
    return bool(folder) and os.path.exists(os.path.join(str(folder), name))


NOTE_MESSAGES = {"empty": _l("Write the note first."),
                 "too_long": _l("A note has at most %(n)d characters.", n=MAX_NOTE),
                 "visibility": _l("Choose who may see the note.")}
NOTE_FIELDS = {"empty": "note-text", "too_long": "note-text", "visibility": "note-visibility-case_team"}


@bp.route("/<key>/notes", methods=["POST"], endpoint="add_note")
@login_required
def add_note_page(key: str) -> Any:
    """Add a note; back to the case page's notes (or the page again with the message and the text kept)."""
    staff = require_staff()
    opened = case_or_abort(staff, key, "case page: note added", action=AccessAction.CREATE)
    text = request.form.get("text", "")
    visibility = request.form.get("visibility", "")
    try:
        with engine().db.transaction() as db:
            add_note(db, opened.case_id, staff, text, visibility, engine().clock())
    except InvalidNote as err:
        errors = {NOTE_FIELDS[err.problem]: str(NOTE_MESSAGES[err.problem])}
        return _render_case(opened, staff, errors, {"text": text[:MAX_NOTE * 2], "visibility": visibility}, 400)
    flash(_("Note added."), "success")
    return redirect(url_for("cases.case_page", key=opened.business_key) + "#notes")


@bp.errorhandler(404)
def _missing(_err: Exception) -> Any:
    return render_template("cases/case.html", problem="missing", title=_("Case not found")), 404


@bp.errorhandler(403)
def _forbidden(_err: Exception) -> Any:
    return render_template("cases/case.html", problem="forbidden", title=_("No access to this case")), 403


# -- search ----------------------------------------------------------------------------------------------------

def search_staff() -> Staff:
    """Anyone signed in may search: the results are only the cases `visible_cases_clause` lets them open
    (none for a partner or a manager without a relationship); the navigation offers it to SEARCH_ROLES."""
    return require_staff()


def _problem_message(problem: SearchProblem) -> str:
    return {SearchProblem.EMPTY: _("Enter a case number, a name or an identity code."),
            SearchProblem.TOO_LONG: _("A search has at most %(n)d characters.", n=MAX_QUERY),
            SearchProblem.TOO_SHORT: _("Enter at least %(n)d letters of the name, or a whole identity code.",
                                       n=MIN_NAME),
            SearchProblem.NO_KEYS: _("Search by identity code is not set up here; search by name."),
            SearchProblem.INVALID_CODE: _("The identity code is not valid: check it for typing errors.")}[problem]


def _run_search(db: Session, staff: Staff, found: CaseQuery) -> list[CaseHit]:
    """The hits, and their access log: one INSERT for the whole list."""
    hits = search_cases(db, staff, found)
    log_case_access(db, user_id=staff.id, role=staff.logged_role(), case_ids=[h.case_id for h in hits],
                    what="case search", why=SEARCH_WHY, at=engine().clock(), action=AccessAction.SEARCH)
    return hits


def _render_search(staff: Staff, found: CaseQuery | None, shown: str, error: str | None = None,
                   status: int = 200) -> Any:
    hits: list[CaseHit] | None = None
    if found is not None:
        with engine().db.transaction() as db:
            hits = _run_search(db, staff, found)
    return render_template("cases/search.html", title=_("Cases"), hits=hits, shown=shown, error=error,
                           kind=found.kind.value if found else None), status


@bp.route("", methods=["GET"])
@login_required
def search() -> Any:
    """Search cases: `?q=` takes a case number; a name or identity code is posted (never in a URL)."""
    staff = search_staff()
    text = request.args.get("q")
    if text is not None:
        found = parse_query(text, _keys())
        if isinstance(found, SearchProblem):  # said, but a mistyped identity code is not shown back
            shown = "" if found is SearchProblem.INVALID_CODE else text[:MAX_QUERY * 2]
            return _render_search(staff, None, shown, _problem_message(found), 400)
        if not found.in_url_allowed:  # a name or an identity code in a URL: not searched, not echoed back
            return _render_search(staff, None, "", _("Search names and identity codes with the form: they are "
                                                     "not put in a web address."), 400)
        return _render_search(staff, found, text)
    kept = session.get(_SEARCH_KEY)
    if isinstance(kept, dict) and kept.get("kind") in {k.value for k in QueryKind}:
        return _render_search(staff, CaseQuery(QueryKind(kept["kind"]), str(kept.get("value", ""))),
                              str(kept.get("shown", "")))
    return _render_search(staff, None, "")


@bp.route("", methods=["POST"])
@login_required
def search_post() -> Any:
    """The search form: kept in the session (an identity code as its hash), then shown by GET /cases."""
    staff = search_staff()
    if request.form.get("action") == "clear":
        session.pop(_SEARCH_KEY, None)
        return redirect(url_for("cases.search"))
    text = request.form.get("q", "")
    found = parse_query(text, _keys())
    if isinstance(found, SearchProblem):
        return _render_search(staff, None, text[:MAX_QUERY * 2], _problem_message(found), 400)
    shown = "" if found.kind is QueryKind.IDENTITY_CODE else " ".join(text.split())
    session[_SEARCH_KEY] = {"kind": found.kind.value, "value": found.value, "shown": shown}
    if found.kind is QueryKind.CASE_NUMBER:
        return redirect(url_for("cases.search", q=found.value))
    return redirect(url_for("cases.search"))


# -- JSON API ----------------------------------------------------------------------------------------------------

def _api_open(key: str, what: str, action: AccessAction = AccessAction.VIEW) -> Opened | Any:
    return open_case_json(api_staff(), key, what, action=action)


NOTE_SCHEMA = {"type": "object", "properties": {
    "id": {"type": "integer"}, "text": {"type": "string"}, "visibility": {"type": "string",
                                                                       "enum": [v.value for v in Visibility]},
    "authorId": {"type": "string"}, "authorName": {"type": "string"},
    "partnerId": {"type": "integer", "nullable": True}, "createdAt": {"type": "string", "format": "date-time"}}}
HIT_SCHEMA = {"type": "object", "properties": {
    "businessKey": {"type": "string"}, "clientName": {"type": "string"}, "status": {"type": "string"},
    "caseManager": {"type": "string", "nullable": True}, "openedAt": {"type": "string", "format": "date-time"},
    "url": {"type": "string"}}}


def _note_json(note: CaseNote) -> dict[str, Any]:
    return {"id": note.id, "text": note.text, "visibility": note.visibility.value, "authorId": note.author_id,
            "authorName": note.author_name, "partnerId": note.partner_id, "createdAt": note.created_at.isoformat()}


def _hits_json(hits: list[CaseHit]) -> dict[str, Any]:
    link = url_for("cases.case_page", key="KEY")
    return {"cases": [{"businessKey": h.business_key, "clientName": h.client_name, "status": h.status,
                       "caseManager": h.case_manager, "openedAt": h.opened_at.isoformat(),
                       "url": link.replace("KEY", h.business_key)} for h in hits]}


@api.route("/<key>", methods=["GET"])
@api_route
def api_summary(key: str) -> Any:
    """The case's summary: client, case manager (and whether the client was told), status, current steps."""
    def summary(db: Session, opened: Opened) -> dict[str, Any]:
        found: CaseSummary = case_summary(db, opened.case_id, engine().clock(), _keys())
        return {**found.as_json(), "relationship": opened.access.why}

    return read_case(_api_open(key, "case summary (API)"), summary)


@api.route("/<key>/timeline", methods=["GET"])
@api_route
def api_timeline(key: str) -> Any:
    """Everything that happened in the case, oldest first."""
    return read_case(_api_open(key, "case timeline (API)"), lambda db, opened: {
        "businessKey": opened.business_key, "entries": [e.as_json() for e in case_timeline(db, opened.case_id)]})


@api.route("/<key>/notes", methods=["GET"])
@api_route
def api_notes(key: str) -> Any:
    """The case's notes, oldest first."""
    return read_case(_api_open(key, "case notes (API)"), lambda db, opened: {
        "businessKey": opened.business_key, "notes": [_note_json(n) for n in notes_of(db, opened.case_id)]})


@api.route("/<key>/notes", methods=["POST"])
@api_route
def api_add_note(key: str) -> Any:
    """Add a note: {"text", "visibility": "case_team" | "network"}."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return json_error(400, "InvalidRequestException", "send a JSON object: {\"text\", \"visibility\"}")
    opened = _api_open(key, "case note added (API)", AccessAction.CREATE)
    if not isinstance(opened, Opened):
        return opened
    try:
        with engine().db.transaction() as db:
            note = add_note(db, opened.case_id, api_staff(), str(body.get("text") or ""),
                            str(body.get("visibility") or Visibility.CASE_TEAM.value), engine().clock())
            answer = _note_json(note)
    except InvalidNote as err:
        return json_error(400, "InvalidRequestException", str(err))
    return answer, 201


@api.route("", methods=["GET"])
@api_route
def api_search() -> Any:
    """Search cases by case number (`q`); names and identity codes are POSTed to /api/cases/search."""
    staff = api_staff()
    if not (request.args.get("q") or "").strip():
        return {"cases": []}  # nothing asked, nothing listed
    found = parse_query(request.args.get("q"), _keys())
    if isinstance(found, SearchProblem):
        return json_error(400, "InvalidRequestException", f"q: {found.value}")
    if not found.in_url_allowed:
        return json_error(400, "InvalidRequestException", "a name or identity code does not go in a URL: "
                                                          "POST {\"q\"} to /api/cases/search")
    with engine().db.transaction() as db:
        return _hits_json(_run_search(db, staff, found))


@api.route("/search", methods=["POST"])
@api_route
def api_search_post() -> Any:
    """Search cases by case number, name or identity code: {"q"} (kept out of URLs and logs)."""
    staff = api_staff()
    body = request.get_json(silent=True)
    found = parse_query(str(body.get("q") or "") if isinstance(body, dict) else "", _keys())
    if isinstance(found, SearchProblem):
        return json_error(400, "InvalidRequestException", f"q: {found.value}")
    with engine().db.transaction() as db:
        return _hits_json(_run_search(db, staff, found))


_SUMMARY = {"type": "object", "description": "the case page's header: client, caseManager, clientToldAt, "
                                             "currentSteps, status"}
describe("cases_api.api_summary", response=_SUMMARY)
describe("cases_api.api_timeline", response={"type": "object", "properties": {
    "businessKey": {"type": "string"}, "entries": {"type": "array", "items": {"type": "object", "properties": {
        "at": {"type": "string", "format": "date-time"}, "kind": {"type": "string"},
        "subject": {"type": "string", "nullable": True}, "name": {"type": "string", "nullable": True},
        "actor": {"type": "string", "nullable": True}, "actorName": {"type": "string", "nullable": True},
        "text": {"type": "string", "nullable": True}, "state": {"type": "string", "nullable": True}}}}}})
describe("cases_api.api_notes", response={"type": "object", "properties": {
    "businessKey": {"type": "string"}, "notes": {"type": "array", "items": NOTE_SCHEMA}}})
describe("cases_api.api_add_note", body=json_body({"text": {"type": "string", "maxLength": MAX_NOTE},
                                                   "visibility": {"type": "string",
                                                                  "enum": [v.value for v in Visibility]}},
                                                  required=["text"]), response=NOTE_SCHEMA)
describe("cases_api.api_search", parameters=[query("q", "a case number (names and identity codes: POST "
                                                        "/api/cases/search)")],
         response={"type": "object", "properties": {"cases": {"type": "array", "items": HIT_SCHEMA}}})
describe("cases_api.api_search_post", body=json_body({"q": {"type": "string", "maxLength": MAX_QUERY}},
                                                     required=["q"]),
         response={"type": "object", "properties": {"cases": {"type": "array", "items": HIT_SCHEMA}}})
