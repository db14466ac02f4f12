"""A start or message that brings an identity code (`personalId`) is a referral: casework receives it first.

The process then gets the client's id (`clientId`) instead of the code, the name and the contact details
(casework/referral.py says why). A code that fails its checksum is the caller's mistake: 400.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from casework.errors import CaseworkError
from casework.referral import IDENTITY_CODE, carries_identity_code, receive_referral
from webapp.engine_rest.blueprint import engine
from webapp.engine_rest.errors import InvalidRequest, RestError


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
