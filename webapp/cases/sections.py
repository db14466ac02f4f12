"""The plan, network, history and letters parts of the case page.

Contract with `webapp.cases.views`: `page_sections` returns the template context the partials
`cases/_plan.html`, `cases/_network.html`, `cases/_history.html`, `cases/_letters.html` and
`cases/_actions.html` read. The forms of those parts POST to `webapp.cases.actions`, which keeps a form with
mistakes in the session (`FORM_KEY`) for exactly one page view; their JSON twins are `webapp.cases.api_views`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from flask import session as flask_session
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from casework.case_actions import CHANGE_REASONS, CONSENT_TASK, CaseAction, allowed_actions
from casework.case_manager import AssignmentReason, assignment_history
from casework.client_case import ClientCase
from casework.consent import Consent, ConsentGiver, ConsentMethod, consents_of_client
from casework.evaluation import GoalProgress, KnowsCaseManager, ReviewDecision, reviews_of_case
from casework.letter.records import Delivery, HowDelivered, LetterKind, letters_of_case
from casework.letter.texts import SERVICE_TYPES
from casework.network import NetworkPartner, PartnerResponsibility, partners, responsibilities
from casework.plan import ItemKind, PlanItem, PlanVersion, plan_versions, same_service
from casework.plan_diff import diffs_by_version
from casework.service_referral import ReferralAnswer, ServiceReferral, ServiceStatus, referrals_of_case
from casework.staff import Staff
from casework.users import StaffUser
from engine.models import Task, TaskStatus
from engine.runtime import Engine
from webapp.cases.access import Opened

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
    partner_rows = case_partners(session, consents, case_id, members)
    consent_rows = [ConsentRow(c, partner_rows.get(c.partner_id), consent_state(c, now)) for c in consents]
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
        "plan_services": service_rows(session, case_id, current, partner_rows, valid_partners),
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


def case_partners(session: Session, consents: list[Consent], case_id: str,
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


def consent_state(consent: Consent, now: datetime) -> str:
    """valid, expired, revoked or future: the page and the JSON twin say the same."""
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


def service_rows(session: Session, case_id: str, plan: PlanVersion | None, partner_rows: dict[int, NetworkPartner],
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


__all__ = ["FORM_KEY", "ConsentRow", "ServiceRow", "case_partners", "consent_state", "engine", "page_sections",
           "service_label", "service_rows"]
