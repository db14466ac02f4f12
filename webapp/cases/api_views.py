"""The JSON twins of the case page's sections under `/api/cases`: consents, referrals and the plan.

The same rules as the page's forms (`webapp.cases.actions`) and the same reading (`webapp.cases.sections`);
each response that shows client data writes the access log once (`open_case`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from flask import request
from sqlalchemy.orm import Session

from casework.access_log import AccessAction
from casework.case_actions import ActionConflict, CaseAction, record_case_consent, revoke_case_consent
from casework.consent import Consent, ConsentGiver, ConsentMethod, consents_of_client
from casework.errors import CaseworkError, NotFound
from casework.network import NetworkPartner
from casework.plan import PlanItem, PlanVersion, plan_versions, same_service
from casework.plan_diff import PlanDiff, diff_versions, diffs_by_version
from casework.service_referral import ServiceReferral, ServiceStatus, answers_of, referrals_of_case
from webapp.api.openapi import describe, json_body, query
from webapp.auth.api import api_route, api_staff, json_error
from webapp.cases import api
from webapp.cases.access import Opened, open_case_json
from webapp.cases.actions import may, parse_consent
from webapp.cases.sections import ServiceRow, case_partners, consent_state, engine, service_rows

# -- helpers -------------------------------------------------------------------------------------------------

def _api_open(business_key: str, what: str, action: AccessAction = AccessAction.VIEW) -> Opened | Any:
    return open_case_json(api_staff(), business_key, what, action=action)


def read_case(opened: Opened | Any, read: Callable[[Session, Opened], Any]) -> Any:
    """What `read` answers in one read transaction for a case opened (access logged), or the refusal `opened`
    already is (a JSON error)."""
    if not isinstance(opened, Opened):
        return opened
    with engine().db.read() as db:
        return read(db, opened)


def _iso(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def consent_json(consent: Consent, partner: NetworkPartner | None, now: datetime) -> dict[str, Any]:
    return {"id": consent.id, "partnerId": consent.partner_id,
            "partner": partner.organisation if partner is not None else None, "scope": consent.scope,
            "givenAt": _iso(consent.given_at), "givenBy": consent.given_by.value if consent.given_by else None,
            "method": consent.method.value if consent.method else None, "witness": consent.witness,
            "validUntil": _iso(consent.valid_until), "revokedAt": _iso(consent.revoked_at),
            "recordedBy": consent.recorded_by, "state": consent_state(consent, now)}


def _consents_json(db: Session, opened: Opened) -> dict[str, Any]:
    now = engine().clock()
    consents = consents_of_client(db, opened.access.client_id)
    found = case_partners(db, consents, opened.case_id)
    return {"consents": [consent_json(c, found.get(c.partner_id), now) for c in consents]}


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
    return read_case(_api_open(key, "consents"), _consents_json)


@api.post("/<key>/consents")
@api_route
def api_record_consent(key: str) -> Any:
    """Record a consent; a referral to that partner waiting for consent proceeds."""
    staff = api_staff()
    opened = _api_open(key, "consent recorded", AccessAction.CREATE)
    if not isinstance(opened, Opened):
        return opened
    if not may(staff, opened, CaseAction.RECORD_CONSENT):
        return json_error(403, "AuthorizationException", "you may not record consents in this case")
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
        return json_error(409, "ConflictException", str(err))
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
    if not may(staff, opened, CaseAction.REVOKE_CONSENT):
        return json_error(403, "AuthorizationException", "you may not revoke consents in this case")
    try:
        revoked = revoke_case_consent(engine(), opened.case_id, consent_id, staff.id)
    except ActionConflict as err:
        return json_error(409, "ConflictException", str(err))
    except NotFound as err:
        return json_error(404, "NotFoundException", str(err))
    return {"id": revoked.id, "revokedAt": _iso(revoked.revoked_at)}


@api.get("/<key>/referrals")
@api_route
def api_referrals(key: str) -> Any:
    """The plan's services with their referral status and the partners' answers."""
    return read_case(_api_open(key, "referrals"), _referrals_json)


def _referrals_json(db: Session, opened: Opened) -> dict[str, Any]:
    now = engine().clock()
    versions = plan_versions(db, opened.case_id)
    consents = consents_of_client(db, opened.access.client_id)
    found = case_partners(db, consents, opened.case_id)
    valid = {c.partner_id for c in consents if consent_state(c, now) == "valid"}
    rows = service_rows(db, opened.case_id, versions[-1] if versions else None, found, valid)
    return {"referrals": [{
        "serviceId": r.item.id, "serviceType": r.item.service_type.value if r.item.service_type else None,
        "provider": r.item.provider_organisation, "partnerId": r.item.partner_id, "responsible": r.item.responsible,
        "startDue": _iso(r.item.due), "status": r.status.value if r.status else None,
        "waitingForConsent": r.status is None and r.item.partner_id not in valid,
        "referredAt": _iso(r.referred_at), "statusAt": _iso(r.status_at), "outcome": r.outcome_text,
        "answers": [{"answer": a.answer.value, "at": _iso(a.answered_at)} for a in _answers(db, opened.case_id, r)]}
        for r in rows]}


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
    return read_case(_api_open(key, "plan"), _plan_json)


def _plan_json(db: Session, opened: Opened) -> dict[str, Any]:
    versions = plan_versions(db, opened.case_id)
    diffs = diffs_by_version(versions)
    current = _version_json(versions[-1], None, True) if versions else None
    return {"current": current, "versions": [_version_json(v, diffs[v.version], False) for v in reversed(versions)]}


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

    def diff(db: Session, opened: Opened) -> Any:
        try:
            return diff_versions(db, opened.case_id, from_version, to_version).as_json()
        except NotFound as err:
            return json_error(404, "NotFoundException", str(err))

    return read_case(_api_open(key, "plan versions"), diff)


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


__all__ = ["consent_json", "read_case"]
