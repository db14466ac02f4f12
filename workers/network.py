"""The service coordination topics (bpmn/service-coordination.bpmn).

- `partner-referral`: refers the client to the partner, only with a valid consent and never when the client
  refused consent at referral (`referralConsent` false) unless a consent was recorded for this service since;
  mails the partner a link (no client data) and sets the dates the process waits on.
- `record-consent`: what the case manager recorded in `obtain_consent` becomes a consent record.
- `partner-reminder`: reminds a silent partner (and again when the case manager chases).
- `record-service-outcome`: the partner's answer the process received, or the service ended without one
  (no consent, dropped); outputs `serviceStatus`, by which the process decides where to wait next.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any

from casework.access_log import log_disclosure
from casework.client_case import get_case
from casework.consent import Consent, ConsentGiver, ConsentMethod, record_consent, valid_consent
from casework.errors import CaseworkError, NotFound
from casework.network import (
    NetworkPartner,
    add_responsibility,
    end_responsibility,
    get_partner,
    responsibilities,
)
from casework.plan import PlanItem
from casework.service_referral import (
    ESCALATE_AFTER_DAYS,
    REMINDER_AFTER_DAYS,
    IllegalAnswer,
    ServiceOutcome,
    ServiceReferral,
    ServiceStatus,
    already_referred,
    drop_service,
    mark_reminded,
    planned_service,
    record_answer,
    record_outcome,
    record_referral,
    referral_of,
    tell_partner,
)
from engine.models import Case
from workers.handler import BpmnError, Failure, JobContext, handler
from workers.variables import as_date, required, text

NO_CONSENT = "NO_CONSENT"
CONSENT_INCOMPLETE = "CONSENT_INCOMPLETE"


def _item(session: Any, ctx: JobContext, topic: str) -> PlanItem:
    service_id = required(ctx.variables, "serviceId", topic)
    try:
        return planned_service(session, ctx.case_id, service_id)
    except NotFound as err:
        raise Failure(f"{topic}: {err}", retries=0) from err


def _partner_id(ctx: JobContext, item: PlanItem) -> int | None:
    """The partner to refer to: the one the case manager chose instead, else the plan's."""
    chosen = ctx.variables.get("referralPartnerId")
    if chosen not in (None, ""):
        try:
            return int(chosen)
        except (TypeError, ValueError):
            raise Failure(f"referralPartnerId {chosen!r} is not a network partner's id", retries=0) from None
    return item.partner_id


def _waits(row: ServiceReferral, item: PlanItem) -> dict[str, Any]:
    """When the process stops waiting quietly: the partner's reminder, the case manager's task, late start."""
    assert row.referred_at is not None
    start_due = item.due
    overdue = datetime.combine(start_due + timedelta(days=1), time(0), tzinfo=UTC)
    return {"referralId": row.referral_id, "serviceStatus": row.status.value if row.status else None,
            "reminderSent": False, "overdueAlerted": False,
            "reminderAt": (row.referred_at + timedelta(days=REMINDER_AFTER_DAYS)).isoformat(),
            "escalateAt": (row.referred_at + timedelta(days=REMINDER_AFTER_DAYS + ESCALATE_AFTER_DAYS)).isoformat(),
            "startDue": start_due.isoformat(), "startOverdueAt": overdue.isoformat()}


@handler("partner-referral")
def send_partner_referral(ctx: JobContext) -> Mapping[str, Any]:
    """Refers the client to the service's partner, recorded in the disclosure log; NO_CONSENT without consent."""
    svc = ctx.need_services()
    by = text(ctx.variables.get("caseManager")) or "polku"
    key = f"job:{ctx.id}"
    now = svc.clock()
    with svc.db.transaction() as session:
        item = _item(session, ctx, "partner-referral")
        if already_referred(session, item, key):
            row = referral_of(session, item)
            assert row is not None
            return _waits(row, item)
        record = get_case(session, ctx.case_id)
        partner_id = _partner_id(ctx, item)
        if partner_id is None:
            raise BpmnError(NO_CONSENT, f"{item.provider_organisation} is not a registered network partner, "
                                        "so no consent of the client can cover a referral there")
        try:
            partner = get_partner(session, partner_id)
        except NotFound as err:
            raise Failure(f"partner-referral: {err}", retries=0) from err
        recorded = _recorded_here(session, ctx, record.client_id, partner.id, now)
        consent = recorded or valid_consent(session, record.client_id, partner.id, now)
        if consent is None:
            raise BpmnError(NO_CONSENT, f"the client has no valid consent for {partner.organisation}")
        if _referral_consent(session, ctx) is False and recorded is None:
            raise BpmnError(NO_CONSENT, "the client did not consent at referral; record the client's consent for "
                                        f"{partner.organisation} before the referral is sent")
        service = item.service_type.value if item.service_type else "service"
        log_disclosure(session, client_id=record.client_id, partner_id=partner.id, consent_id=consent.id,
                       case_id=ctx.case_id, by=by, at=now,
                       what=f"referral for {service}: contact details and the plan's service item")
        former = referral_of(session, item)
        if former is not None and former.partner_id not in (None, partner.id):  # another provider takes it over
            for part in responsibilities(session, ctx.case_id, at=now):
                if part.partner_id == former.partner_id and part.responsibility == (item.text or service):
                    end_responsibility(session, part.id, now)
        add_responsibility(session, ctx.case_id, partner.id, responsibility=item.text or service,
                           contact_person=item.responsible, at=now)
        row = record_referral(session, item, ctx.case_id, by=by, consent_id=consent.id, at=now, key=key,
                              partner_id=partner.id)
        tell_partner(session, row, "partner-referral", svc.base_url, now, key=f"{key}:partner")
        return _waits(row, item)


def _recorded_here(session: Any, ctx: JobContext, client_id: str, partner_id: int, now: datetime) -> Consent | None:
    """The consent `obtain_consent` recorded for this service (`consentId`), if it covers this partner now."""
    named = text(ctx.variables.get("consentId"))
    consent = session.get(Consent, int(named)) if named is not None and named.isdigit() else None
    if consent is None or consent.client_id != client_id or consent.partner_id != partner_id:
        return None
    return consent if consent.valid_at(now) else None


def _referral_consent(session: Any, ctx: JobContext) -> object:
    """The client's consent at referral (`referralConsent`): the called process's copy, else the case's own."""
    if "referralConsent" in ctx.variables:
        return ctx.variables["referralConsent"]
    case = session.get(Case, ctx.case_id)
    return (case.variables or {}).get("referralConsent") if case is not None else None


@handler("record-consent")
def record_obtained_consent(ctx: JobContext) -> Mapping[str, Any]:
    """Stores the consent recorded in `obtain_consent`; CONSENT_INCOMPLETE sends the task back with the reason."""
    svc = ctx.need_services()
    variables = ctx.variables
    if variables.get("consentObtained") is not True:
        return {"consentObtained": False, "consentProblem": None}
    now = svc.clock()
    with svc.db.transaction() as session:
        item = _item(session, ctx, "record-consent")
        partner_id = _partner_id(ctx, item)
        if partner_id is None:
            raise _incomplete(f"{item.provider_organisation} is not a registered network partner: choose a "
                              "registered provider")
        partner = get_partner(session, partner_id)
        client_id = get_case(session, ctx.case_id).client_id
        method = text(variables.get("consentMethod"))
        if method is None:
            existing = valid_consent(session, client_id, partner.id, now)
            if existing is not None:  # recorded already (the case page): the referral may go
                return {"consentObtained": True, "consentId": str(existing.id), "consentProblem": None}
            raise _incomplete("say how the consent was given: in writing, or orally with a witness")
        consent_id = _record(session, variables, client_id, partner, item, method, now, ctx)
        return {"consentObtained": True, "consentId": str(consent_id), "consentProblem": None}


def _incomplete(reason: str) -> BpmnError:
    """Back to `obtain_consent`, whose read-only field `consentProblem` shows the case manager why."""
    message = f"The consent was not recorded: {reason}."
    return BpmnError(CONSENT_INCOMPLETE, message, {"consentProblem": message})


def _record(session: Any, variables: Mapping[str, Any], client_id: str, partner: NetworkPartner, item: PlanItem,
            method: str, now: datetime, ctx: JobContext) -> int:
    try:
        how = ConsentMethod(method)
        giver = ConsentGiver(text(variables.get("consentGivenBy")) or ConsentGiver.CLIENT.value)
    except ValueError as err:
        raise _incomplete(str(err)) from None
    given_on = _given_on(variables.get("consentDate"), now)
    if given_on > now:
        raise _incomplete("the date the consent was given is in the future")
    service = item.service_type.value if item.service_type else "service"
    scope = text(variables.get("consentScope")) or (
        f"referral to {partner.organisation} for {service}, and the partner's reports back to the case manager")
    by = text(variables.get("caseManager")) or "polku"
    try:
        consent = record_consent(session, client_id, partner.id, scope, given_on, recorded_by=by, given_by=giver,
                                 method=how, witness=text(variables.get("consentWitness")))
    except CaseworkError as err:
        raise _incomplete(str(err)) from None
    return consent.id


def _given_on(raw: object, now: datetime) -> datetime:
    """The day given, as the start of that day (UTC), or now; a consent dated today is in force at once."""
    day = as_date(raw)
    if day is None or day == now.date():
        return now
    return datetime.combine(day, time(0), tzinfo=UTC)


@handler("partner-reminder")
def remind_partner(ctx: JobContext) -> Mapping[str, Any]:
    """Reminds the partner of an unanswered referral (a link, no client data); nothing once it is answered."""
    svc = ctx.need_services()
    now = svc.clock()
    with svc.db.transaction() as session:
        item = _item(session, ctx, "partner-reminder")
        row = referral_of(session, item)
        if row is None or row.status is None:
            raise Failure("partner-reminder: the service was never referred", retries=0)
        if row.status is ServiceStatus.REQUESTED:
            tell_partner(session, row, "partner-reminder", svc.base_url, now, key=f"job:{ctx.id}:partner")
            mark_reminded(session, row, now)
        return {"serviceStatus": row.status.value, "reminderSent": True,
                "escalateAt": (now + timedelta(days=ESCALATE_AFTER_DAYS)).isoformat()}


@handler("record-service-outcome")
def record_service_outcome(ctx: JobContext) -> Mapping[str, Any]:
    """The end of a service without an answer (`serviceOutcome` no_consent / dropped), or an answer received
    (`serviceOutcome` answer: the message's `answeredReferralId` or `answeredServiceId`, `partnerDecision`)."""
    svc = ctx.need_services()
    now = svc.clock()
    raw = text(ctx.variables.get("serviceOutcome"))
    with svc.db.transaction() as session:
        item = _item(session, ctx, "record-service-outcome")
        if raw == ServiceOutcome.NO_CONSENT.value:
            record_outcome(session, item, ctx.case_id, ServiceOutcome.NO_CONSENT, now)
            return {"serviceStatus": ServiceStatus.NO_CONSENT.value}
        if raw == ServiceStatus.DROPPED.value:
            ended = drop_service(session, item, ctx.case_id, now).status
            return {"serviceStatus": ended.value if ended is not None else None}
        if raw in OLDER_DIAGRAM_ANSWERS:  # a diagram before stepwise answers passes the partner's answer itself
            return {"serviceStatus": _older_answer(session, ctx, item, ServiceOutcome(raw), now)}
        if raw not in (None, "answer"):
            raise Failure(f"record-service-outcome: unknown serviceOutcome {raw!r}", retries=0)
        return {"serviceStatus": _received_answer(session, ctx, item, now)}


OLDER_DIAGRAM_ANSWERS = frozenset({ServiceOutcome.ACCEPTED.value, ServiceOutcome.REFUSED.value,
                                   ServiceOutcome.NOT_AVAILABLE.value})


def _older_answer(session: Any, ctx: JobContext, item: PlanItem, outcome: ServiceOutcome, now: datetime) -> str:
    """Cases still running an older service coordination: the answer is recorded as it was then, mailed now."""
    row = referral_of(session, item)
    if row is not None and row.referral_id is not None and row.status is not None:
        try:
            return record_answer(session, row.referral_id, outcome.value, None, "partner (process message)", now,
                                 catching_up=True).status.value
        except IllegalAnswer:
            return row.status.value
    record_outcome(session, item, ctx.case_id, outcome, now)
    return outcome.value


def _received_answer(session: Any, ctx: JobContext, item: PlanItem, now: datetime) -> str | None:
    """Records the answer the process received unless casework has it already; the referral's status now."""
    row = referral_of(session, item)
    if row is None or row.referral_id is None or row.status is None:
        return row.status.value if row is not None and row.status is not None else None
    for_referral = text(ctx.variables.get("answeredReferralId"))
    for_service = text(ctx.variables.get("answeredServiceId"))
    decision = text(ctx.variables.get("partnerDecision"))
    meant_here = (for_referral == row.referral_id if for_referral is not None
                  else for_service is None or for_service == str(item.id))
    if meant_here and decision is not None:
        try:
            result = record_answer(session, row.referral_id, decision, text(ctx.variables.get("serviceOutcomeText")),
                                   "partner (process message)", now, catching_up=True)
            return result.status.value
        except IllegalAnswer:
            pass  # answered out of turn straight to the engine: casework's status stands
    return row.status.value
