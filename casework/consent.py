"""The client's consents to disclose data to a network partner (luovutuslupa).

A consent says who gave it (the client or their guardian), when, and how: in writing, or orally with a
witness named, so that a disclosure made under it can be justified later.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from casework.errors import CaseworkError, Refused, get_or_raise
from casework.models import CaseworkBase, UtcDateTime, enum_type


class ConsentGiver(enum.Enum):
    CLIENT = "client"
    GUARDIAN = "guardian"  # edunvalvoja or another legal representative


class ConsentMethod(enum.Enum):
    WRITTEN = "written"
    ORAL = "oral"  # only with a witness named


class Consent(CaseworkBase):
    __tablename__ = "consent"
    __table_args__ = (Index("ix_consent_client_partner", "client_id", "partner_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("client.id"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("network_partner.id"), index=True)
    scope: Mapped[str] = mapped_column(String(300))  # what may be shared and for what, in the client's terms
    given_at: Mapped[datetime] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    recorded_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(200))
    # None on consents recorded before these were asked (migration 0011)
    given_by: Mapped[ConsentGiver | None] = mapped_column(enum_type(ConsentGiver))
    method: Mapped[ConsentMethod | None] = mapped_column(enum_type(ConsentMethod))
    witness: Mapped[str | None] = mapped_column(String(300))

    def valid_at(self, at: datetime) -> bool:
        return (self.given_at <= at and (self.valid_until is None or at < self.valid_until)
                and (self.revoked_at is None or at < self.revoked_at))


def record_consent(session: Session, client_id: str, partner_id: int, scope: str, given_at: datetime,
                   recorded_by: str, valid_until: datetime | None = None, *, given_by: ConsentGiver | None = None,
                   method: ConsentMethod | None = None, witness: str | None = None) -> Consent:
    """Records a consent; an oral one must name its witness."""
    if not scope.strip():
        raise CaseworkError("a consent must say what may be shared (scope)")
    if valid_until is not None and valid_until <= given_at:
        raise CaseworkError("a consent cannot expire before it is given")
    witness = (witness or "").strip() or None
    if method is ConsentMethod.ORAL and witness is None:
        raise CaseworkError("an oral consent needs the name of the witness who heard it")
    consent = Consent(client_id=client_id, partner_id=partner_id, scope=scope.strip(), given_at=given_at,
                      valid_until=valid_until, recorded_by=recorded_by, given_by=given_by, method=method,
                      witness=witness)
    session.add(consent)
    session.flush()
    return consent


def revoke_consent(session: Session, consent_id: int, at: datetime, by: str) -> Consent:
    """The client withdraws the consent; disclosures after `at` need another basis."""
    consent = get_or_raise(session, Consent, consent_id, "consent")
    if consent.revoked_at is not None:
        raise Refused("the consent is already revoked")
    consent.revoked_at = at
    consent.revoked_by = by
    return consent


def valid_consent(session: Session, client_id: str, partner_id: int, at: datetime,
                  scope: str | None = None) -> Consent | None:
    """A consent in force at `at` (of that exact scope when given), or None."""
    query = select(Consent).where(Consent.client_id == client_id, Consent.partner_id == partner_id,
                                  Consent.given_at <= at)
    if scope is not None:
        query = query.where(Consent.scope == scope)
    return next((c for c in session.scalars(query.order_by(Consent.given_at.desc())) if c.valid_at(at)), None)


def has_valid_consent(session: Session, client_id: str, partner_id: int, at: datetime,
                      scope: str | None = None) -> bool:
    return valid_consent(session, client_id, partner_id, at, scope) is not None


def consents_of_client(session: Session, client_id: str) -> list[Consent]:
    return list(session.scalars(select(Consent).where(Consent.client_id == client_id).order_by(Consent.given_at)))
