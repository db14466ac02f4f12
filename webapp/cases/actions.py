"""The actions on the case page's sections: forms that POST here (CSRF), then a redirect back to the case page.

A form with mistakes is kept in the session for exactly one page view (`webapp.cases.sections.FORM_KEY`), so
the page shows the error summary and the person's input without a second copy of the case page; the rules
and the process steps are in `casework.case_actions`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from flask import abort, current_app, flash, redirect, request, url_for
from flask import session as flask_session
from flask_babel import gettext as _

from casework.access_log import AccessAction
from casework.case_actions import (
    CHANGE_REASONS,
    MAX_SCOPE,
    MAX_TEXT,
    ActionConflict,
    CaseAction,
    ConsentInput,
    allowed_actions,
    call_network_meeting,
    consult_coordinator,
    record_case_consent,
    request_case_manager_change,
    revoke_case_consent,
    start_closing,
)
from casework.case_manager import AssignmentReason
from casework.client_case import ClientCase
from casework.consent import ConsentGiver, ConsentMethod
from casework.errors import CaseworkError, NotFound, Refused
from casework.staff import Staff
from webapp.auth.session import login_required, require_staff
from webapp.cases import bp
from webapp.cases.access import Opened, open_case
from webapp.cases.sections import FORM_KEY, engine

# -- helpers ------------------------------------------------------------------------------------------------

def case_url(business_key: str, anchor: str = "") -> str:
    """The case page (webapp.cases.views) at one of its sections."""
    return url_for("cases.case_page", key=business_key) + (f"#{anchor}" if anchor else "")


def may(staff: Staff, opened: Opened, action: CaseAction) -> bool:
    """Whether the case's state and the person's relationship to it allow the action now."""
    with engine().db.read() as db:
        record = db.get(ClientCase, opened.case_id)
        return record is not None and action in allowed_actions(staff, opened.access.relationship, record)


def _opened_for(business_key: str, what: str, action: CaseAction, log_action: AccessAction) -> tuple[Staff, Opened]:
    staff = require_staff()
    opened = open_case(staff, business_key, what, action=log_action)  # logged as the change it is
    if isinstance(opened, int):
        abort(opened)
    if not may(staff, opened, action):
        abort(403)
    return staff, opened


def _keep_form(business_key: str, name: str, values: Mapping[str, str], errors: dict[str, str],
               consent_id: int | None = None) -> None:
    flask_session[FORM_KEY] = {"key": business_key, "name": name, "errors": [[k, v] for k, v in errors.items()],
                               "consent_id": consent_id,
                               "values": {k: str(v)[:MAX_TEXT] for k, v in values.items() if k != "csrf_token"}}


def _back(business_key: str, anchor: str) -> Any:
    return redirect(case_url(business_key, anchor), code=303)


def _act(key: str, step: Callable[[], object], not_done: str, done: str,
         conflicts: tuple[type[Exception], ...] = (ActionConflict,)) -> Any:
    """Run one step of the case's process; say what came of it (`not_done` with the reason `%(why)s`) and go
    back to the actions."""
    try:
        step()
    except conflicts as err:
        flash(not_done % {"why": _(str(err))}, "error")
        return _back(key, "actions")
    flash(done, "success")
    return _back(key, "actions")


def _parse_day(raw: str) -> date | None:
    return date.fromisoformat(raw.strip()) if raw.strip() else None


def parse_consent(form: Mapping[str, str], today: date) -> tuple[ConsentInput | None, dict[str, str]]:
    """The consent form as a ConsentInput, or messages by field id (the field ids of `_network.html`)."""
    errors: dict[str, str] = {}
    partner_id: int | None = None
    try:
        partner_id = int(form.get("partner_id") or "")
    except ValueError:
        errors["consent-partner"] = _("Choose the partner the client consents to share data with.")
    scope = (form.get("scope") or "").strip()
    if not scope:
        errors["consent-scope"] = _("Write what may be shared and for what.")
    elif len(scope) > MAX_SCOPE:
        errors["consent-scope"] = _("Write the scope in at most %(n)d characters.", n=MAX_SCOPE)
    try:
        giver = ConsentGiver(form.get("given_by") or "")
    except ValueError:
        giver = None
        errors["consent-given-by-client"] = _("Choose who gave the consent.")
    try:
        method = ConsentMethod(form.get("method") or "")
    except ValueError:
        method = None
        errors["consent-method-written"] = _("Choose how the consent was given.")
    witness = (form.get("witness") or "").strip()
    if method is ConsentMethod.ORAL and not witness:
        errors["consent-witness"] = _("An oral consent needs the name of the witness who heard it.")
    elif len(witness) > MAX_SCOPE:
        errors["consent-witness"] = _("Write the name in at most %(n)d characters.", n=MAX_SCOPE)
    given_on = valid_until = None
    try:
        given_on = _parse_day(form.get("given_on") or "")
        if given_on is not None and given_on > today:
            errors["consent-given-on"] = _("The day the consent was given cannot be in the future.")
    except ValueError:
        errors["consent-given-on"] = _("Enter the date as YYYY-MM-DD, for example 2026-03-31.")
    try:
        valid_until = _parse_day(form.get("valid_until") or "")
        if valid_until is not None and valid_until < max(given_on or today, today):
            errors["consent-valid-until"] = _("A consent cannot end before it is given or in the past.")
    except ValueError:
        errors["consent-valid-until"] = _("Enter the date as YYYY-MM-DD, for example 2026-03-31.")
    if errors or partner_id is None or giver is None or method is None:
        return None, errors
    return ConsentInput(partner_id, scope, giver, method, witness or None, given_on, valid_until), errors


@bp.post("/<key>/consents")
@login_required
def record_consent(key: str) -> Any:
    """Record the client's consent to share data with a partner; a referral waiting for it then proceeds."""
    staff, opened = _opened_for(key, "consent recorded", CaseAction.RECORD_CONSENT, AccessAction.CREATE)
    data, errors = parse_consent(request.form, engine().clock().date())
    if data is None:
        _keep_form(key, "consent", request.form, errors)
        return _back(key, "record-consent")
    try:
        done = record_case_consent(engine(), opened.case_id, data, staff.id)
    except ActionConflict as err:
        flash(_("The consent was not recorded: %(why)s.", why=_(str(err))), "error")
        return _back(key, "network")
    except NotFound:  # a partner id that is not (or no longer) a network partner
        _keep_form(key, "consent", request.form,
                   {"consent-partner": _("Choose the partner the client consents to share data with.")})
        return _back(key, "record-consent")
    except CaseworkError as err:  # a rule of casework.consent (the same as the form's, said once more)
        _keep_form(key, "consent", request.form, {"consent-scope": _(str(err))})
        return _back(key, "record-consent")
    if done.referrals_woken:
        flash(_("The consent was recorded. The referral that waited for it goes to the partner now."), "success")
    else:
        flash(_("The consent was recorded."), "success")
    return _back(key, "network")


@bp.post("/<key>/consents/<int:consent_id>/revoke")
@login_required
def revoke_consent(key: str, consent_id: int) -> Any:
    """Record that the client withdrew a consent; data is no longer shared under it."""
    staff, opened = _opened_for(key, "consent revoked", CaseAction.REVOKE_CONSENT, AccessAction.UPDATE)
    if request.form.get("confirm") != "yes":
        _keep_form(key, "revoke", {}, {f"revoke-confirm-{consent_id}": _(
            "Confirm that the client withdrew this consent.")}, consent_id=consent_id)
        return _back(key, f"consent-{consent_id}")
    try:
        revoke_case_consent(engine(), opened.case_id, consent_id, staff.id)
    except ActionConflict:
        flash(_("The consent was already revoked."), "error")
        return _back(key, "network")
    except NotFound:
        abort(404)
    flash(_("The consent was revoked. Nothing more is shared under it."), "success")
    return _back(key, "network")


@bp.post("/<key>/case-manager-change")
@login_required
def request_change(key: str) -> Any:
    """Ask for a new case manager: the team lead names one and the client is told in writing."""
    staff, opened = _opened_for(key, "case manager change requested", CaseAction.REQUEST_CHANGE,
                                AccessAction.UPDATE)
    errors: dict[str, str] = {}
    try:
        reason = AssignmentReason(request.form.get("reason") or "")
        if reason not in CHANGE_REASONS:
            raise ValueError(reason)
    except ValueError:
        errors["change-reason-" + CHANGE_REASONS[0].value] = _("Choose why the case manager should change.")
    note = (request.form.get("note") or "").strip()
    if not note:
        errors["change-note"] = _("Write a few words for the team lead about why.")
    elif len(note) > MAX_TEXT:
        errors["change-note"] = _("Write at most %(n)d characters.", n=MAX_TEXT)
    if errors:
        _keep_form(key, "change", request.form, errors)
        return _back(key, "request-change")
    return _act(key, lambda: request_case_manager_change(engine(), opened.case_id, reason, note, staff.id),
                _("The change was not requested: %(why)s."),
                _("The change of case manager was requested. The team lead names the new case manager."),
                (ActionConflict, Refused))


@bp.post("/<key>/network-meeting")
@login_required
def network_meeting(key: str) -> Any:
    """Call a network meeting: the case manager gets a task to record it once held."""
    staff, opened = _opened_for(key, "network meeting called", CaseAction.NETWORK_MEETING, AccessAction.UPDATE)
    return _act(key, lambda: call_network_meeting(engine(), opened.case_id, staff.id),
                _("The network meeting was not called: %(why)s."),
                _("The network meeting was called. Record it in the case manager's task once held."))


@bp.post("/<key>/consultation")
@login_required
def consultation(key: str) -> Any:
    """Ask the work ability coordinators a question about the case."""
    staff, opened = _opened_for(key, "coordinator consulted", CaseAction.CONSULT, AccessAction.UPDATE)
    question = (request.form.get("question") or "").strip()
    error = (_("Write your question for the coordinator.") if not question else
             _("Write at most %(n)d characters.", n=MAX_TEXT) if len(question) > MAX_TEXT else None)
    if error:
        _keep_form(key, "consult", request.form, {"consult-question": error})
        return _back(key, "consult")
    return _act(key, lambda: consult_coordinator(engine(), opened.case_id, question, staff.id),
                _("The question was not sent: %(why)s."), _("The question was sent to the coordinators."),
                (ActionConflict, Refused))


@bp.post("/<key>/close")
@login_required
def close(key: str) -> Any:
    """Start closing the case the way the process closes it: a follow-up review with the decision to close."""
    staff, opened = _opened_for(key, "closing started", CaseAction.CLOSE, AccessAction.UPDATE)
    if request.form.get("confirm") != "yes":
        _keep_form(key, "close", {}, {"close-confirm": _("Confirm that you want to start closing the case.")})
        return _back(key, "close")
    try:
        closing = start_closing(engine(), opened.case_id, staff.id)
    except ActionConflict as err:
        flash(_("Closing was not started: %(why)s.", why=_(str(err))), "error")
        return _back(key, "actions")
    if closing.already_open:
        flash(_("A follow-up review or the closing is already open: choose to close the case there."), "info")
    else:
        flash(_("A follow-up review was opened with the decision to close. Complete it, then the handover."),
              "success")
    if closing.task_id is not None and "tasks.show" in current_app.view_functions:
        return redirect(url_for("tasks.show", task_id=closing.task_id), code=303)
    return _back(key, "actions")


__all__ = ["case_url", "may", "parse_consent"]
