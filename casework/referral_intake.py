"""A referral from a form (the staff referral form, the public self-referral) checked and turned into a case.

The form gives what a person typed; this module checks it beyond the form's own fields (the identity code's
checksum, the language, the municipality, the typed referral facts, the consent), names each problem by field
and kind (the web app words them in the reader's language), and starts the process: the referral passes
through `casework.referral.receive_referral` first, so the identity code, the name and the contact details go
to the client record and the process gets only `clientId`. A staff referral starts the case by the `referral`
message (start event `referral_received`); a self-referral by the process's plain start (`self_referral`), which
waits for a coordinator to identify the person. Whether the client already has an open case is the process's
question (its `duplicate-check` step routes the referral to that case's case manager); the answer here only
tells the staff member what will happen.
"""

from __future__ import annotations

import enum
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from casework.access_log import AccessAction, log_access
from casework.client import Language, find_by_identity_code
from casework.client_case import open_case_of_client
from casework.errors import CaseworkError
from casework.identity_code import CENTURIES, CHECK_CHARS, IdentityCodeKeys, InvalidIdentityCode, normalise, parse
from casework.referral import (
    CLIENT_ID,
    IDENTITY_CODE,
    MAX_UNEMPLOYED_MONTHS,
    SOURCE,
    STATUS,
    UNEMPLOYED_MONTHS,
    InvalidReferral,
    LabourMarketStatus,
    ReferralSource,
    municipality_of,
    receive_referral,
)
from engine.models import Case
from engine.runtime import Engine

PROCESS_KEY = "work_ability_support"  # bpmn/work-ability-support.bpmn
REFERRAL_MESSAGE = "referral"  # msg_referral: the start event referral_received
MAX_NAME = 200
MAX_PHONE = 50
MAX_EMAIL = 254
MAX_ORGANISATION = 200
MAX_CONTACT = 300
MAX_REASON = 4000  # the referrer's words
MAX_SELF_REASON = 1000  # a self-referral's "what kind of help": short on purpose
_PHONE = re.compile(r"^\+?[0-9 ()-]{5,30}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_KEY_CHARS = "ABCDEFHJKLMNPRSTUVWXY23456789"  # no 0/O, 1/I/G look-alikes: read over the phone


class Urgency(enum.Enum):
    NORMAL = "normal"
    URGENT = "urgent"


class ExistingService(enum.Enum):
    """What the client already has at referral (DOMAIN.md "What the forms and the decision hold")."""

    EMPLOYMENT_SERVICES = "employment_services"
    KELA = "kela"
    SOCIAL_WORK = "social_work"
    HEALTH_CARE = "health_care"
    NGO = "ngo"
    CRIMINAL_SANCTIONS = "criminal_sanctions"  # Rikosseuraamuslaitos


class Problem(enum.Enum):
    """What is wrong with one field; the web app words it."""

    REQUIRED = "required"
    TOO_LONG = "too_long"
    INVALID = "invalid"
    IDENTITY_CODE_LENGTH = "identity_code_length"
    IDENTITY_CODE_CHECK = "identity_code_check"  # the check character does not match: a typing error
    NO_CONTACT = "no_contact"  # a self-referral with neither phone nor email
    NO_CONSENT = "no_consent"


@dataclass(frozen=True)
class FieldProblem:
    field: str  # the Referral attribute (also the form field's name)
    problem: Problem
    limit: int | None = None  # the maximum, for TOO_LONG


class ReferralProblems(CaseworkError):
    """The referral cannot be received as given; `problems` names each field (first problem per field)."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.problem.value}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Referral:
    """A referral as typed into a form (strings as given; the check normalises)."""

    client_name: str = ""
    identity_code: str = ""
    phone: str = ""
    email: str = ""
    language: str = ""
    municipality: str = ""
    reason: str = ""
    consent: bool = False
    urgency: str = Urgency.NORMAL.value
    referrer_organisation: str = ""
    referrer_contact: str = ""
    existing_services: tuple[str, ...] = field(default_factory=tuple)
    source: str = ""
    labour_market_status: str = ""
    unemployed_months: str = ""
    self_referral: bool = False


@dataclass(frozen=True)
class Intake:
    """A received referral: the engine case it started and what the staff member may be told."""

    case_id: str
    business_key: str
    client_id: str
    to_open_case: bool  # the client had an open case: the process hands this referral to its case manager


def check(referral: Referral) -> list[FieldProblem]:
    """Every field's first problem; empty when the referral can be received."""
    problems: list[FieldProblem] = []

    def need(name: str, value: str, limit: int) -> bool:
        if not value.strip():
            problems.append(FieldProblem(name, Problem.REQUIRED))
            return False
        if len(value.strip()) > limit:
            problems.append(FieldProblem(name, Problem.TOO_LONG, limit))
            return False
        return True

    def optional(name: str, value: str, limit: int, pattern: re.Pattern[str] | None = None) -> None:
        text = value.strip()
        if len(text) > limit:
            problems.append(FieldProblem(name, Problem.TOO_LONG, limit))
        elif text and pattern is not None and not pattern.match(text):
            problems.append(FieldProblem(name, Problem.INVALID))

    need("client_name", referral.client_name, MAX_NAME)
    code_problem = identity_code_problem(referral.identity_code)
    if code_problem is not None:
        problems.append(FieldProblem("identity_code", code_problem))
    optional("phone", referral.phone, MAX_PHONE, _PHONE)
    optional("email", referral.email, MAX_EMAIL, _EMAIL)
    if referral.self_referral and not referral.phone.strip() and not referral.email.strip():
        problems.append(FieldProblem("phone", Problem.NO_CONTACT))
    if referral.language.strip().lower() not in {lang.value for lang in Language}:
        problems.append(FieldProblem("language", Problem.REQUIRED if not referral.language.strip()
                                     else Problem.INVALID))
    if need("municipality", referral.municipality, 100):
        try:
            municipality_of({"municipality": referral.municipality})
        except InvalidReferral:
            problems.append(FieldProblem("municipality", Problem.INVALID))
    need("reason", referral.reason, MAX_SELF_REASON if referral.self_referral else MAX_REASON)
    if not referral.consent:
        problems.append(FieldProblem("consent", Problem.NO_CONSENT))
    if not referral.self_referral:
        if referral.urgency not in {u.value for u in Urgency}:
            problems.append(FieldProblem("urgency", Problem.REQUIRED if not referral.urgency else Problem.INVALID))
        need("referrer_organisation", referral.referrer_organisation, MAX_ORGANISATION)
        optional("referrer_contact", referral.referrer_contact, MAX_CONTACT)
        known = {s.value for s in ExistingService}
        if any(s not in known for s in referral.existing_services):
            problems.append(FieldProblem("existing_services", Problem.INVALID))
        _choice(problems, "source", referral.source, ReferralSource, required=True)
        _choice(problems, "labour_market_status", referral.labour_market_status, LabourMarketStatus)
        months = referral.unemployed_months.strip()
        if months and (not months.isdigit() or int(months) > MAX_UNEMPLOYED_MONTHS):
            problems.append(FieldProblem("unemployed_months", Problem.INVALID))
    return problems


def _choice(problems: list[FieldProblem], name: str, value: str, kind: type[enum.Enum],
            required: bool = False) -> None:
    if not value:
        if required:
            problems.append(FieldProblem(name, Problem.REQUIRED))
    elif value not in {k.value for k in kind}:
        problems.append(FieldProblem(name, Problem.INVALID))


def identity_code_problem(text: str) -> Problem | None:
    """None for a valid code; otherwise whether it is missing, the wrong length, a typing error or invalid."""
    code = normalise(text or "")
    if not code:
        return Problem.REQUIRED
    try:
        parse(code)
        return None
    except InvalidIdentityCode:
        pass
    if len(code) != 11:
        return Problem.IDENTITY_CODE_LENGTH
    shaped = code[:6].isdigit() and code[6] in CENTURIES and code[7:10].isdigit()
    if shaped and int(code[7:10]) >= 2:
        try:  # everything but the last character is right: the check character is what does not match
            parse(code[:10] + _check_character(code))
            return Problem.IDENTITY_CODE_CHECK
        except InvalidIdentityCode:
            pass
    return Problem.INVALID


def _check_character(code: str) -> str:
    return CHECK_CHARS[int(code[:6] + code[7:10]) % 31]


def variables(referral: Referral) -> dict[str, Any]:
    """The referral as `receive_referral` takes it (identifying fields included: they go to the client record)."""
    out: dict[str, Any] = {
        "clientName": " ".join(referral.client_name.split()),
        IDENTITY_CODE: normalise(referral.identity_code),
        "language": referral.language.strip().lower(),
        "municipality": referral.municipality,
        "referralReason": referral.reason.strip(),
        "referralConsent": True,
    }
    for name, value in (("phone", referral.phone), ("email", referral.email)):
        if value.strip():
            out[name] = value.strip()
    if referral.self_referral:
        out[SOURCE] = ReferralSource.SELF.value
        return out
    out["urgency"] = referral.urgency
    out["referrer"] = referral.referrer_organisation.strip()
    if referral.referrer_contact.strip():
        out["referrerContact"] = referral.referrer_contact.strip()
    out["servicesAtReferral"] = [s.value for s in ExistingService if s.value in set(referral.existing_services)]
    out[SOURCE] = referral.source
    if referral.labour_market_status:
        out[STATUS] = referral.labour_market_status
    if referral.unemployed_months.strip():
        out[UNEMPLOYED_MONTHS] = int(referral.unemployed_months.strip())
    return out


def new_business_key(engine: Engine) -> str:
    """A case number no case has: OHJ-<year>-<six characters>, easy to read out over the phone."""
    year = engine.clock().year
    with engine.db.read() as session:
        for _ in range(20):
            key = f"OHJ-{year}-" + "".join(secrets.choice(_KEY_CHARS) for _ in range(6))
            if session.scalar(select(Case.id).where(Case.business_key == key).limit(1)) is None:
                return key
    raise CaseworkError("could not find a free case number")  # 29^6 keys a year: never in practice


@dataclass(frozen=True)
class ReferredBy:
    """The staff member who sent a referral (for the access log); None for a self-referral."""

    user_id: str
    role: str
    why: str = "staff referral form"


def receive(engine: Engine, keys: IdentityCodeKeys, referral: Referral, by: ReferredBy | None = None) -> Intake:
    """Check the referral, seal the client's identity into the client record, and start the process.

    Raises ReferralProblems (nothing stored) when a field is not valid. A staff referral writes the access
    log (CREATE) for the client; a self-referral is the client's own act, and since nobody has yet checked
    who sent it, it changes nothing in a known client's record (the municipality included).
    """
    problems = check(referral)
    if problems:
        raise ReferralProblems(problems)
    business_key = new_business_key(engine)
    now = engine.clock()
    given = variables(referral)
    with engine.db.transaction() as session:
        if referral.self_referral and find_by_identity_code(session, keys, given[IDENTITY_CODE]) is not None:
            # nobody has checked who sent it yet: a known client's record is not changed on its word
            given.pop("municipality", None)
        received = receive_referral(session, keys, given, now)
        client_id = str(received[CLIENT_ID])
        to_open_case = open_case_of_client(session, client_id) is not None
    actor = by.user_id if by is not None else "self-referral"
    if referral.self_referral:
        case_id = engine.start(PROCESS_KEY, business_key=business_key, variables=received, actor=actor)
    else:
        started = engine.correlate(REFERRAL_MESSAGE, business_key=business_key, variables=received)
        if len(started) != 1:
            raise CaseworkError(f"the referral message started {len(started)} cases, not one")
        case_id = started[0]
    if by is not None:
        with engine.db.transaction() as session:
            log_access(session, user_id=by.user_id, role=by.role, client_id=client_id, case_id=case_id,
                       action=AccessAction.CREATE, what="referral", why=by.why, at=now)
    return Intake(case_id=case_id, business_key=business_key, client_id=client_id, to_open_case=to_open_case)


def referral_from(form: Mapping[str, Any], self_referral: bool = False) -> Referral:
    """A Referral from a mapping of form values (strings; checkboxes as bools or lists)."""

    def text(name: str) -> str:
        value = form.get(name)
        return "" if value is None else str(value)

    services = form.get("existing_services") or ()
    return Referral(client_name=text("client_name"), identity_code=text("identity_code"), phone=text("phone"),
                    email=text("email"), language=text("language"), municipality=text("municipality"),
                    reason=text("reason"), consent=bool(form.get("consent")),
                    urgency=text("urgency") or Urgency.NORMAL.value,
                    referrer_organisation=text("referrer_organisation"), referrer_contact=text("referrer_contact"),
                    existing_services=tuple(str(s) for s in _listed(services)), source=text("source"),
                    labour_market_status=text("labour_market_status"), unemployed_months=text("unemployed_months"),
                    self_referral=self_referral)


def _listed(value: Any) -> Iterable[Any]:
    return [value] if isinstance(value, str) else list(value)
