"""Referrals through `/engine-rest`: a client's referral in, and a network partner's answer to one out.

A start or message that brings an identity code (`personalId`) is a referral: casework receives it first.
The process then gets the client's id (`clientId`) instead of the code, the name and the contact details
(casework/referral.py says why). A code that fails its checksum is the caller's mistake: 400.

A `partnerAnswer` message is a partner's answer to the referral it names; casework checks and records it
(`casework.service_referral.answer_referral`, shared with the partner's view) and then tells the process.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request
from sqlalchemy.orm import Session

from casework.access_log import AccessAction, log_case_access
from casework.errors import CaseworkError
from casework.referral import IDENTITY_CODE, carries_identity_code, receive_referral
from casework.service_referral import PARTNER_ANSWER, answer_referral, referral_of_service, tell_process
from casework.values import text
from webapp.engine_rest.blueprint import BUSINESS_KEY_LENGTH, caller, engine, field, unsupported
from webapp.engine_rest.errors import InvalidRequest, RestError
from webapp.engine_rest.variables import plain_map


def received(variables: dict[str, Any]) -> dict[str, Any]:
    """The variables as the process may hold them; unchanged when they carry no identity code."""
    if not carries_identity_code(variables):
        return variables
    keys = current_app.config.get("IDENTITY_CODE_KEYS")
    if keys is None:  # never let the code through unsealed
        raise RestError(f"this server cannot receive an identity code ({IDENTITY_CODE}): it has no secret key "
                        "configured", 500, "RestException")
    runtime = engine()
    try:
        with runtime.db.transaction() as session:
            return receive_referral(session, keys, variables, runtime.clock())
    except CaseworkError as err:
        raise InvalidRequest(f"Cannot receive the referral: {err}") from None


# -- a partner's answer to a referral -------------------------------------------------------------------------

def partner_answer(data: dict[str, Any]) -> Response | tuple[str, int]:
    """`POST /message` with messageName `partnerAnswer`: the answer names its referral, not a plan item.

    The referral is named by `correlationKeys.referralId` (or the process variable `referralId`); the answer is
    `partnerDecision` (accepted, refused, not_available, started, done) with `outcome` when done. An answer that
    does not fit the referral's status is refused with 400 and changes nothing. The older form, a business key
    with `answeredServiceId`, is still taken and goes the same way.
    """
    unsupported(data, "localCorrelationKeys", "tenantId", "processVariablesLocal", "all")
    keys = plain_map(data.get("correlationKeys"), "correlationKeys")
    variables = plain_map(data.get("processVariables"), "processVariables")
    runtime = engine()
    who = caller()
    now = runtime.clock()
    answer = text(variables.get("partnerDecision"))
    outcome = text(variables.get("outcome")) or text(variables.get("serviceOutcomeText"))
    if answer is None:
        raise InvalidRequest(f"Cannot correlate message '{PARTNER_ANSWER}': processVariables.partnerDecision is "
                             "required (accepted, refused, not_available, started or done)")
    try:
        with runtime.db.transaction() as session:
            referral_id = _referral_id(session, data, keys, variables)
            result = answer_referral(session, referral_id, answer, outcome, who.user_id, now)
            log_case_access(session, user_id=who.user_id, role=",".join(sorted(r.value for r in who.roles)),
                            case_ids=[result.case_id], what=f"network partner's answer to a referral: {answer}",
                            why=f"/engine-rest {request.method} {request.path}", at=now, action=AccessAction.UPDATE)
    except CaseworkError as err:
        raise InvalidRequest(f"Cannot correlate message '{PARTNER_ANSWER}': {err}", type_="RestException") from None
    tell_process(runtime, result)
    if not field(data, "resultEnabled", bool, default=False):
        return "", 204
    ended = runtime.case(result.case_id)["status"] in ("completed", "cancelled")
    return jsonify([{"resultType": "Execution", "processInstance": None, "execution": {
        "id": result.case_id, "processInstanceId": result.case_id, "ended": ended, "tenantId": None}}])


def _referral_id(session: Session, data: dict[str, Any], keys: dict[str, Any], variables: dict[str, Any]) -> str:
    named = text(keys.get("referralId")) or text(variables.get("referralId")) or text(
        variables.get("answeredReferralId"))
    if named is not None:
        return named
    service_id = text(variables.get("answeredServiceId"))
    business_key = field(data, "businessKey", str, max_length=BUSINESS_KEY_LENGTH)
    if service_id is None or business_key is None:
        raise InvalidRequest(f"Cannot correlate message '{PARTNER_ANSWER}': name the referral with "
                             "correlationKeys.referralId (the id in the partner's link)")
    return referral_of_service(session, business_key, service_id)
