"""Network partners (verkoston toimijat) and what each is responsible for in a client's case."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from casework.client_case import get_case
from casework.errors import CaseworkError, get_or_raise
from casework.models import CaseworkBase, UtcDateTime, enum_type


class PartnerKind(enum.Enum):
    EMPLOYMENT_SERVICES = "employment_services"
    KELA = "kela"
    SOCIAL_WORK = "social_work"
    HEALTH_CARE = "health_care"
    MENTAL_HEALTH_SUBSTANCE_ABUSE = "mental_health_substance_abuse"
    NGO = "ngo"
    CRIMINAL_SANCTIONS_AGENCY = "criminal_sanctions_agency"
    EDUCATION = "education"
    OTHER = "other"


class NetworkPartner(CaseworkBase):
    __tablename__ = "network_partner"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organisation: Mapped[str] = mapped_column(String(300), index=True)
    unit: Mapped[str | None] = mapped_column(String(300))
    kind: Mapped[PartnerKind] = mapped_column(enum_type(PartnerKind), index=True)
    contact_name: Mapped[str | None] = mapped_column(String(300))
    phone: Mapped[str | None] = mapped_column(String(50))
    email: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class PartnerResponsibility(CaseworkBase):
    """A partner's own part in one case; the partner reports back to the case manager on it."""

    __tablename__ = "partner_responsibility"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("client_case.case_id"), index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("network_partner.id"), index=True)
    responsibility: Mapped[str] = mapped_column(Text)
    contact_person: Mapped[str] = mapped_column(String(300))
    from_at: Mapped[datetime] = mapped_column(UtcDateTime)
    to_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


def add_partner(session: Session, organisation: str, kind: PartnerKind, unit: str | None = None,
                contact_name: str | None = None, phone: str | None = None,
                email: str | None = None) -> NetworkPartner:
    partner = NetworkPartner(organisation=organisation, unit=unit, kind=kind, contact_name=contact_name,
                             phone=phone, email=email, active=True)
    session.add(partner)
    session.flush()
    return partner


def get_partner(session: Session, partner_id: int) -> NetworkPartner:
    return get_or_raise(session, NetworkPartner, partner_id, "network partner")


def partners(session: Session, kind: PartnerKind | None = None) -> list[NetworkPartner]:
    query = select(NetworkPartner).where(NetworkPartner.active.is_(True)).order_by(NetworkPartner.organisation)
    if kind is not None:
        query = query.where(NetworkPartner.kind == kind)
    return list(session.scalars(query))


def add_responsibility(session: Session, case_id: str, partner_id: int, responsibility: str,
                       contact_person: str, at: datetime) -> PartnerResponsibility:
    """Records a partner's part in the case; it must name what and who (nothing owned by nobody)."""
    get_case(session, case_id)
    get_partner(session, partner_id)
    if not responsibility.strip() or not contact_person.strip():
        raise CaseworkError("a partner's responsibility needs a description and a contact person")
    row = PartnerResponsibility(case_id=case_id, partner_id=partner_id, responsibility=responsibility.strip(),
                                contact_person=contact_person.strip(), from_at=at)
    session.add(row)
    session.flush()
    return row


def end_responsibility(session: Session, responsibility_id: int, at: datetime) -> None:
    row = get_or_raise(session, PartnerResponsibility, responsibility_id, "partner responsibility")
    row.to_at = at


def responsibilities(session: Session, case_id: str, at: datetime | None = None) -> list[PartnerResponsibility]:
    """The partners' parts in the case; only those in force at `at` when given."""
    query = select(PartnerResponsibility).where(PartnerResponsibility.case_id == case_id)
    if at is not None:
        query = query.where(PartnerResponsibility.from_at <= at,
                            (PartnerResponsibility.to_at.is_(None)) | (PartnerResponsibility.to_at > at))
    return list(session.scalars(query.order_by(PartnerResponsibility.from_at, PartnerResponsibility.id)))
