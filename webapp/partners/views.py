"""The network partners' view (`/partner`) and its JSON twin (`/api/partner`): views stay thin.

`casework.partner_view` decides what a partner account sees (its organisation's referrals with the client's
consent, their part only) and checks answers and notes; every response that shows client data writes the access
log once, a refused referral writes a DENIED row before the 403. An answer is recorded in one transaction and the
process is told after the commit (`casework.service_referral.tell_process`), as `/engine-rest` does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from casework import partner_view as pv
from casework.errors import NotFound
from casework.letter.texts import SERVICE_TYPES
from casework.service_referral import ServiceStatus, tell_process
from casework.staff import Staff
from casework.users import Role
from webapp import home
from webapp.api.openapi import describe, json_body
from webapp.auth.api import api_route, api_staff, json_error
from webapp.auth.session import login_required, require_staff
from webapp.partners import api, bp

T = TypeVar("T")

STATUS_LABELS: dict[ServiceStatus, Any] = {
    ServiceStatus.REQUESTED: _l("Waiting for your answer"),
    ServiceStatus.ACCEPTED: _l("Accepted"),
    ServiceStatus.STARTED: _l("Started"),
    ServiceStatus.DONE: _l("Done"),
    ServiceStatus.REFUSED: _l("Refused"),
    ServiceStatus.NOT_AVAILABLE: _l("Not available"),
    ServiceStatus.NO_CONSENT: _l("Not sent: no consent"),
    ServiceStatus.DROPPED: _l("Withdrawn by the case manager"),
}
ANSWER_LABELS: dict[ServiceStatus, Any] = {
    ServiceStatus.ACCEPTED: _l("We accept the referral"),
    ServiceStatus.REFUSED: _l("We refuse the referral"),
    ServiceStatus.NOT_AVAILABLE: _l("The service is not available"),
    ServiceStatus.STARTED: _l("The service has started"),
    ServiceStatus.DONE: _l("The service is done"),
}
LANGUAGES: dict[str, Any] = {"fi": _l("Finnish"), "sv": _l("Swedish"), "en": _l("English")}
WHAT_LIST = "partner's list of referrals"
WHAT_REFERRAL = "partner's view of a referral"

home.add_navigation("partners.index", _l("Referrals"), Role.PARTNER)  # a partner's only entry: where they land


def engine() -> Any:
    return current_app.config["ENGINE"]


def now() -> datetime:
    at: datetime = engine().clock()
    return at


def service_label(code: str) -> str:
    return _(SERVICE_TYPES.get(code, SERVICE_TYPES["other"]))


@bp.app_context_processor
def labels() -> dict[str, Any]:
    return {"partner_status_label": lambda s: STATUS_LABELS.get(s, s.value), "partner_service_label": service_label}


class Refused(Exception):
    """A referral the caller may not see: the DENIED row is written; answer 403."""


def _read(staff: Staff, what: str, work: Callable[[Any], T]) -> T:
    """Run `work(session)` in one transaction; a referral not the partner's is logged as DENIED and refused.

    The refusal comes before the work writes anything, so the transaction holds only the DENIED row."""
    at = now()
    with engine().db.transaction() as session:
        try:
            return work(session)
        except pv.NotYours as err:
            pv.deny(session, staff, err.case_id, what, at)
    raise Refused()


def _detail(staff: Staff, referral_id: str) -> pv.ReferralDetail:
    """The partner's part of the referral, the access log (and the first disclosure) written with it."""
    at = now()

    def work(session: Any) -> pv.ReferralDetail:
        detail = pv.open_referral(session, staff, referral_id, at)
        pv.log_view(session, staff, [detail.case_id], WHAT_REFERRAL, at)
        pv.record_view_disclosure(session, staff, detail, at)
        return detail

    return _read(staff, WHAT_REFERRAL, work)


def _referrals(staff: Staff) -> list[pv.ReferralRow]:
    """The partner's referrals (the page and the API list the same), their access log written in one INSERT."""
    at = now()
    with engine().db.transaction() as session:
        rows = pv.referrals_for(session, staff, at)
        pv.log_view(session, staff, [r.case_id for r in rows], WHAT_LIST, at)
    return rows


def _partner_staff() -> Staff:
    """A signed-in partner account; other staff have the case pages instead (403)."""
    staff = require_staff()
    if not staff.has(Role.PARTNER):
        abort(403)
    return staff


# -- pages ---------------------------------------------------------------------------------------------------

@bp.route("")
@login_required
def index() -> Any:
    """The partner's open referrals and those closed lately, each client by name (the partner contacts them)."""
    staff = require_staff()
    rows = _referrals(staff)
    return render_template("partners/index.html", title=_("Referrals"), linked=pv.partner_of(staff) is not None,
                           open_rows=[r for r in rows if r.open], closed_rows=[r for r in rows if not r.open])


def _render_referral(staff: Staff, referral_id: str, *, errors: dict[str, str] | None = None,
                     form: dict[str, str] | None = None, conflict: str | None = None, status: int = 200) -> Any:
    try:
        detail = _detail(staff, referral_id)
    except NotFound:
        abort(404)
    except Refused:
        abort(403)
    answers = [(a, ANSWER_LABELS[a]) for a in detail.next_answers]
    return render_template("partners/referral.html", title=service_label(detail.service.service_type), d=detail,
                           answers=answers, errors=errors or {}, form=form or {}, conflict=conflict,
                           languages=LANGUAGES,
                           outcome_field=ServiceStatus.DONE in detail.next_answers), status


@bp.route("/referrals/<referral_id>")
@login_required
def referral(referral_id: str) -> Any:
    """One referral: the service asked for, the client's contact, the partner's plan items, answers and notes."""
    return _render_referral(_partner_staff(), referral_id)


@bp.route("/referrals/<referral_id>/answer", methods=["POST"])
@login_required
def answer(referral_id: str) -> Any:
    """The partner's answer from the page's form; a conflict or a missing outcome comes back on the page."""
    staff = _partner_staff()
    form = {k: request.form.get(k, "") for k in ("answer", "outcome", "expected")}
    outcome = _answer(staff, referral_id, form["answer"], form["outcome"], form["expected"])
    if isinstance(outcome, ServiceStatus):
        flash(_("Your answer was saved: %(status)s.", status=STATUS_LABELS[outcome]), "success")
        return redirect(url_for("partners.referral", referral_id=referral_id))
    kind, message = outcome
    if kind == "conflict":
        return _render_referral(staff, referral_id, conflict=message, status=409)
    return _render_referral(staff, referral_id, errors={kind: message}, form=form, status=400)


def _answer(staff: Staff, referral_id: str, word: str | None, outcome: str | None,
            expected: str | None) -> ServiceStatus | tuple[str, str]:
    """The answer recorded and the process told (the status), or (field or "conflict", message); aborts 404/403."""
    at = now()
    try:
        result = _read(staff, WHAT_REFERRAL,
                       lambda session: pv.answer(session, staff, referral_id, word, outcome, at, expected or None))
    except NotFound:
        abort(404)
    except Refused:
        abort(403)
    except pv.UnknownAnswer:
        return "answer", _("Choose your answer.")
    except pv.OutcomeNeeded as err:
        if "at most" in str(err):
            return "outcome", _("The outcome can be at most %(n)d characters.", n=pv.OUTCOME_MAX)
        return "outcome", _("Describe the outcome of the service.")
    except pv.AnswerConflict as err:
        now_label = STATUS_LABELS.get(err.status, "") if err.status is not None else ""
        return "conflict", _("Your answer was not saved: the referral's status has changed (now: %(status)s). "
                             "Someone may have answered it first. Check the referral and answer again if needed.",
                             status=now_label)
    tell_process(engine(), result)
    return result.status


@bp.route("/referrals/<referral_id>/notes", methods=["POST"])
@login_required
def add_note(referral_id: str) -> Any:
    """A note for the case manager about the referral."""
    staff = _partner_staff()
    text = request.form.get("text", "")
    problem = _note(staff, referral_id, text)
    if problem is None:
        flash(_("Your note was saved. The case manager sees it."), "success")
        return redirect(url_for("partners.referral", referral_id=referral_id) + "#notes")
    return _render_referral(staff, referral_id, errors={"text": problem}, form={"text": text}, status=400)


def _note(staff: Staff, referral_id: str, text: str | None) -> str | None:
    at = now()
    try:
        _read(staff, WHAT_REFERRAL, lambda session: pv.add_note(session, staff, referral_id, text, at))
    except NotFound:
        abort(404)
    except Refused:
        abort(403)
    except pv.NoteProblem as err:
        if "at most" in str(err):
            return _("A note can be at most %(n)d characters.", n=pv.NOTE_MAX)
        return _("Write the note.")
    return None


@bp.errorhandler(403)
def _forbidden(_err: Exception) -> Any:
    return render_template("partners/forbidden.html", title=_("No access to this referral")), 403


@bp.errorhandler(404)
def _missing(_err: Exception) -> Any:
    return render_template("partners/missing.html", title=_("Referral not found")), 404


# -- JSON API ------------------------------------------------------------------------------------------------

def _row_json(r: pv.ReferralRow) -> dict[str, Any]:
    return {"referralId": r.referral_id, "client": r.client_name, "serviceType": r.service_type,
            "status": r.status.value, "open": r.open, "referredAt": r.referred_at.isoformat(),
            "statusAt": r.status_at.isoformat() if r.status_at else None, "startDue": r.start_due.isoformat(),
            "url": url_for("partners.referral", referral_id=r.referral_id)}


def _item_json(i: pv.ItemView) -> dict[str, Any]:
    return {"planItemId": i.plan_item_id, "serviceType": i.service_type, "text": i.text, "provider": i.provider,
            "responsible": i.responsible, "due": i.due.isoformat(), "status": i.status.value if i.status else None}


def _detail_json(d: pv.ReferralDetail) -> dict[str, Any]:
    return {"referralId": d.referral_id, "status": d.status.value, "referredAt": d.referred_at.isoformat(),
            "statusAt": d.status_at.isoformat() if d.status_at else None, "outcome": d.outcome_text,
            "nextAnswers": [a.value for a in d.next_answers], "service": _item_json(d.service),
            "client": {"name": d.client.name, "phone": d.client.phone, "email": d.client.email,
                       "language": d.client.language},
            "items": [_item_json(i) for i in d.items],
            "answers": [{"answer": a.answer.value, "outcome": a.outcome_text, "answeredBy": a.answered_by,
                         "answeredAt": a.answered_at.isoformat()} for a in d.answers],
            "notes": [{"id": n.id, "author": n.author_name, "text": n.text, "createdAt": n.created_at.isoformat(),
                       "own": n.own} for n in d.notes]}


def _api_partner() -> Staff | Any:
    staff = api_staff()
    if not staff.has(Role.PARTNER):
        return json_error(403, "AuthorizationException", "only network partner accounts answer referrals here")
    return staff


def _api_refusal(err: Exception) -> Any:
    if isinstance(err, NotFound):
        return json_error(404, "NotFound", "no such referral (a referral sent again has a new id)")
    return json_error(403, "AuthorizationException",
                      "this referral is not addressed to your organisation with the client's consent")


@api.route("/referrals")
@api_route
def api_referrals() -> Any:
    """The caller's organisation's referrals with the client's consent: open ones and those closed lately."""
    staff = api_staff()
    rows = _referrals(staff)
    return jsonify({"partnerId": pv.partner_of(staff), "referrals": [_row_json(r) for r in rows]})


@api.route("/referrals/<referral_id>")
@api_route
def api_referral(referral_id: str) -> Any:
    """One referral: the service, the client's contact, the partner's plan items, answers and notes."""
    staff = _api_partner()
    if not isinstance(staff, Staff):
        return staff
    try:
        return jsonify(_detail_json(_detail(staff, referral_id)))
    except (NotFound, Refused) as err:
        return _api_refusal(err)


@api.route("/referrals/<referral_id>/answer", methods=["POST"])
@api_route
def api_answer(referral_id: str) -> Any:
    """Answer the referral: accepted, refused or not_available, then started, then done with its outcome."""
    staff = _api_partner()
    if not isinstance(staff, Staff):
        return staff
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return json_error(400, "InvalidRequestException", "send a JSON object")
    values = {k: data.get(k) for k in ("answer", "outcome", "expectedStatus")}
    if any(v is not None and not isinstance(v, str) for v in values.values()):
        return json_error(400, "InvalidRequestException", "answer, outcome and expectedStatus are strings")
    at = now()
    try:
        result = _read(staff, WHAT_REFERRAL, lambda session: pv.answer(
            session, staff, referral_id, values["answer"], values["outcome"], at, values["expectedStatus"] or None))
    except (NotFound, Refused) as err:
        return _api_refusal(err)
    except (pv.UnknownAnswer, pv.OutcomeNeeded) as err:
        return json_error(400, "InvalidRequestException", str(err))
    except pv.AnswerConflict as err:
        return json_error(409, "ConflictException", str(err))
    told = tell_process(engine(), result)
    return jsonify({"referralId": result.referral_id, "status": result.status.value, "processTold": told})


@api.route("/referrals/<referral_id>/notes", methods=["POST"])
@api_route
def api_add_note(referral_id: str) -> Any:
    """Add a note about the referral for the case manager (never shown to other partners)."""
    staff = _api_partner()
    if not isinstance(staff, Staff):
        return staff
    data = request.get_json(silent=True)
    text = data.get("text") if isinstance(data, dict) else None
    if text is not None and not isinstance(text, str):
        return json_error(400, "InvalidRequestException", "text is a string")
    at = now()
    try:
        note = _read(staff, WHAT_REFERRAL, lambda session: pv.add_note(session, staff, referral_id,
                                                                                    text, at))
    except (NotFound, Refused) as err:
        return _api_refusal(err)
    except pv.NoteProblem as err:
        return json_error(400, "InvalidRequestException", str(err))
    response = jsonify({"id": note.id, "author": note.author_name, "text": note.text,
                        "createdAt": note.created_at.isoformat()})
    response.status_code = 201
    return response


_STRING = {"type": "string"}
_ITEM = {"type": "object", "properties": {"planItemId": {"type": "integer"}, "serviceType": _STRING, "text": _STRING,
                                          "provider": _STRING, "responsible": _STRING, "due": _STRING,
                                          "status": _STRING}}
describe("partners_api.api_referrals", response={"type": "object", "properties": {
    "partnerId": {"type": "integer", "nullable": True},
    "referrals": {"type": "array", "items": {"type": "object", "properties": {
        "referralId": _STRING, "client": _STRING, "serviceType": _STRING, "status": _STRING,
        "open": {"type": "boolean"}, "referredAt": _STRING, "statusAt": _STRING, "startDue": _STRING,
        "url": _STRING}}}}})
describe("partners_api.api_referral", response={"type": "object", "properties": {
    "referralId": _STRING, "status": _STRING, "referredAt": _STRING, "statusAt": _STRING, "outcome": _STRING,
    "nextAnswers": {"type": "array", "items": _STRING}, "service": _ITEM,
    "client": {"type": "object", "properties": {"name": _STRING, "phone": _STRING, "email": _STRING,
                                                "language": _STRING}},
    "items": {"type": "array", "items": _ITEM},
    "answers": {"type": "array", "items": {"type": "object", "properties": {
        "answer": _STRING, "outcome": _STRING, "answeredBy": _STRING, "answeredAt": _STRING}}},
    "notes": {"type": "array", "items": {"type": "object", "properties": {
        "id": {"type": "integer"}, "author": _STRING, "text": _STRING, "createdAt": _STRING,
        "own": {"type": "boolean"}}}}}})
describe("partners_api.api_answer", body=json_body({
    "answer": {"type": "string", "enum": ["accepted", "refused", "not_available", "started", "done"]},
    "outcome": {"type": "string", "description": "what came of the service; required with done"},
    "expectedStatus": {"type": "string", "description": "the status the answer was given from; another one "
                                                         "now is a 409 (someone answered first)"}},
    required=["answer"]),
    response={"type": "object", "properties": {"referralId": _STRING, "status": _STRING,
                                               "processTold": {"type": "boolean"}}})
describe("partners_api.api_add_note", body=json_body({"text": {"type": "string", "maxLength": pv.NOTE_MAX}},
                                                     required=["text"]),
         response={"type": "object", "properties": {"id": {"type": "integer"}, "author": _STRING, "text": _STRING,
                                                    "createdAt": _STRING}})
