"""The access log (käyttöloki) and the disclosure log (luovutusloki) of the client data act 703/2023.

Every view of or change to a client's data writes an access row; every disclosure to a network
partner writes a disclosure row naming its consent or legal basis. The client may ask who
processed their data, by default two years back.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime

from dateutil.relativedelta import relativedelta
from sqlalchemy import ForeignKey, Index, Integer, String, insert, literal, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from casework.client_case import ClientCase
from casework.consent import Consent
from casework.errors import CaseworkError, Refused
from casework.models import CaseworkBase, UtcDateTime, enum_type


class AccessAction(enum.Enum):
    VIEW = "view"
    CREATE = "create"
    UPDATE = "update"
    SEARCH = "search"
    PRINT = "print"
    EXPORT = "export"
    DENIED = "denied"  # an attempt the access rule refused (403): logged as well


class AccessLogEntry(CaseworkBase):
    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_client_at", "client_id", "at"),
                      Index("ix_access_log_user_at", "user_id", "at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    user_id: Mapped[str] = mapped_column(String(200))
    user_name: Mapped[str | None] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(40))
    client_id: Mapped[str] = mapped_column(ForeignKey("client.id"))
    case_id: Mapped[str | None] = mapped_column(String(36))
    action: Mapped[AccessAction] = mapped_column(enum_type(AccessAction))
    what: Mapped[str] = mapped_column(String(300))  # e.g. "case page", "plan v3", "identity code"
    why: Mapped[str] = mapped_column(String(300))  # the client or work relationship that permits it


class DisclosureLogEntry(CaseworkBase):
    __tablename__ = "disclosure_log"
    __table_args__ = (Index("ix_disclosure_log_client_at", "client_id", "at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    client_id: Mapped[str] = mapped_column(ForeignKey("client.id"))
    case_id: Mapped[str | None] = mapped_column(String(36))
    partner_id: Mapped[int] = mapped_column(ForeignKey("network_partner.id"), index=True)
    what: Mapped[str] = mapped_column(String(300))
    consent_id: Mapped[int | None] = mapped_column(ForeignKey("consent.id"))
    legal_basis: Mapped[str | None] = mapped_column(String(300))  # e.g. "381/2023 § 11" when not by consent
    disclosed_by: Mapped[str] = mapped_column(String(200))


def log_access(session: Session, *, user_id: str, role: str, client_id: str, action: AccessAction, what: str,
               why: str, at: datetime, case_id: str | None = None, user_name: str | None = None) -> AccessLogEntry:
    """Writes one access row; an access without a stated reason is refused, not logged blank."""
    if not why.strip() or not what.strip():
        raise CaseworkError("an access must be logged with what was processed and why")
    entry = AccessLogEntry(at=at, user_id=user_id, user_name=user_name, role=role, client_id=client_id,
                           case_id=case_id, action=action, what=what, why=why)
    session.add(entry)
    session.flush()
    return entry


def log_disclosure(session: Session, *, client_id: str, partner_id: int, what: str, by: str, at: datetime,
                   consent_id: int | None = None, legal_basis: str | None = None,
                   case_id: str | None = None) -> DisclosureLogEntry:
    """Writes one disclosure row; refused unless a consent valid at `at` or a legal basis is named."""
    if consent_id is None and not (legal_basis and legal_basis.strip()):
        raise Refused("data goes to a partner only with the client's consent or a legal basis")
    if consent_id is not None:
        consent = session.get(Consent, consent_id)
        if consent is None or consent.client_id != client_id or consent.partner_id != partner_id:
            raise Refused("the consent is not this client's consent for this partner")
        if not consent.valid_at(at):
            raise Refused("the consent is not in force (expired, revoked or not yet given)")
    entry = DisclosureLogEntry(at=at, client_id=client_id, case_id=case_id, partner_id=partner_id, what=what,
                               consent_id=consent_id, legal_basis=legal_basis, disclosed_by=by)
    session.add(entry)
    session.flush()
    return entry


def accesses_of_client(session: Session, client_id: str, now: datetime,
                       since: datetime | None = None) -> list[AccessLogEntry]:
    """Who processed the client's data, newest first; two years back unless `since` says otherwise."""
    since = since if since is not None else now - relativedelta(years=2)
    query = (select(AccessLogEntry).where(AccessLogEntry.client_id == client_id, AccessLogEntry.at >= since)
             .order_by(AccessLogEntry.at.desc(), AccessLogEntry.id.desc()))
    return list(session.scalars(query))


def disclosures_of_client(session: Session, client_id: str, now: datetime,
                          since: datetime | None = None) -> list[DisclosureLogEntry]:
    """What was given to which partner and on what basis, newest first; two years back by default."""
    since = since if since is not None else now - relativedelta(years=2)
    query = (select(DisclosureLogEntry)
             .where(DisclosureLogEntry.client_id == client_id, DisclosureLogEntry.at >= since)
             .order_by(DisclosureLogEntry.at.desc(), DisclosureLogEntry.id.desc()))
    return list(session.scalars(query))


def log_case_access(session: Session, *, user_id: str, role: str, case_ids: Iterable[str], what: str, why: str,
                    at: datetime, action: AccessAction = AccessAction.VIEW) -> int:
    """One access row per case that belongs to a client (cases without a casework record hold no client
    data of ours); returns how many rows were written."""
    ids = sorted(set(case_ids))
    if not ids:
        return 0
    if not why.strip() or not what.strip():
        raise CaseworkError("an access must be logged with what was processed and why")
    # one statement for a whole page (INSERT ... SELECT from client_case), not a round trip per client
    values = [literal(at, AccessLogEntry.at.type), literal(user_id, AccessLogEntry.user_id.type),
              literal(role, AccessLogEntry.role.type), ClientCase.client_id, ClientCase.case_id,
              literal(action, AccessLogEntry.action.type), literal(what, AccessLogEntry.what.type),
              literal(why, AccessLogEntry.why.type)]
    columns = ["at", "user_id", "role", "client_id", "case_id", "action", "what", "why"]
    result = session.execute(insert(AccessLogEntry).from_select(
        columns, select(*values).where(ClientCase.case_id.in_(ids))))
    return int(result.rowcount)  # type: ignore[attr-defined]  # a CursorResult: rows the INSERT wrote
