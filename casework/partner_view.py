"""What a network partner's account may see and do: the partners' view (`/partner`) and its JSON twin.

A partner account (role partner, `staff_user.partner_id`) sees only the referrals addressed to its network
partner while the client's consent to that partner holds, and only their part: the service asked for, the
client's contact (the minimum to reach them), the plan items the partner is responsible for with their dates
and statuses, the answers so far, the notes the case team shared with the network and the partner's own notes.
It answers (accepted / refused / not available, then started and done with an outcome) through
`casework.service_referral.answer_referral`, shared with `/engine-rest`, and writes notes for the case team.

Every read writes the access log (why: the partner relationship); a referral the account may not see is
refused (`NotYours`) and the caller logs the attempt (`casework.case_access.log_denied`) before answering 403.

The disclosure log: the referral's sending already records the disclosure of the contact details and the
service item (workers/network.py). The view also shows what the case team shared with the network (notes)
and the partner's other plan items, so the first time a partner opens a client's referral under a consent,
`record_view_disclosure` writes one disclosure row naming that consent; later views are access-logged only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from casework.access_log import AccessAction, DisclosureLogEntry, log_case_access, log_disclosure
from casework.case_access import Relationship, log_denied
from casework.case_notes import CaseNote, Visibility
from casework.client import Client
from casework.client_case import ClientCase
from casework.consent import Consent, valid_consent
from casework.errors import CaseworkError, NotFound, Refused
from casework.plan import ItemKind, PlanItem, current_plan
from casework.service_referral import (
    FINAL,
    NEXT_ANSWERS,
    AnswerResult,
    IllegalAnswer,
    ServiceReferral,
    ServiceStatus,
    answer_referral,
    answers_of,
    parse_answer,
    referral_by_id,
    service_statuses,
)
from casework.staff import Staff
from casework.users import Role, StaffUser

RECENT_DAYS = 30  # a closed referral stays on the partner's list this long after its last answer
NOTE_MAX = 4000  # characters of a partner's note
OUTCOME_MAX = 4000
WHY = Relationship.PARTNER.value
VIEW_DISCLOSURE = "partners' view: the referral, the client's contact, the partner's plan items and shared notes"


class NotYours(Refused):
    """The referral exists but is not this partner's, or the client's consent no longer holds: 403, logged."""

    def __init__(self, case_id: str) -> None:
        super().__init__("this referral is not addressed to your organisation with the client's consent")
        self.case_id = case_id


class UnknownAnswer(CaseworkError):
    """Not an answer a partner gives (400)."""


class OutcomeNeeded(CaseworkError):
    """A service reported done without its outcome (400)."""


class AnswerConflict(Refused):
    """The referral's status changed (someone answered first) or the answer does not fit it now (409)."""

    def __init__(self, message: str, status: ServiceStatus | None) -> None:
        super().__init__(message)
        self.status = status


class NoteProblem(CaseworkError):
    """An empty or too long note (400)."""


@dataclass(frozen=True)
class ClientContact:
    """The minimum to contact the client."""

    name: str
    phone: str | None
    email: str | None
    language: str


@dataclass(frozen=True)
class ReferralRow:
    """One line of the partner's list: the client by name (they contact them) and the service asked for."""

    referral_id: str
    case_id: str
    client_name: str
    service_type: str
    status: ServiceStatus
    referred_at: datetime
    status_at: datetime | None
    start_due: date

    @property
    def open(self) -> bool:
        return self.status not in FINAL


@dataclass(frozen=True)
class ItemView:
    """A plan item the partner is responsible for."""

    plan_item_id: int
    service_type: str
    text: str
    provider: str | None
    responsible: str
    due: date
    status: ServiceStatus | None


@dataclass(frozen=True)
class AnswerView:
    answer: ServiceStatus
    outcome_text: str | None
    answered_by: str  # the person's name when known
    answered_at: datetime


@dataclass(frozen=True)
class NoteView:
    id: int
    author_name: str
    text: str
    created_at: datetime
    own: bool  # written by the partner's organisation (visible to the case team)
    referral_id: str | None


@dataclass(frozen=True)
class ReferralDetail:
    referral_id: str
    case_id: str
    client_id: str
    partner_id: int
    consent_id: int
    status: ServiceStatus
    referred_at: datetime
    status_at: datetime | None
    service: ItemView
    client: ClientContact
    items: list[ItemView]
    answers: list[AnswerView]
    notes: list[NoteView]
    outcome_text: str | None

    @property
    def next_answers(self) -> tuple[ServiceStatus, ...]:
        """The answers the partner may give now (none once the referral has ended)."""
        return () if self.status in FINAL else NEXT_ANSWERS.get(self.status, ())


def partner_of(staff: Staff) -> int | None:
    """The network partner the account answers for; None: not a partner account, or not linked to one."""
    return staff.partner_id if staff.has(Role.PARTNER) else None


def _service_type(item: PlanItem) -> str:
    return item.service_type.value if item.service_type is not None else "other"


def _item_view(item: PlanItem, status: ServiceStatus | None) -> ItemView:
    return ItemView(item.id, _service_type(item), item.text, item.provider_organisation, item.responsible, item.due,
                    status)


def _consented(session: Session, client_ids: set[str], partner_id: int, at: datetime) -> set[str]:
    """Of these clients, those whose consent to the partner holds at `at` (one query for a whole list)."""
    if not client_ids:
        return set()
    rows = session.scalars(select(Consent).where(Consent.client_id.in_(sorted(client_ids)),
                                                 Consent.partner_id == partner_id, Consent.given_at <= at))
    return {c.client_id for c in rows if c.valid_at(at)}


def referrals_for(session: Session, staff: Staff, at: datetime, recent_days: int = RECENT_DAYS) -> list[ReferralRow]:
    """The partner's referrals with the client's consent: open ones and those closed in the last `recent_days`,
    oldest first. Nothing for an account that is not a linked partner account."""
    partner_id = partner_of(staff)
    if partner_id is None:
        return []
    since = at - timedelta(days=recent_days)
    query = (select(ServiceReferral, PlanItem, ClientCase.client_id, Client.name)
             .join(PlanItem, PlanItem.id == ServiceReferral.plan_item_id)
             .join(ClientCase, ClientCase.case_id == ServiceReferral.case_id)
             .join(Client, Client.id == ClientCase.client_id)
             .where(ServiceReferral.partner_id == partner_id, ServiceReferral.referral_id.is_not(None),
                    ServiceReferral.referred_at.is_not(None), ServiceReferral.status.is_not(None),
                    or_(ServiceReferral.status.not_in(list(FINAL)), ServiceReferral.status_at >= since))
             .order_by(ServiceReferral.referred_at, ServiceReferral.plan_item_id))
    found = session.execute(query).all()
    allowed = _consented(session, {client_id for _, _, client_id, _ in found}, partner_id, at)
    out = []
    for row, item, client_id, name in found:
        if client_id not in allowed:
            continue
        assert row.referral_id is not None and row.referred_at is not None and row.status is not None
        out.append(ReferralRow(row.referral_id, row.case_id, name, _service_type(item), row.status, row.referred_at,
                               row.status_at, item.due))
    return out


def _allowed(session: Session, staff: Staff, row: ServiceReferral, at: datetime) -> tuple[ClientCase, Consent]:
    """The case and the consent that let `staff` see this referral; NotYours otherwise."""
    partner_id = partner_of(staff)
    record = session.get(ClientCase, row.case_id)
    if record is None or partner_id is None or row.partner_id != partner_id or row.referred_at is None:
        raise NotYours(row.case_id)
    consent = valid_consent(session, record.client_id, partner_id, at)
    if consent is None:
        raise NotYours(row.case_id)
    return record, consent


def _referral(session: Session, referral_id: str, lock: bool = False) -> ServiceReferral:
    if not referral_id or len(referral_id) > 36:
        raise NotFound("no such referral")
    return referral_by_id(session, referral_id, lock=lock)


def open_referral(session: Session, staff: Staff, referral_id: str, at: datetime) -> ReferralDetail:
    """The partner's part of one referral; NotFound (no such referral id) or NotYours (not theirs, no consent)."""
    row = _referral(session, referral_id)
    record, consent = _allowed(session, staff, row, at)
    partner_id = consent.partner_id
    client = session.get(Client, record.client_id)
    assert client is not None and row.status is not None and row.referred_at is not None
    item = session.get(PlanItem, row.plan_item_id)
    assert item is not None
    service = _item_view(item, row.status)
    items = [service]
    plan = current_plan(session, row.case_id)
    if plan is not None:
        statuses = service_statuses(session, row.case_id)
        items += [_item_view(i, statuses.get(i.id)) for i in plan.items
                  if i.partner_id == partner_id and i.kind is ItemKind.SERVICE and i.id != item.id]
    answers = answers_of(session, row)
    names = _names(session, {a.answered_by for a in answers})
    notes = session.scalars(select(CaseNote).where(
        CaseNote.case_id == row.case_id,
        or_(CaseNote.visibility == Visibility.NETWORK, CaseNote.partner_id == partner_id))
        .order_by(CaseNote.created_at, CaseNote.id))
    return ReferralDetail(
        referral_id=str(row.referral_id), case_id=row.case_id, client_id=record.client_id, partner_id=partner_id,
        consent_id=consent.id, status=row.status, referred_at=row.referred_at, status_at=row.status_at,
        service=service, client=ClientContact(client.name, client.phone, client.email, client.language.value),
        items=items,
        answers=[AnswerView(a.answer, a.outcome_text, names.get(a.answered_by, a.answered_by), a.answered_at)
                 for a in answers],
        notes=[NoteView(n.id, n.author_name, n.text, n.created_at, n.partner_id == partner_id, n.referral_id)
               for n in notes],
        outcome_text=row.outcome_text)


def _names(session: Session, user_ids: set[str]) -> dict[str, str]:
    if not user_ids:
        return {}
    return dict(session.execute(select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_(sorted(user_ids)))).all())


# -- logs --------------------------------------------------------------------------------------------------------

def log_view(session: Session, staff: Staff, case_ids: list[str], what: str, at: datetime,
             action: AccessAction = AccessAction.VIEW) -> int:
    """One access row per case shown (a whole list in one INSERT), why: the partner relationship."""
    return log_case_access(session, user_id=staff.id, role=staff.logged_role(), case_ids=case_ids, what=what, why=WHY,
                           at=at, action=action)


def deny(session: Session, staff: Staff, case_id: str, what: str, at: datetime) -> None:
    """The refused attempt, for the access log (the caller answers 403 after the commit)."""
    log_denied(session, staff, case_id, what, at)


def record_view_disclosure(session: Session, staff: Staff, detail: ReferralDetail, at: datetime) -> bool:
    """The first time the partner sees the client's data under this consent: one disclosure row; True if written."""
    seen = session.scalar(select(DisclosureLogEntry.id).where(
        DisclosureLogEntry.client_id == detail.client_id, DisclosureLogEntry.partner_id == detail.partner_id,
        DisclosureLogEntry.consent_id == detail.consent_id, DisclosureLogEntry.what == VIEW_DISCLOSURE).limit(1))
    if seen is not None:
        return False
    log_disclosure(session, client_id=detail.client_id, partner_id=detail.partner_id, what=VIEW_DISCLOSURE,
                   by=staff.id, at=at, consent_id=detail.consent_id, case_id=detail.case_id)
    return True


# -- answers and notes ------------------------------------------------------------------------------------------

def answer(session: Session, staff: Staff, referral_id: str, word: str | None, outcome: str | None, at: datetime,
           expected: str | None = None) -> AnswerResult:
    """The partner's answer, checked against the referral's status (and against `expected`, the status the
    partner saw: a change since then is a conflict). The caller tells the process (`tell_process`) after commit.

    NotFound, NotYours, UnknownAnswer, OutcomeNeeded or AnswerConflict when it cannot be taken.
    """
    row = _referral(session, referral_id, lock=True)
    _allowed(session, staff, row, at)
    try:
        status = parse_answer(word or "")
    except IllegalAnswer as err:
        raise UnknownAnswer(str(err)) from None
    outcome = (outcome or "").strip() or None
    if outcome is not None and len(outcome) > OUTCOME_MAX:
        raise OutcomeNeeded(f"the outcome can be at most {OUTCOME_MAX} characters")
    if expected and row.status is not None and expected != row.status.value:
        raise AnswerConflict(f"the referral is now {row.status.value}: someone answered it meanwhile", row.status)
    allowed = () if row.status is None or row.status in FINAL else NEXT_ANSWERS.get(row.status, ())
    if status not in allowed:
        raise AnswerConflict(f"the referral is {row.status.value if row.status else 'not sent'}: the answer "
                             f"{status.value} cannot come now", row.status)
    if status is ServiceStatus.DONE and outcome is None:
        raise OutcomeNeeded("a service reported done needs its outcome")
    try:
        result = answer_referral(session, str(row.referral_id), status, outcome, staff.id, at)
    except IllegalAnswer as err:  # the status moved under us after all
        raise AnswerConflict(str(err), row.status) from None
    log_view(session, staff, [row.case_id], f"network partner's answer to a referral: {status.value}", at,
             AccessAction.UPDATE)
    return result


def add_note(session: Session, staff: Staff, referral_id: str, text: str | None, at: datetime) -> CaseNote:
    """A note from the partner about the referral, for the case manager and the case team (never the network)."""
    row = _referral(session, referral_id)
    _allowed(session, staff, row, at)
    body = (text or "").strip()
    if not body:
        raise NoteProblem("write the note")
    if len(body) > NOTE_MAX:
        raise NoteProblem(f"a note can be at most {NOTE_MAX} characters")
    note = CaseNote(case_id=row.case_id, author_id=staff.id, author_name=staff.name, partner_id=row.partner_id,
                    referral_id=row.referral_id, visibility=Visibility.CASE_TEAM, text=body, created_at=at)
    session.add(note)
    session.flush()
    log_view(session, staff, [row.case_id], "network partner's note on a referral", at, AccessAction.CREATE)
    return note
