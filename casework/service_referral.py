"""A planned service's way to the partner: referred (with consent), answered step by step, or ended.

One row per planned service (plan item). The service coordination subprocess writes it when the referral
goes out (each sending names the referral by a new opaque `referral_id`, the only handle the partner gets)
or is blocked for lack of consent. The partner then answers in steps — accepted / refused / not available,
then started, then done with an outcome — through `answer_referral`, which the partner's view and
`/engine-rest/message` share: the answer is checked against the referral's status, kept in `referral_answer`,
the case manager is mailed (no client data), and the process is told.
"""

from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from casework.case_manager import current_case_manager
from casework.errors import NotFound, Refused
from casework.mail_templates import compose
from casework.models import CaseworkBase, UtcDateTime, enum_type
from casework.network import get_partner
from casework.notification import enqueue
from casework.plan import ItemKind, PlanItem, PlanVersion, current_plan, same_service
from casework.users import Role, StaffUser, users_with_role
from engine.models import Case

if TYPE_CHECKING:
    from engine.runtime import Engine

log = logging.getLogger("polku.casework")
PARTNER_ANSWER = "partnerAnswer"  # the message that tells the process a referral was answered
PARTNER_VIEW_PATH = "/partner/referrals/{referral_id}"  # the partner's page of one referral (the mail links it)
MAIL_LANGUAGE = "fi"  # partners and staff have no mail language of their own yet
REMINDER_AFTER_DAYS = 7  # no answer this long after the referral: the partner is reminded
ESCALATE_AFTER_DAYS = 7  # and this long after the reminder: the case manager gets a task


class ServiceOutcome(enum.Enum):
    """The partner's first answer, or the referral blocked for lack of consent."""

    ACCEPTED = "accepted"
    REFUSED = "refused"
    NOT_AVAILABLE = "not_available"
    NO_CONSENT = "no_consent"


class ServiceStatus(enum.Enum):
    """Where a planned service is now: the follow-up review's vocabulary plus the two ways it ends unsent."""

    REQUESTED = "requested"
    ACCEPTED = "accepted"
    STARTED = "started"
    DONE = "done"
    REFUSED = "refused"
    NOT_AVAILABLE = "not_available"
    NO_CONSENT = "no_consent"  # the client did not consent: never sent
    DROPPED = "dropped"  # the case manager dropped it (a silent partner, no alternative)


# What a partner may answer next, by the referral's status; a status not here takes no answer.
NEXT_ANSWERS: dict[ServiceStatus, tuple[ServiceStatus, ...]] = {
    ServiceStatus.REQUESTED: (ServiceStatus.ACCEPTED, ServiceStatus.REFUSED, ServiceStatus.NOT_AVAILABLE),
    ServiceStatus.ACCEPTED: (ServiceStatus.STARTED,),
    ServiceStatus.STARTED: (ServiceStatus.DONE,),
}
PARTNER_ANSWERS = frozenset({ServiceStatus.ACCEPTED, ServiceStatus.REFUSED, ServiceStatus.NOT_AVAILABLE,
                             ServiceStatus.STARTED, ServiceStatus.DONE})
FINAL = frozenset({ServiceStatus.DONE, ServiceStatus.REFUSED, ServiceStatus.NOT_AVAILABLE,
                   ServiceStatus.NO_CONSENT, ServiceStatus.DROPPED})
_ORDER = [ServiceStatus.REQUESTED, ServiceStatus.ACCEPTED, ServiceStatus.STARTED, ServiceStatus.DONE]


class IllegalAnswer(Refused):
    """The answer does not fit the referral's status (done before accepted, anything after done...)."""


class ServiceReferral(CaseworkBase):
    __tablename__ = "service_referral"
    plan_item_id: Mapped[int] = mapped_column(ForeignKey("plan_item.id"), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("client_case.case_id"), index=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("network_partner.id"))  # the partner referred to
    referred_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # None: never sent (no consent)
    referred_by: Mapped[str | None] = mapped_column(String(200))
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consent.id"))
    outcome: Mapped[ServiceOutcome | None] = mapped_column(enum_type(ServiceOutcome))
    outcome_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    key: Mapped[str | None] = mapped_column(String(200))  # the job that last sent it, so a rerun sends nothing
    # opaque and new for each sending: the partner's link names it; a former partner's id answers nothing
    referral_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    status: Mapped[ServiceStatus | None] = mapped_column(enum_type(ServiceStatus))
    status_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outcome_text: Mapped[str | None] = mapped_column(Text)  # what the partner reported when done
    reminded_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ReferralAnswer(CaseworkBase):
    """Every answer a partner gave, in order: the status alone would forget when each step happened."""

    __tablename__ = "referral_answer"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_item_id: Mapped[int] = mapped_column(ForeignKey("service_referral.plan_item_id"), index=True)
    referral_id: Mapped[str] = mapped_column(String(36))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("network_partner.id"))
    answer: Mapped[ServiceStatus] = mapped_column(enum_type(ServiceStatus))
    outcome_text: Mapped[str | None] = mapped_column(Text)
    answered_by: Mapped[str] = mapped_column(String(200))
    answered_at: Mapped[datetime] = mapped_column(UtcDateTime)


@dataclass(frozen=True)
class AnswerResult:
    referral_id: str
    case_id: str
    plan_item_id: int
    status: ServiceStatus
    changed: bool  # False: the answer was already recorded (a repeat, or the process catching up)


@dataclass(frozen=True)
class PartnerReferral:
    """What a partner may see of a referral: the service asked for, its status and dates; no client data."""

    referral_id: str
    service_type: str
    status: ServiceStatus
    referred_at: datetime
    start_due: date
    status_at: datetime | None


def planned_service(session: Session, case_id: str, service_id: str | int) -> PlanItem:
    """The plan item a process `serviceId` names; it must be a service of this case's plan."""
    try:
        item_id = int(service_id)
    except (TypeError, ValueError):
        raise NotFound(f"service id {service_id!r} is not a planned service's id") from None
    item = session.scalar(select(PlanItem).join(PlanVersion, PlanVersion.id == PlanItem.plan_version_id)
                          .where(PlanItem.id == item_id, PlanItem.kind == ItemKind.SERVICE,
                                 PlanVersion.case_id == case_id))
    if item is None:
        raise NotFound(f"case {case_id} has no planned service {service_id!r}")
    return item


def _row(session: Session, item: PlanItem, case_id: str) -> ServiceReferral:
    row = session.get(ServiceReferral, item.id, with_for_update=True)
    if row is None:
        row = ServiceReferral(plan_item_id=item.id, case_id=case_id, partner_id=item.partner_id, attempts=0)
        session.add(row)
    return row


def referral_of(session: Session, item: PlanItem) -> ServiceReferral | None:
    return session.get(ServiceReferral, item.id)


def record_referral(session: Session, item: PlanItem, case_id: str, *, by: str, consent_id: int,
                    at: datetime, key: str | None = None, partner_id: int | None = None) -> ServiceReferral:
    """The referral went to the partner under `consent_id` (the disclosure log holds the what and why).

    Each sending is a new referral with a new id: after a change of provider the former one answers nothing.
    """
    row = _row(session, item, case_id)
    row.partner_id = partner_id if partner_id is not None else item.partner_id
    row.referred_at, row.referred_by, row.consent_id, row.key = at, by, consent_id, key
    row.attempts = (row.attempts or 0) + 1
    row.outcome = row.outcome_at = row.outcome_text = row.reminded_at = None
    row.referral_id = str(uuid.uuid4())
    row.status, row.status_at = ServiceStatus.REQUESTED, at
    session.flush()
    return row


def already_referred(session: Session, item: PlanItem, key: str) -> bool:
    row = session.get(ServiceReferral, item.id)
    return row is not None and row.key == key


def record_outcome(session: Session, item: PlanItem, case_id: str, outcome: ServiceOutcome,
                   at: datetime) -> ServiceReferral:
    """The service's first answer or its end without sending (no consent), written by the process."""
    row = _row(session, item, case_id)
    row.outcome, row.outcome_at = outcome, at
    row.status, row.status_at = ServiceStatus(outcome.value), at
    session.flush()
    return row


def drop_service(session: Session, item: PlanItem, case_id: str, at: datetime) -> ServiceReferral:
    """The case manager drops the service (no answer and no other provider); a late answer is refused."""
    row = _row(session, item, case_id)
    if row.status not in FINAL:
        row.status, row.status_at = ServiceStatus.DROPPED, at
    session.flush()
    return row


def mark_reminded(session: Session, row: ServiceReferral, at: datetime) -> None:
    row.reminded_at = at
    session.flush()


def referral_by_id(session: Session, referral_id: str, lock: bool = False) -> ServiceReferral:
    query = select(ServiceReferral).where(ServiceReferral.referral_id == str(referral_id))
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise NotFound(f"no referral {referral_id!r} (a referral sent again, or to another provider, has a new id)")
    return row


def referral_of_service(session: Session, business_key: str, service_id: str | int) -> str:
    """The id of the referral of a planned service, named the older way (a case's business key and service id)."""
    case_ids = list(session.scalars(select(Case.id).where(Case.business_key == business_key)))
    for case_id in case_ids:
        try:
            row = referral_of(session, planned_service(session, case_id, service_id))
        except NotFound:
            continue
        if row is not None and row.referral_id is not None:
            return row.referral_id
    raise NotFound(f"no referral of service {service_id!r} in the case with business key {business_key!r}")


def referrals_of_case(session: Session, case_id: str) -> list[ServiceReferral]:
    return list(session.scalars(select(ServiceReferral).where(ServiceReferral.case_id == case_id)
                                .order_by(ServiceReferral.plan_item_id)))


def answers_of(session: Session, row: ServiceReferral) -> list[ReferralAnswer]:
    return list(session.scalars(select(ReferralAnswer).where(ReferralAnswer.plan_item_id == row.plan_item_id)
                                .order_by(ReferralAnswer.answered_at, ReferralAnswer.id)))


# -- answers ---------------------------------------------------------------------------------------------

def parse_answer(answer: str | ServiceStatus) -> ServiceStatus:
    """A partner's answer word (accepted, refused, not_available, started, done); IllegalAnswer otherwise."""
    try:
        status = answer if isinstance(answer, ServiceStatus) else ServiceStatus(str(answer).strip())
    except ValueError:
        status = None
    if status not in PARTNER_ANSWERS:
        raise IllegalAnswer(f"unknown answer {answer!r}: a partner answers "
                            + ", ".join(s.value for s in _ORDER[1:] + [ServiceStatus.REFUSED,
                                                                       ServiceStatus.NOT_AVAILABLE]))
    assert status is not None
    return status


def _check(row: ServiceReferral, answer: ServiceStatus, outcome: str | None) -> None:
    current = row.status
    if current is None or row.referral_id is None:
        raise IllegalAnswer(f"referral {row.referral_id} has not been sent to the partner")
    if current in FINAL:
        raise IllegalAnswer(f"referral {row.referral_id} is already {current.value}: it takes no more answers")
    allowed = NEXT_ANSWERS.get(current, ())
    if answer not in allowed:
        raise IllegalAnswer(f"referral {row.referral_id} is {current.value}: the answer {answer.value!r} cannot come "
                            f"now; the next answer can be {' or '.join(a.value for a in allowed)}")
    if answer is ServiceStatus.DONE and not (outcome or "").strip():
        raise IllegalAnswer("a service reported done needs its outcome")


def record_answer(session: Session, referral_id: str, answer: str | ServiceStatus, outcome: str | None, by: str,
                  at: datetime, *, catching_up: bool = False) -> AnswerResult:
    """Records the partner's answer and mails the case manager; IllegalAnswer when it does not fit.

    `catching_up` is the process recording a message it received: an answer already recorded (or one the
    referral has moved past) changes nothing instead of failing.
    """
    status = parse_answer(answer)
    row = referral_by_id(session, referral_id, lock=True)
    if catching_up and row.status is not None and _behind_or_same(status, row.status):
        return AnswerResult(str(row.referral_id), row.case_id, row.plan_item_id, row.status, False)
    _check(row, status, outcome)
    row.status, row.status_at = status, at
    if status in (ServiceStatus.ACCEPTED, ServiceStatus.REFUSED, ServiceStatus.NOT_AVAILABLE):
        row.outcome, row.outcome_at = ServiceOutcome(status.value), at
    if status is ServiceStatus.DONE:
        row.outcome_text = (outcome or "").strip()
    session.add(ReferralAnswer(plan_item_id=row.plan_item_id, referral_id=str(row.referral_id),
                               partner_id=row.partner_id, answer=status,
                               outcome_text=(outcome or "").strip() or None, answered_by=by, answered_at=at))
    session.flush()
    _tell_case_manager(session, row, status, at)
    return AnswerResult(str(row.referral_id), row.case_id, row.plan_item_id, status, True)


def _behind_or_same(answer: ServiceStatus, current: ServiceStatus) -> bool:
    if answer == current or current in FINAL:
        return True
    return answer in _ORDER and current in _ORDER and _ORDER.index(answer) <= _ORDER.index(current)


def answer_referral(session_or_engine: Session | Engine, referral_id: str, answer: str | ServiceStatus,
                    outcome: str | None, by: str, at: datetime) -> AnswerResult:
    """The partner's answer, from the partner's view or `/engine-rest/message`; IllegalAnswer if it does not fit.

    Given an Engine, the answer is recorded in its own transaction and the process is then told (message
    `partnerAnswer` with `answeredReferralId` and `partnerDecision`). Given a Session, only the record is
    written, in the caller's transaction; the caller tells the process with `tell_process` after commit.
    """
    if isinstance(session_or_engine, Session):
        return record_answer(session_or_engine, referral_id, answer, outcome, by, at)
    engine = session_or_engine
    with engine.db.transaction() as session:
        result = record_answer(session, referral_id, answer, outcome, by, at)
    tell_process(engine, result)
    return result


def tell_process(engine: Engine, result: AnswerResult) -> bool:
    """Moves the case's service coordination on; False when it was not waiting (it reads the status later)."""
    from engine.errors import EngineError
    from engine.errors import NotFound as NotWaiting

    try:
        engine.correlate(PARTNER_ANSWER, case_id=result.case_id,
                         variables={"answeredReferralId": result.referral_id,
                                    "partnerDecision": result.status.value})
    except NotWaiting:
        return False  # the answer stands in casework; the process's next wait or timer reads it from there
    except EngineError as err:  # the same, but someone should look at the diagram
        log.warning("case %s: the process could not take referral %s's answer: %s", result.case_id,
                    result.referral_id, err)
        return False
    return True


def open_referrals_for_partner(session: Session, partner_id: int) -> list[PartnerReferral]:
    """The partner's referrals still waiting for an answer, a start or an outcome, oldest first."""
    query = (select(ServiceReferral, PlanItem).join(PlanItem, PlanItem.id == ServiceReferral.plan_item_id)
             .where(ServiceReferral.partner_id == partner_id, ServiceReferral.referral_id.is_not(None),
                    ServiceReferral.referred_at.is_not(None),
                    ServiceReferral.status.in_([s for s in ServiceStatus if s not in FINAL]))
             .order_by(ServiceReferral.referred_at, ServiceReferral.plan_item_id))
    out = []
    for row, item in session.execute(query).all():
        assert row.referral_id is not None and row.referred_at is not None and row.status is not None
        out.append(PartnerReferral(row.referral_id, item.service_type.value if item.service_type else "other",
                                   row.status, row.referred_at, item.due, row.status_at))
    return out


def service_statuses(session: Session, case_id: str) -> dict[int, ServiceStatus | None]:
    """Each service of the current plan (by plan item id) with its status; a service carried over from an
    earlier version shows the status of its referral there. None: not referred yet."""
    plan = current_plan(session, case_id)
    if plan is None:
        return {}
    known: dict[tuple[object, ...], ServiceStatus | None] = {}
    rows = session.execute(select(ServiceReferral, PlanItem).join(PlanItem, PlanItem.id == ServiceReferral.plan_item_id)
                           .where(ServiceReferral.case_id == case_id).order_by(ServiceReferral.plan_item_id)).all()
    for row, item in rows:
        known[same_service(item)] = row.status
    by_id = {row.plan_item_id: row.status for row, _ in rows}
    return {i.id: by_id.get(i.id, known.get(same_service(i))) for i in plan.items if i.kind is ItemKind.SERVICE}


# -- mail ------------------------------------------------------------------------------------------------

def partner_link(base_url: str, referral_id: str) -> str:
    return base_url.rstrip("/") + PARTNER_VIEW_PATH.format(referral_id=referral_id)


def tell_partner(session: Session, row: ServiceReferral, kind: str, base_url: str, at: datetime,
                 key: str) -> None:
    """Mails the partner organisation's contact address a link to the referral: the mail carries no client data.

    Without an address on the partner's record the message is held for staff to deliver another way.
    """
    assert row.partner_id is not None and row.referral_id is not None
    partner = get_partner(session, row.partner_id)
    subject, body = compose(kind, MAIL_LANGUAGE, link=partner_link(base_url, row.referral_id))
    enqueue(session, key=key, recipient=f"partner:{partner.id}", to_address=partner.email,
            language=MAIL_LANGUAGE, subject=subject, body=body, at=at, case_id=row.case_id)


def _tell_case_manager(session: Session, row: ServiceReferral, status: ServiceStatus, at: datetime) -> None:
    """The case's current case manager hears of the answer (every active team lead when there is none)."""
    case = session.get(Case, row.case_id)
    case_key = (case.business_key if case is not None else None) or row.case_id
    assignment = current_case_manager(session, row.case_id)
    user = session.get(StaffUser, assignment.user_id) if assignment is not None else None
    recipients = [user] if user is not None and user.active else users_with_role(session, Role.TEAM_LEAD)
    context: dict[str, object] = {"case_key": case_key, "answer": status.value}
    if not (user is not None and user.active):
        context["redirected_from"] = assignment.user_id if assignment is not None else "-"
    for recipient in recipients:
        subject, body = compose("partner-answer", MAIL_LANGUAGE, **context)
        enqueue(session, key=f"referral:{row.referral_id}:{status.value}:{recipient.id}",
                recipient=f"staff:{recipient.id}", to_address=recipient.email, language=MAIL_LANGUAGE,
                subject=subject, body=body, at=at, case_id=row.case_id)
