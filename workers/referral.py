"""The `duplicate-check` topic: a referred client gets one case; a client with an open case is routed to it.

The case knows its client by `clientId` only: the referral was received by `casework.referral.receive_referral`
before the case started, so the identity code, the name and the contact details are in the client record
(the code sealed) and never in the workflow's state.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from casework.case_manager import current_case_manager
from casework.client import Client
from casework.client_case import ClientCase, open_case, open_case_of_client
from casework.errors import CaseworkError
from casework.identity_code import IdentityCodeKeys
from casework.referral import CLIENT_ID, IDENTIFYING, IDENTITY_CODE, receive_referral
from workers.handler import Failure, JobContext, handler
from workers.variables import text


@handler("duplicate-check")
def check_duplicate(ctx: JobContext) -> Mapping[str, Any]:
    """Opens the client's case, or names their open case and its case manager."""
    svc = ctx.need_services()
    variables = ctx.variables
    now = svc.clock()
    with svc.db.transaction() as session:
        out = _received_before_this_version(session, svc.keys, variables, now)
        client_id = text(out.get(CLIENT_ID) or variables.get(CLIENT_ID))
        if client_id is None:
            raise Failure(f"duplicate check: the case has no client ({CLIENT_ID}); a referral is received by "
                          "casework.referral.receive_referral before its case starts", retries=0)
        if session.get(Client, client_id) is None:
            raise Failure(f"duplicate check: no client {client_id!r}", retries=0)  # retrying cannot fix it
        if session.get(ClientCase, ctx.case_id) is not None:
            return out  # this job ran before and opened the case; its completion was lost
        existing = open_case_of_client(session, client_id)
        if existing is not None:
            manager = current_case_manager(session, existing.case_id)
            return {**out, "openCaseId": existing.case_id, "openCaseManager": manager.user_id if manager else None}
        open_case(session, ctx.case_id, client_id, now, referrer=text(variables.get("referrer")), referral=variables)
    return out


def _received_before_this_version(session: Session, keys: IdentityCodeKeys, variables: Mapping[str, Any],
                                  now: datetime) -> dict[str, Any]:
    """A case saved before referrals were received outside the process still carries the identity code.

    It is received here as a new referral would be, and the identifying variables are cleared (their
    value in the case's earlier saved task data goes when that history is pruned).
    """
    if not variables.get(IDENTITY_CODE) or variables.get(CLIENT_ID):
        return {}
    try:
        received = receive_referral(session, keys, {k: v for k, v in variables.items() if k != CLIENT_ID}, now)
    except CaseworkError as err:
        raise Failure(f"duplicate check: {err}", retries=0) from None  # retrying cannot fix the referral's data
    return {**{name: None for name in IDENTIFYING if name in variables}, CLIENT_ID: received[CLIENT_ID]}
