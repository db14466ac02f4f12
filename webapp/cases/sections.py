"""The plan, network, history and letters parts of the case page, and the actions on them.

Contract with `webapp.cases.views`: `page_sections` returns the template context the partials
`cases/_plan.html`, `cases/_network.html`, `cases/_history.html`, `cases/_letters.html` and
`cases/_actions.html` read.

The actions are forms that POST here (CSRF, then a redirect back to the case page with a message). A form
with mistakes is kept in the session for exactly one page view, so the page shows the error summary and the
person's input without a second copy of the case page; the rules and the process steps are in
`casework.case_actions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import abort, current_app, flash, redirect, request, url_for
from flask import session as flask_session
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casework.access_log import AccessAction
from casework.case_actions import (
    CHANGE_REASONS,
    CONSENT_TASK,
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
from casework.case_manager import AssignmentReason, assignment_history
from casework.client_case import ClientCase
from casework.consent import Consent, ConsentGiver, ConsentMethod, consents_of_client
from casework.errors import CaseworkError, NotFound, Refused
from casework.evaluation import GoalProgress, KnowsCaseManager, ReviewDecision, reviews_of_case
from casework.letter.records import Delivery, HowDelivered, LetterKind, letters_of_case
from casework.letter.texts import SERVICE_TYPES
from casework.network import NetworkPartner, PartnerResponsibility, partners, responsibilities
from casework.plan import ItemKind, PlanItem, PlanVersion, plan_versions, same_service
from casework.plan_diff import PlanDiff, diff_versions, diffs_by_version
from casework.service_referral import ReferralAnswer, ServiceReferral, ServiceStatus, answers_of, referrals_of_case
from casework.staff import Staff
from casework.users import StaffUser
from engine.models import Task, TaskStatus
from engine.runtime import Engine
from webapp.api.openapi import describe, json_body, query
from webapp.auth.api import api_route, api_staff, json_error
from webapp.auth.session import login_required, require_staff
from webapp.cases import api, bp
from webapp.cases.access import Opened, open_case

FORM_KEY = "case_section_form"  # the session's one pending form with mistakes (for one page view)

STATUS_LABELS: dict[ServiceStatus | None, Any] = {
    None: _l("Not requested yet"),
    ServiceStatus.REQUESTED: _l("Requested"),
    ServiceStatus.ACCEPTED: _l("Accepted"),
    ServiceStatus.STARTED: _l("Started"),
    ServiceStatus.DONE: _l("Done"),
    ServiceStatus.REFUSED: _l("Refused"),
    ServiceStatus.NOT_AVAILABLE: _l("Not available"),
    ServiceStatus.NO_CONSENT: _l("Not requested: no consent"),
    ServiceStatus.DROPPED: _l("Dropped"),
}
WAITING_FOR_CONSENT = _l("Waiting for the client's consent")
PROGRESS_LABELS = {GoalProgress.NOT_STARTED: _l("Not started"), GoalProgress.ONGOING: _l("Ongoing"),
                   GoalProgress.REACHED: _l("Reached"), GoalProgress.DROPPED: _l("Dropped")}
DECISION_LABELS = {ReviewDecision.CONTINUE: _l("Continue"), ReviewDecision.REVISE_PLAN: _l("Revise the plan"),
                   ReviewDecision.TEAM_REVIEW: _l("Work ability team review"), ReviewDecision.CLOSE: _l("Close")}
KNOWS_LABELS = {KnowsCaseManager.YES: _l("Yes"), KnowsCaseManager.NO: _l("No"),
                KnowsCaseManager.NOT_ASKED: _l("Not asked")}
REASON_LABELS = {
    AssignmentReason.INITIAL: _l("First case manager"), AssignmentReason.STAFF_LEAVING: _l("Staff leaving or absent"),
    AssignmentReason.WORKLOAD: _l("Workload"), AssignmentReason.BETTER_FIT: _l("Better fit"),
    AssignmentReason.DEACTIVATED: _l("Account deactivated"), AssignmentReason.TEAM_DECISION: _l("Team decision"),
    AssignmentReason.CASE_CLOSED: _l("Case closed"), AssignmentReason.OTHER: _l("Other reason"),
}
LETTER_LABELS = {LetterKind.GUIDANCE_TO_BASIC_SERVICES: _l("Guidance to basic services"),
                 LetterKind.CASE_MANAGER_NAMED: _l("Case manager named"),
                 LetterKind.CASE_MANAGER_CHANGED: _l("Case manager changed"),
                 LetterKind.CLOSURE_SUMMARY: _l("Closure summary")}
DELIVERY_LABELS = {Delivery.EMAIL: _l("Email"), Delivery.PRINT: _l("Printed letter")}
HOW_LABELS = {HowDelivered.MAILED: _l("Sent by email"), HowDelivered.PRINTED_AND_POSTED: _l("Printed and posted"),
              HowDelivered.HANDED_OVER: _l("Handed over")}
GIVER_LABELS = {ConsentGiver.CLIENT: _l("The client"), ConsentGiver.GUARDIAN: _l("Guardian or legal representative")}
METHOD_LABELS = {ConsentMethod.WRITTEN: _l("In writing"), ConsentMethod.ORAL: _l("Orally, with a witness")}
FIELD_LABELS = {"text": _l("text"), "responsible": _l("responsible"), "due": _l("date"),
                "consent_to_share": _l("consent to share"), "follow_up_months": _l("follow-up interval (months)"),
                "next_meeting": _l("next meeting"), "client_view": _l("client's own view"),
                "division_of_labour": _l("division of labour"), "starting_situation": _l("starting situation")}
KIND_LABELS = {ItemKind.MAIN_GOAL: _l("Main goal"), ItemKind.GOAL: _l("Goal"), ItemKind.SERVICE: _l("Service"),
               ItemKind.CLIENT_TASK: _l("Client's task")}


def engine() -> Engine:
    engine_: Engine = current_app.config["ENGINE"]
    return engine_


def service_label(code: str | None) -> str:
    message = SERVICE_TYPES.get(code or "other")
    return _(message) if message is not None else str(code)


# -- the page's sections ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ServiceRow:
    item: PlanItem
    type_label: str
    partner: NetworkPartner | None
    status: ServiceStatus | None
    status_label: str
    referred_at: datetime | None
    status_at: datetime | None
    outcome_text: str | None
    answers: list[tuple[str, datetime]]


@dataclass(frozen=True)
class ConsentRow:
    consent: Consent
    partner: NetworkPartner | None
    state: str  # valid | expired | revoked | future


def page_sections(session: Session, opened: Opened, staff: Staff, now: datetime) -> dict[str, Any]:
    """The context of the section partials for one case page (read in the page's read transaction)."""
    case_id = opened.case_id
    record = session.get(ClientCase, case_id)
    versions = plan_versions(session, case_id)
    current = versions[-1] if versions else None
    consents = consents_of_client(session, opened.access.client_id)
    members = responsibilities(session, case_id)
    partner_rows = _partners(session, consents, case_id, members)
    consent_rows = [ConsentRow(c, partner_rows.get(c.partner_id), _consent_state(c, now)) for c in consents]
    valid_partners = {row.consent.partner_id for row in consent_rows if row.state == "valid"}
    reviews = reviews_of_case(session, case_id)
    people = _people(session, [r.reviewed_by for r in reviews] + [v.created_by for v in versions])
    allowed = allowed_actions(staff, opened.access.relationship, record) if record is not None else frozenset()
    pending = _pending_form(opened.business_key)
    waiting_consent = int(session.scalar(select(func.count()).select_from(Task).where(
        Task.case_id == case_id, Task.status == TaskStatus.OPEN, Task.element_id == CONSENT_TASK)) or 0)
    return {
        "sections_key": opened.business_key,
        "plan": current,
        "plan_goals": _goals(session, current, reviews),
        "plan_services": _services(session, case_id, current, partner_rows, valid_partners),
        "plan_client_tasks": [i for i in current.items if i.kind is ItemKind.CLIENT_TASK] if current else [],
        "plan_versions": list(reversed(versions)),
        "plan_diffs": diffs_by_version(versions),
        "plan_people": people,
        "network_members": [(r, partner_rows.get(r.partner_id)) for r in members],
        "consents": consent_rows,
        "consent_partners": partners(session),
        "consents_waited": waiting_consent,
        "consent_givers": [(g.value, GIVER_LABELS[g]) for g in ConsentGiver],
        "consent_methods": [(m.value, METHOD_LABELS[m]) for m in ConsentMethod],
        "reviews": reviews,
        "review_people": people,
        "review_goal_labels": _review_goal_labels(session, reviews),
        "assignments": assignment_history(session, case_id),
        "case_letters": letters_of_case(session, case_id),
        "actions": {a.value for a in allowed},
        "actions_shown": bool(allowed & {CaseAction.REQUEST_CHANGE, CaseAction.NETWORK_MEETING, CaseAction.CONSULT,
                                         CaseAction.CLOSE}),
        "change_reasons": [(r.value, REASON_LABELS[r]) for r in CHANGE_REASONS],
        "change_requested_at": record.change_requested_at if record is not None else None,
        "section_form": pending,
        "section_labels": {"status": STATUS_LABELS, "progress": PROGRESS_LABELS, "decision": DECISION_LABELS,
                           "knows": KNOWS_LABELS, "reason": REASON_LABELS, "letter": LETTER_LABELS,
                           "delivery": DELIVERY_LABELS, "how": HOW_LABELS, "giver": GIVER_LABELS,
                           "method": METHOD_LABELS, "field": FIELD_LABELS, "kind": KIND_LABELS},
        "service_label": service_label,
        "today": now.date(),
    }


def _pending_form(business_key: str) -> dict[str, Any]:
    """The form with mistakes posted just before this view (shown once), or an empty one."""
    saved = flask_session.pop(FORM_KEY, None)
    if isinstance(saved, dict) and saved.get("key") == business_key:
        try:
            errors = {str(k): str(v) for k, v in saved.get("errors") or []}  # pairs: the session sorts dict keys
        except (TypeError, ValueError):
            errors = {}
        return {"name": saved.get("name"), "values": saved.get("values") or {}, "errors": errors,
                "consent_id": saved.get("consent_id")}
    return {"name": None, "values": {}, "errors": {}, "consent_id": None}


def _partners(session: Session, consents: list[Consent], case_id: str,
              members: list[PartnerResponsibility] | None = None) -> dict[int, NetworkPartner]:
    """The partners the case's consents, network members, referrals and plan name, by id."""
    ids = {c.partner_id for c in consents}
    ids |= {r.partner_id for r in (members if members is not None else responsibilities(session, case_id))}
    ids |= {r.partner_id for r in referrals_of_case(session, case_id) if r.partner_id is not None}
    ids |= set(session.scalars(select(PlanItem.partner_id).join(PlanVersion, PlanVersion.id == PlanItem.plan_version_id)
                               .where(PlanVersion.case_id == case_id, PlanItem.partner_id.is_not(None))))
    if not ids:
        return {}
    return {p.id: p for p in session.scalars(select(NetworkPartner).where(NetworkPartner.id.in_(sorted(ids))))}


def _consent_state(consent: Consent, now: datetime) -> str:
    if consent.revoked_at is not None and consent.revoked_at <= now:
        return "revoked"
    if consent.valid_until is not None and consent.valid_until <= now:
        return "expired"
    if consent.given_at > now:
        return "future"
    return "valid"


def _people(session: Session, user_ids: list[str]) -> dict[str, str]:
    ids = sorted({u for u in user_ids if u})
    if not ids:
        return {}
    return {user_id: name for user_id, name in session.execute(select(StaffUser.id, StaffUser.name)
                                                                .where(StaffUser.id.in_(ids))).all()}


def _goal_key(item: PlanItem) -> tuple[object, ...]:
    return (item.kind,) if item.kind is ItemKind.MAIN_GOAL else (item.kind, item.text.strip().casefold())


def _goals(session: Session, plan: PlanVersion | None, reviews: list[Any]) -> list[tuple[PlanItem, Any]]:
    """The plan's goals with the progress the latest review recorded for them (matched across versions)."""
    if plan is None:
        return []
    goals = [i for i in plan.items if i.kind in (ItemKind.MAIN_GOAL, ItemKind.GOAL)]
    ids = sorted({g.plan_item_id for r in reviews for g in r.goals})
    keys = {i.id: _goal_key(i) for i in session.scalars(select(PlanItem).where(PlanItem.id.in_(ids)))} if ids else {}
    progress: dict[tuple[object, ...], GoalProgress] = {}
    for review in reviews:  # oldest first: a later review's word wins
        for reviewed in review.goals:
            if reviewed.plan_item_id in keys:
                progress[keys[reviewed.plan_item_id]] = reviewed.progress
    return [(g, progress.get(_goal_key(g))) for g in goals]


def _review_goal_labels(session: Session, reviews: list[Any]) -> dict[int, str]:
    ids = sorted({g.plan_item_id for r in reviews for g in r.goals})
    if not ids:
        return {}
    return {i.id: i.text for i in session.scalars(select(PlanItem).where(PlanItem.id.in_(ids)))}


def _services(session: Session, case_id: str, plan: PlanVersion | None, partner_rows: dict[int, NetworkPartner],
              valid_partners: set[int]) -> list[ServiceRow]:
    """The current plan's services with where each is: a service carried over from an earlier version shows its
    referral there (as `casework.service_referral.service_statuses` does)."""
    if plan is None:
        return []
    rows = session.execute(select(ServiceReferral, PlanItem).join(PlanItem, PlanItem.id == ServiceReferral.plan_item_id)
                           .where(ServiceReferral.case_id == case_id).order_by(ServiceReferral.plan_item_id)).all()
    by_id = {row.plan_item_id: row for row, _item in rows}
    by_service = {same_service(item): row for row, item in rows}
    answered: dict[int, list[ReferralAnswer]] = {}
    if rows:
        for answer in session.scalars(select(ReferralAnswer).where(ReferralAnswer.plan_item_id.in_(sorted(by_id)))
                                      .order_by(ReferralAnswer.answered_at, ReferralAnswer.id)):
            answered.setdefault(answer.plan_item_id, []).append(answer)
    out = []
    for item in plan.items:
        if item.kind is not ItemKind.SERVICE:
            continue
        referral = by_id.get(item.id) or by_service.get(same_service(item))
        status = referral.status if referral is not None else None
        label = str(STATUS_LABELS[status])
        if status is None and (item.partner_id is None or item.partner_id not in valid_partners):
            label = str(WAITING_FOR_CONSENT)
        answers = [(str(STATUS_LABELS.get(a.answer, a.answer.value)), a.answered_at)
                   for a in answered.get(referral.plan_item_id, [])] if referral is not None else []
        out.append(ServiceRow(item, service_label(item.service_type.value if item.service_type else None),
                              partner_rows.get(item.partner_id) if item.partner_id is not None else None,
                              status, label, referral.referred_at if referral else None,
                              referral.status_at if referral else None, referral.outcome_text if referral else None,
                              answers))
    return out


# -- the actions ------------------------------------------------------------------------------------------------

def case_url(business_key: str, anchor: str = "") -> str:
    """The case page (webapp.cases.views) at one of its sections."""
    return url_for("cases.case_page", key=business_key) + (f"#{anchor}" if anchor else "")


def _open(staff: Staff, business_key: str, what: str, action: AccessAction) -> Opened | int:
    """`open_case`, logged as the change it is."""
    return open_case(staff, business_key, what, action=action)


def _may(staff: Staff, opened: Opened, action: CaseAction) -> bool:
    with engine().db.read() as db:
        record = db.get(ClientCase, opened.case_id)
        return record is not None and action in allowed_actions(staff, opened.access.relationship, record)


def _opened_for(business_key: str, what: str, action: CaseAction, log_action: AccessAction) -> tuple[Staff, Opened]:
    staff = require_staff()
    opened = _open(staff, business_key, what, log_action)
    if isinstance(opened, int):
        abort(opened)
    if not _may(staff, opened, action):
        abort(403)
    return staff, opened


def _keep_form(business_key: str, name: str, values: Mapping[str, str], errors: dict[str, str],
               consent_id: int | None = None) -> None:
    flask_session[FORM_KEY] = {"key": business_key, "name": name, "errors": [[k, v] for k, v in errors.items()],
                               "consent_id": consent_id,
                               "values": {k: str(v)[:MAX_TEXT] for k, v in values.items() if k != "csrf_token"}}


def _back(business_key: str, anchor: str) -> Any:
    return redirect(case_url(business_key, anchor), code=303)


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
    try:
        request_case_manager_change(engine(), opened.case_id, reason, note, staff.id)
    except (ActionConflict, Refused) as err:
        flash(_("The change was not requested: %(why)s.", why=_(str(err))), "error")
        return _back(key, "actions")
    flash(_("The change of case manager was requested. The team lead names the new case manager."), "success")
    return _back(key, "actions")


@bp.post("/<key>/network-meeting")
@login_required
def network_meeting(key: str) -> Any:
    """Call a network meeting: the case manager gets a task to record it once held."""
    staff, opened = _opened_for(key, "network meeting called", CaseAction.NETWORK_MEETING, AccessAction.UPDATE)
    try:
        call_network_meeting(engine(), opened.case_id, staff.id)
    except ActionConflict as err:
        flash(_("The network meeting was not called: %(why)s.", why=_(str(err))), "error")
        return _back(key, "actions")
    flash(_("The network meeting was called. Record it in the case manager's task once held."), "success")
    return _back(key, "actions")


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
    try:
        consult_coordinator(engine(), opened.case_id, question, staff.id)
    except (ActionConflict, Refused) as err:
        flash(_("The question was not sent: %(why)s.", why=_(str(err))), "error")
        return _back(key, "actions")
    flash(_("The question was sent to the coordinators."), "success")
    return _back(key, "actions")


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


# -- JSON twins -------------------------------------------------------------------------------------------------

def _api_open(business_key: str, what: str, action: AccessAction = AccessAction.VIEW) -> Opened | Any:
    opened = _open(api_staff(), business_key, what, action)
    if isinstance(opened, int):
        return json_error(opened, "NotFound" if opened == 404 else "Forbidden",
                          "no such case" if opened == 404 else "you have no relationship to this case")
    return opened


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def consent_json(consent: Consent, partner: NetworkPartner | None, now: datetime) -> dict[str, Any]:
    return {"id": consent.id, "partnerId": consent.partner_id,
            "partner": partner.organisation if partner is not None else None, "scope": consent.scope,
            "givenAt": _iso(consent.given_at), "givenBy": consent.given_by.value if consent.given_by else None,
            "method": consent.method.value if consent.method else None, "witness": consent.witness,
            "validUntil": _iso(consent.valid_until), "revokedAt": _iso(consent.revoked_at),
            "recordedBy": consent.recorded_by, "state": _consent_state(consent, now)}


def _consents_json(opened: Opened) -> list[dict[str, Any]]:
    now = engine().clock()
    with engine().db.read() as db:
        consents = consents_of_client(db, opened.access.client_id)
        found = _partners(db, consents, opened.case_id)
        return [consent_json(c, found.get(c.partner_id), now) for c in consents]


API_FIELDS = {"consent-partner": "partnerId", "consent-scope": "scope", "consent-given-by-client": "givenBy",
              "consent-method-written": "method", "consent-witness": "witness", "consent-given-on": "givenOn",
              "consent-valid-until": "validUntil"}  # the page's field ids as the JSON body names them
CONSENT_SCHEMA = {"type": "object", "properties": {
    "id": {"type": "integer"}, "partnerId": {"type": "integer"}, "partner": {"type": "string"},
    "scope": {"type": "string"}, "givenAt": {"type": "string"}, "givenBy": {"type": "string"},
    "method": {"type": "string"}, "witness": {"type": "string", "nullable": True},
    "validUntil": {"type": "string", "nullable": True}, "revokedAt": {"type": "string", "nullable": True},
    "recordedBy": {"type": "string"}, "state": {"type": "string", "description": "valid, expired, revoked, future"}}}


@api.get("/<key>/consents")
@api_route
def api_consents(key: str) -> Any:
    """The client's consents to share data with network partners."""
    opened = _api_open(key, "consents")
    if not isinstance(opened, Opened):
        return opened
    return {"consents": _consents_json(opened)}


@api.post("/<key>/consents")
@api_route
def api_record_consent(key: str) -> Any:
    """Record a consent; a referral to that partner waiting for consent proceeds."""
    staff = api_staff()
    opened = _api_open(key, "consent recorded", AccessAction.CREATE)
    if not isinstance(opened, Opened):
        return opened
    if not _may(staff, opened, CaseAction.RECORD_CONSENT):
        return json_error(403, "Forbidden", "you may not record consents in this case")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return json_error(400, "InvalidRequestException", "send a JSON object")
    form = {"partner_id": str(body.get("partnerId") or ""), "scope": str(body.get("scope") or ""),
            "given_by": str(body.get("givenBy") or ""), "method": str(body.get("method") or ""),
            "witness": str(body.get("witness") or ""), "given_on": str(body.get("givenOn") or ""),
            "valid_until": str(body.get("validUntil") or "")}
    data, errors = parse_consent(form, engine().clock().date())
    if data is None:
        by_name = {API_FIELDS.get(field_id, field_id): message for field_id, message in errors.items()}
        return {"type": "InvalidRequestException", "message": "; ".join(errors.values()), "errors": by_name}, 400
    try:
        done = record_case_consent(engine(), opened.case_id, data, staff.id)
    except ActionConflict as err:
        return json_error(409, "Conflict", str(err))
    except CaseworkError as err:
        return json_error(400, "InvalidRequestException", str(err))
    return {"id": done.consent_id, "referralsProceeding": done.referrals_woken}, 201


@api.post("/<key>/consents/<int:consent_id>/revoke")
@api_route
def api_revoke_consent(key: str, consent_id: int) -> Any:
    """Revoke one of the client's consents."""
    staff = api_staff()
    opened = _api_open(key, "consent revoked", AccessAction.UPDATE)
    if not isinstance(opened, Opened):
        return opened
    if not _may(staff, opened, CaseAction.REVOKE_CONSENT):
        return json_error(403, "Forbidden", "you may not revoke consents in this case")
    try:
        revoked = revoke_case_consent(engine(), opened.case_id, consent_id, staff.id)
    except ActionConflict as err:
        return json_error(409, "Conflict", str(err))
    except NotFound as err:
        return json_error(404, "NotFound", str(err))
    return {"id": revoked.id, "revokedAt": _iso(revoked.revoked_at)}


@api.get("/<key>/referrals")
@api_route
def api_referrals(key: str) -> Any:
    """The plan's services with their referral status and the partners' answers."""
    opened = _api_open(key, "referrals")
    if not isinstance(opened, Opened):
        return opened
    now = engine().clock()
    with engine().db.read() as db:
        versions = plan_versions(db, opened.case_id)
        consents = consents_of_client(db, opened.access.client_id)
        found = _partners(db, consents, opened.case_id)
        valid = {c.partner_id for c in consents if _consent_state(c, now) == "valid"}
        rows = _services(db, opened.case_id, versions[-1] if versions else None, found, valid)
        out = [{"serviceId": r.item.id, "serviceType": r.item.service_type.value if r.item.service_type else None,
                "provider": r.item.provider_organisation, "partnerId": r.item.partner_id,
                "responsible": r.item.responsible, "startDue": _iso(r.item.due),
                "status": r.status.value if r.status else None,
                "waitingForConsent": r.status is None and r.item.partner_id not in valid,
                "referredAt": _iso(r.referred_at), "statusAt": _iso(r.status_at), "outcome": r.outcome_text,
                "answers": [{"answer": a.answer.value, "at": _iso(a.answered_at)}
                            for a in _answers(db, opened.case_id, r)]} for r in rows]
    return {"referrals": out}


def _answers(db: Session, case_id: str, row: ServiceRow) -> list[Any]:
    referral = db.get(ServiceReferral, row.item.id)
    if referral is None:
        for candidate in referrals_of_case(db, case_id):
            item = db.get(PlanItem, candidate.plan_item_id)
            if item is not None and same_service(item) == same_service(row.item):
                referral = candidate
    return answers_of(db, referral) if referral is not None else []


def _item_json(item: PlanItem) -> dict[str, Any]:
    return {"id": item.id, "kind": item.kind.value, "text": item.text, "responsible": item.responsible,
            "due": _iso(item.due), "serviceType": item.service_type.value if item.service_type else None,
            "provider": item.provider_organisation, "partnerId": item.partner_id,
            "consentToShare": item.consent_to_share}


def _version_json(version: PlanVersion, diff: PlanDiff | None, items: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"version": version.version, "createdAt": _iso(version.created_at),
                           "createdBy": version.created_by, "reason": version.reason,
                           "followUpMonths": version.follow_up_months, "nextMeeting": _iso(version.next_meeting)}
    if items:
        out["items"] = [_item_json(i) for i in version.items]
    if diff is not None:
        out["changes"] = diff.as_json()
    return out


@api.get("/<key>/plan")
@api_route
def api_plan(key: str) -> Any:
    """The current plan with its items, and every version with what it changed."""
    opened = _api_open(key, "plan")
    if not isinstance(opened, Opened):
        return opened
    with engine().db.read() as db:
        versions = plan_versions(db, opened.case_id)
        diffs = diffs_by_version(versions)
        current = _version_json(versions[-1], None, True) if versions else None
        return {"current": current,
                "versions": [_version_json(v, diffs[v.version], False) for v in reversed(versions)]}


@api.get("/<key>/plan/diff")
@api_route
def api_plan_diff(key: str) -> Any:
    """What changed between two plan versions (from, to)."""
    try:
        to_version = int(request.args.get("to", ""))
        raw_from = request.args.get("from", "")
        from_version = int(raw_from) if raw_from else None
    except ValueError:
        return json_error(400, "InvalidRequestException", "from and to are plan version numbers")
    opened = _api_open(key, "plan versions")
    if not isinstance(opened, Opened):
        return opened
    with engine().db.read() as db:
        try:
            return diff_versions(db, opened.case_id, from_version, to_version).as_json()
        except NotFound as err:
            return json_error(404, "NotFound", str(err))


_CONSENT_BODY = json_body({
    "partnerId": {"type": "integer"}, "scope": {"type": "string", "description": "what may be shared and for what"},
    "givenBy": {"type": "string", "enum": [g.value for g in ConsentGiver]},
    "method": {"type": "string", "enum": [m.value for m in ConsentMethod]},
    "witness": {"type": "string", "description": "required for an oral consent"},
    "givenOn": {"type": "string", "format": "date", "description": "default today"},
    "validUntil": {"type": "string", "format": "date", "description": "the last day; empty: until revoked"}},
    required=["partnerId", "scope", "givenBy", "method"])
describe("cases_api.api_consents", response={"type": "object", "properties": {
    "consents": {"type": "array", "items": CONSENT_SCHEMA}}})
describe("cases_api.api_record_consent", body=_CONSENT_BODY, response={"type": "object", "properties": {
    "id": {"type": "integer"}, "referralsProceeding": {"type": "integer"}}})
describe("cases_api.api_revoke_consent", response={"type": "object", "properties": {
    "id": {"type": "integer"}, "revokedAt": {"type": "string"}}})
describe("cases_api.api_referrals", response={"type": "object", "properties": {"referrals": {
    "type": "array", "items": {"type": "object", "properties": {
        "serviceId": {"type": "integer"}, "serviceType": {"type": "string"}, "provider": {"type": "string"},
        "partnerId": {"type": "integer", "nullable": True}, "responsible": {"type": "string"},
        "startDue": {"type": "string"}, "status": {"type": "string", "nullable": True,
                                                  "description": ", ".join(s.value for s in ServiceStatus)},
        "waitingForConsent": {"type": "boolean"}, "referredAt": {"type": "string", "nullable": True},
        "statusAt": {"type": "string", "nullable": True}, "outcome": {"type": "string", "nullable": True},
        "answers": {"type": "array", "items": {"type": "object", "properties": {
            "answer": {"type": "string"}, "at": {"type": "string"}}}}}}}}})
describe("cases_api.api_plan", response={"type": "object", "properties": {
    "current": {"type": "object", "nullable": True}, "versions": {"type": "array", "items": {"type": "object"}}}})
describe("cases_api.api_plan_diff", parameters=[query("from", "the earlier version (empty: the first version "
                                                              "against nothing)", "integer"),
                                                query("to", "the later version", "integer")],
         response={"type": "object", "properties": {
             "from": {"type": "integer", "nullable": True}, "to": {"type": "integer"},
             "added": {"type": "array", "items": {"type": "object"}},
             "removed": {"type": "array", "items": {"type": "object"}},
             "changed": {"type": "array", "items": {"type": "object"}},
             "planChanges": {"type": "array", "items": {"type": "object"}}}})

__all__ = ["page_sections"]
