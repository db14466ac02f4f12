"""Receiving a referral (lähete): the client's identity is sealed into the client record before any case starts.

The identity code, the name and the contact details never enter the process: whichever way a referral
arrives (the web form, a self-referral, `/engine-rest` message or start, the demo), it passes through
`receive_referral` first, and the case is started with the client's id (`clientId`) and the referral's
non-identifying fields only. A workflow's saved state keeps every variable it was ever given (in its
completed start task, in a called process's copy), so clearing a variable later is too late.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from casework.client import Client, ClientExists, Language, find_by_identity_code, register_client
from casework.errors import CaseworkError
from casework.identity_code import IdentityCodeKeys, InvalidIdentityCode, parse

IDENTITY_CODE = "personalId"  # the variable a referral brings the identity code in (Camunda-style clients send it)
CLIENT_ID = "clientId"  # what the process gets instead
# Taken out of the referral into the client record; the process never holds them.
IDENTIFYING = (IDENTITY_CODE, "clientName", "phone", "email", "municipality")


def carries_identity_code(variables: Mapping[str, Any]) -> bool:
    """Whether these variables must pass through `receive_referral` before a process may see them."""
    return IDENTITY_CODE in variables


def receive_referral(session: Session, keys: IdentityCodeKeys, variables: Mapping[str, Any],
                     at: datetime) -> dict[str, Any]:
    """The referral's variables as the process may hold them: `clientId` instead of the identifying fields.

    The client is found by the identity code's search hash, or registered (name required) with the code
    sealed; a known client's record is left as it is. Raises InvalidIdentityCode when the code is missing
    or fails its checksum, CaseworkError when a new client has no name or the referral also names a clientId.
    """
    given = _text(variables.get(IDENTITY_CODE))
    if given is None:
        raise InvalidIdentityCode(f"the referral has no personal identity code ({IDENTITY_CODE})")
    code = parse(given)
    if variables.get(CLIENT_ID) not in (None, ""):
        raise CaseworkError(f"a referral names its client by the identity code ({IDENTITY_CODE}) or by "
                            f"{CLIENT_ID}, not both")
    client = find_by_identity_code(session, keys, code.code) or _register(session, keys, code.code, variables, at)
    kept = {name: value for name, value in variables.items() if name not in IDENTIFYING}
    return {**kept, CLIENT_ID: client.id}


def _register(session: Session, keys: IdentityCodeKeys, code: str, variables: Mapping[str, Any],
              at: datetime) -> Client:
    try:
        with session.begin_nested():  # a referral of the same new client received at this very moment wins
            return register_client(session, keys, name=_text(variables.get("clientName")) or "", identity_code=code,
                                   at=at, language=language_of(variables.get("language")),
                                   phone=_text(variables.get("phone")), email=_text(variables.get("email")),
                                   municipality=_text(variables.get("municipality")))
    except ClientExists as exists:
        return _get(session, exists.client_id)
    except IntegrityError:
        client = find_by_identity_code(session, keys, code)
        if client is None:
            raise
        return client


def _get(session: Session, client_id: str) -> Client:
    client = session.get(Client, client_id)
    assert client is not None  # ClientExists names a row this session just read
    return client


def language_of(value: object) -> Language:
    """The client's language of service; fi unless the referral names sv or en."""
    try:
        return Language(str(value or "fi").strip().lower())
    except ValueError:
        return Language.FI


def _text(value: object) -> str | None:
    if value is None:
        return None
    return str(value).strip() or None
