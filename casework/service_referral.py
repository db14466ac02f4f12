"""A planned service's way to the partner: referred (with consent), answered, or blocked for lack of consent.

One row per planned service (plan item): the service coordination subprocess writes it when the referral
goes out or is refused for lack of consent, and again when the partner's answer comes.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from casework.errors import NotFound
from casework.models import CaseworkBase, UtcDateTime, enum_type
from casework.plan import ItemKind, PlanItem, PlanVersion


class ServiceOutcome(enum.Enum):
    ACCEPTED = "accepted"
    REFUSED = "refused"
    NOT_AVAILABLE = "not_available"
    NO_CONSENT = "no_consent"


class ServiceReferral(CaseworkBase):
    __tablename__ = "service_referral"
    plan_item_id: Mapped[int] = mapped_column(ForeignKey("plan_item.id"), primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("client_case.case_id"), index=True)
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("network_partner.id"))
    referred_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # None: never sent (no consent)
    referred_by: Mapped[str | None] = mapped_column(String(200))
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consent.id"))
    outcome: Mapped[ServiceOutcome | None] = mapped_column(enum_type(ServiceOutcome))
    outcome_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    key: Mapped[str | None] = mapped_column(String(200))  # the job that last sent it, so a rerun sends nothing


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


def record_referral(session: Session, item: PlanItem, case_id: str, *, by: str, consent_id: int,
                    at: datetime, key: str | None = None) -> ServiceReferral:
    """The referral went to the partner under `consent_id` (the disclosure log holds the what and why)."""
    row = _row(session, item, case_id)
    row.referred_at, row.referred_by, row.consent_id, row.key = at, by, consent_id, key
    row.attempts = (row.attempts or 0) + 1
    row.outcome = row.outcome_at = None
    session.flush()
    return row


def already_referred(session: Session, item: PlanItem, key: str) -> bool:
    row = session.get(ServiceReferral, item.id)
    return row is not None and row.key == key


def record_outcome(session: Session, item: PlanItem, case_id: str, outcome: ServiceOutcome,
                   at: datetime) -> ServiceReferral:
    row = _row(session, item, case_id)
    row.outcome, row.outcome_at = outcome, at
    session.flush()
    return row


def referrals_of_case(session: Session, case_id: str) -> list[ServiceReferral]:
    return list(session.scalars(select(ServiceReferral).where(ServiceReferral.case_id == case_id)
                                .order_by(ServiceReferral.plan_item_id)))
