"""Receiving a referral (lähete): the client's identity is sealed into the client record before any case starts.

The identity code, the name and the contact details never enter the process: whichever way a referral
arrives (the web form, a self-referral, `/engine-rest` message or start, the demo), it passes through
`receive_referral` first, and the case is started with the client's id (`clientId`) and the referral's
non-identifying fields only. A workflow's saved state keeps every variable it was ever given (in its
completed start task, in a called process's copy), so clearing a variable later is too late.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
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
# The typed facts a referral may carry for the evaluation (DOMAIN.md "What the pilots evaluated").
SOURCE = "referralSource"
STATUS = "labourMarketStatus"
UNEMPLOYED_MONTHS = "unemployedMonths"
MAX_UNEMPLOYED_MONTHS = 600  # fifty years: anything above is a typing error
_MUNICIPALITY = re.compile(r"^[^\W\d_]+(?:[ '’.-][^\W\d_]+)*$")  # letters, single spaces and hyphens


class ReferralSource(enum.Enum):
    """Who referred the client: typed, so that the evaluation can count the referral routes."""

    EMPLOYMENT_SERVICES = "employment_services"
    SOCIAL_WORK = "social_work"
    HEALTH_STATION = "health_station"
    KELA = "kela"
    SELF = "self"
    OTHER = "other"


class LabourMarketStatus(enum.Enum):
    """The client's status at referral: a registered job seeker at the employment services, or not."""

    JOB_SEEKER = "job_seeker"
    NOT_JOB_SEEKER = "not_job_seeker"


class InvalidReferral(CaseworkError):
    """A referral field has a value Polku cannot record; `field` names the variable for the form."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class ReferralFacts:
    source: ReferralSource | None = None
    status: LabourMarketStatus | None = None
    unemployed_months: int | None = None

    def variables(self) -> dict[str, Any]:
        """The facts as the process holds them (only those given)."""
        out: dict[str, Any] = {}
        if self.source is not None:
            out[SOURCE] = self.source.value
        if self.status is not None:
            out[STATUS] = self.status.value
        if self.unemployed_months is not None:
            out[UNEMPLOYED_MONTHS] = self.unemployed_months
        return out


def referral_facts(variables: Mapping[str, Any], strict: bool = True) -> ReferralFacts:
    """The referral's typed source and labour market status; each is optional (None: not recorded).

    Raises InvalidReferral naming the field when a value is given but is not one Polku knows; with
    `strict=False` (a case opened from variables received earlier) an unknown value is recorded as None.
    """
    try:
        return ReferralFacts(_choice(variables, SOURCE, ReferralSource), _choice(variables, STATUS, LabourMarketStatus),
                             _months(variables.get(UNEMPLOYED_MONTHS)))
    except InvalidReferral:
        if strict:
            raise
        return ReferralFacts(_lenient(lambda: _choice(variables, SOURCE, ReferralSource)),
                             _lenient(lambda: _choice(variables, STATUS, LabourMarketStatus)),
                             _lenient(lambda: _months(variables.get(UNEMPLOYED_MONTHS))))


def _lenient(read: Any) -> Any:
    try:
        return read()
    except InvalidReferral:
        return None


def _choice(variables: Mapping[str, Any], name: str, kind: type[enum.Enum]) -> Any:
    given = _text(variables.get(name))
    if given is None:
        return None
    try:
        return kind(given.lower().replace("-", "_"))
    except ValueError:
        known = ", ".join(k.value for k in kind)
        raise InvalidReferral(name, f"{given!r} is not one of {known}") from None


def _months(value: object) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip().isdigit():
        raise InvalidReferral(UNEMPLOYED_MONTHS, f"{value!r} is not a whole number of months")
    months = int(str(value).strip())
    if months > MAX_UNEMPLOYED_MONTHS:
        raise InvalidReferral(UNEMPLOYED_MONTHS, f"{months} months is more than {MAX_UNEMPLOYED_MONTHS}")
    return months


def municipality_of(variables: Mapping[str, Any]) -> str | None:
    """The referral's municipality as written (letters, spaces, hyphens; at most 100 characters), or None."""
    given = _text(variables.get("municipality"))
    if given is None:
        return None
    given = " ".join(given.split())
    if len(given) > 100 or not _MUNICIPALITY.match(given):
        raise InvalidReferral("municipality", f"{given[:40]!r} is not a municipality's name")
    return given


def carries_identity_code(variables: Mapping[str, Any]) -> bool:
    """Whether these variables must pass through `receive_referral` before a process may see them."""
    return IDENTITY_CODE in variables


def receive_referral(session: Session, keys: IdentityCodeKeys, variables: Mapping[str, Any],
                     at: datetime) -> dict[str, Any]:
    """The referral's variables as the process may hold them: `clientId` instead of the identifying fields.

    The client is found by the identity code's search hash, or registered (name required) with the code
    sealed; a known client's record is left as it is, except the municipality a referral names (the client
    moved). The typed facts (referralSource, labourMarketStatus, unemployedMonths) are checked and kept in
    normal form for the case record. Raises InvalidIdentityCode when the code is missing or fails its
    checksum, InvalidReferral naming the field when a typed fact or the municipality is not valid, and
    CaseworkError when a new client has no name or the referral also names a clientId.
    """
    given = _text(variables.get(IDENTITY_CODE))
    if given is None:
        raise InvalidIdentityCode(f"the referral has no personal identity code ({IDENTITY_CODE})")
    code = parse(given)
    if variables.get(CLIENT_ID) not in (None, ""):
        raise CaseworkError(f"a referral names its client by the identity code ({IDENTITY_CODE}) or by "
                            f"{CLIENT_ID}, not both")
    facts = referral_facts(variables)
    municipality = municipality_of(variables)
    client = find_by_identity_code(session, keys, code.code)
    if client is None:
        client = _register(session, keys, code.code, {**variables, "municipality": municipality}, at)
    elif municipality is not None and client.municipality != municipality:
        client.municipality = municipality
    kept = {name: value for name, value in variables.items()
            if name not in IDENTIFYING and name not in (SOURCE, STATUS, UNEMPLOYED_MONTHS)}
    return {**kept, **facts.variables(), CLIENT_ID: client.id}


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
