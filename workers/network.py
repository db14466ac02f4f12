"""The service coordination topics: `partner-referral` (only with the client's consent) and
`record-service-outcome` (the partner's answer, or the referral blocked for lack of consent)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from casework.access_log import log_disclosure
from casework.client_case import get_case
from casework.consent import valid_consent
from casework.errors import NotFound
from casework.network import add_responsibility, get_partner
from casework.service_referral import (
    ServiceOutcome,
    already_referred,
    planned_service,
    record_outcome,
    record_referral,
)
from workers.handler import BpmnError, Failure, JobContext, handler
from workers.variables import required, text

NO_CONSENT = "NO_CONSENT"


@handler("partner-referral")
def send_partner_referral(ctx: JobContext) -> Mapping[str, Any]:
    """Refers the client to the service's partner, recorded in the disclosure log; NO_CONSENT without consent."""
    svc = ctx.need_services()
    service_id = required(ctx.variables, "serviceId", "partner-referral")
    by = text(ctx.variables.get("caseManager")) or "polku"
    key = f"job:{ctx.id}"
    now = svc.clock()
    with svc.db.transaction() as session:
        try:
            item = planned_service(session, ctx.case_id, service_id)
        except NotFound as err:
            raise Failure(f"partner-referral: {err}", retries=0) from err
        if already_referred(session, item, key):
            return {}
        record = get_case(session, ctx.case_id)
        if item.partner_id is None:
            raise BpmnError(NO_CONSENT, f"{item.provider_organisation} is not a registered network partner, "
                                        "so no consent of the client can cover a referral there")
        partner = get_partner(session, item.partner_id)
        consent = valid_consent(session, record.client_id, partner.id, now)
        if consent is None:
            raise BpmnError(NO_CONSENT, f"the client has no valid consent for {partner.organisation}")
        service = item.service_type.value if item.service_type else "service"
        log_disclosure(session, client_id=record.client_id, partner_id=partner.id, consent_id=consent.id,
                       case_id=ctx.case_id, by=by, at=now,
                       what=f"referral for {service}: contact details and the plan's service item")
        add_responsibility(session, ctx.case_id, partner.id, responsibility=item.text or service,
                           contact_person=item.responsible, at=now)
        record_referral(session, item, ctx.case_id, by=by, consent_id=consent.id, at=now, key=key)
    return {}


@handler("record-service-outcome")
def record_service_outcome(ctx: JobContext) -> Mapping[str, Any]:
    svc = ctx.need_services()
    service_id = required(ctx.variables, "serviceId", "record-service-outcome")
    raw = required(ctx.variables, "serviceOutcome", "record-service-outcome")
    try:
        outcome = ServiceOutcome(raw)
    except ValueError:
        raise Failure(f"record-service-outcome: unknown serviceOutcome {raw!r}", retries=0) from None
    with svc.db.transaction() as session:
        try:
            item = planned_service(session, ctx.case_id, service_id)
        except NotFound as err:
            raise Failure(f"record-service-outcome: {err}", retries=0) from err
        record_outcome(session, item, ctx.case_id, outcome, svc.clock())
    return {}
