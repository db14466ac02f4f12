"""The `duplicate-check` topic: a referred client gets one case; a client with an open case is routed to it.

The identity code arrives with the referral as a process variable; once the client is registered (where
it is kept sealed) the handler clears it from the case's variables, so the workflow state and the
job and case tables do not keep it readable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from casework.case_manager import current_case_manager
from casework.client import Language, find_by_identity_code, register_client
from casework.client_case import ClientCase, open_case, open_case_of_client
from casework.identity_code import validation_error
from workers.handler import Failure, JobContext, handler
from workers.variables import text

CLEARED: Mapping[str, Any] = {"personalId": None}  # the sealed copy in casework is the only one kept


@handler("duplicate-check")
def check_duplicate(ctx: JobContext) -> Mapping[str, Any]:
    """Registers the client (if new) and opens their case, or names the open case and its case manager."""
    svc = ctx.need_services()
    variables = ctx.variables
    code = str(variables.get("personalId") or "")
    problem = validation_error(code) if code else "the referral has no personal identity code (personalId)"
    if problem:
        raise Failure(f"duplicate check: {problem}", retries=0)  # retrying cannot fix the referral's data
    now = svc.clock()
    with svc.db.transaction() as session:
        if session.get(ClientCase, ctx.case_id) is not None:
            return CLEARED  # this job ran before and opened the case; its completion was lost
        client = find_by_identity_code(session, svc.keys, code)
        if client is not None:
            existing = open_case_of_client(session, client.id)
            if existing is not None:
                manager = current_case_manager(session, existing.case_id)
                return {**CLEARED, "openCaseId": existing.case_id,
                        "openCaseManager": manager.user_id if manager else None}
        else:
            name = str(variables.get("clientName") or "").strip()
            if not name:
                raise Failure("duplicate check: the referral has no client name (clientName)", retries=0)
            client = register_client(session, svc.keys, name=name, identity_code=code, at=now,
                                     language=_language(variables.get("language")),
                                     phone=text(variables.get("phone")), email=text(variables.get("email")))
        open_case(session, ctx.case_id, client.id, now, referrer=text(variables.get("referrer")))
    return CLEARED


def _language(value: object) -> Language:
    try:
        return Language(str(value or "fi").lower())
    except ValueError:
        return Language.FI
