"""The casework side of an engine case: whose case it is, whether it needs a case manager, how it ended.

The engine case runs the process; this record carries what the case manager invariant needs to know
without deserializing a workflow (open or closed, past the coordinator decision, change pending).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from casework.client import Client
from casework.errors import NotFound, Refused
from casework.models import CaseworkBase, UtcDateTime, enum_type
from casework.referral import LabourMarketStatus, ReferralSource, referral_facts
from casework.teams import team_for_municipality
from engine.models import Case


class CaseStatus(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


class ClosureReason(enum.Enum):
    EMPLOYMENT = "employment"
    EDUCATION = "education"
    VOCATIONAL_REHABILITATION = "vocational_rehabilitation"
    PENSION_PROCESS = "pension_process"
    EMPLOYMENT_SERVICES = "employment_services"  # back to employment services only
    MOVED_AWAY = "moved_away"
    NOT_REACHED = "not_reached"
    CLIENT_ENDED = "client_ended"
    BASIC_SERVICES = "basic_services"  # coordinator decision: no case manager needed
    OWN_WORKER = "own_worker"  # coordinator decision: the own worker carries the client


class ClientCase(CaseworkBase):
    __tablename__ = "client_case"
    __table_args__ = (Index("ix_client_case_status_needs", "status", "needs_case_manager"),)
    case_id: Mapped[str] = mapped_column(ForeignKey(Case.id), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("client.id"), index=True)
    status: Mapped[CaseStatus] = mapped_column(enum_type(CaseStatus))
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    referrer: Mapped[str | None] = mapped_column(String(300))
    # What the referral said, typed for the evaluation (casework.referral validates it; None: not recorded).
    referral_source: Mapped[ReferralSource | None] = mapped_column(enum_type(ReferralSource))
    labour_market_status: Mapped[LabourMarketStatus | None] = mapped_column(enum_type(LabourMarketStatus))
    unemployed_months: Mapped[int | None] = mapped_column(Integer)
    municipality: Mapped[str | None] = mapped_column(String(100))  # the client's municipality at referral
    # None until the coordinator decision; True from then on if the case must have a named case manager.
    needs_case_manager: Mapped[bool | None] = mapped_column(Boolean)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Set when the case must go through the case manager change flow (deactivation, staff leaving...).
    change_requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    change_reason: Mapped[str | None] = mapped_column(String(40))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closure_reason: Mapped[ClosureReason | None] = mapped_column(enum_type(ClosureReason))
    next_responsible: Mapped[str | None] = mapped_column(String(300))
    next_contact: Mapped[str | None] = mapped_column(String(300))
    handover_meeting_on: Mapped[date | None] = mapped_column()
    summary: Mapped[str | None] = mapped_column(Text)
    # The team whose members, and whose team lead, work with the case (casework.case_access); set when the
    # case opens (the team of the client's municipality) or, failing that, from the first case manager's team.
    team_id: Mapped[str | None] = mapped_column(ForeignKey("team.id", name="fk_client_case_team"), index=True)


def open_case(session: Session, case_id: str, client_id: str, at: datetime, referrer: str | None = None,
              referral: Mapping[str, Any] | None = None) -> ClientCase:
    """Records a new case; a client with an open case must be routed to it instead (Refused).

    `referral` is the process's referral variables: their typed facts (source, labour market status) go on
    the record; the municipality comes from the client record, where casework.referral keeps it.
    """
    existing = open_case_of_client(session, client_id)
    if existing is not None:
        raise Refused(f"the client already has an open case {existing.case_id}; route the referral there")
    facts = referral_facts(referral or {}, strict=False)
    client = session.get(Client, client_id)
    record = ClientCase(case_id=case_id, client_id=client_id, status=CaseStatus.OPEN, opened_at=at,
                        referrer=referrer, referral_source=facts.source, labour_market_status=facts.status,
                        unemployed_months=facts.unemployed_months,
                        municipality=client.municipality if client is not None else None)
    record.team_id = team_for_municipality(session, record.municipality)
    session.add(record)
    session.flush()
    return record


def open_case_of_client(session: Session, client_id: str) -> ClientCase | None:
    return session.scalar(select(ClientCase).where(ClientCase.client_id == client_id,
                                                   ClientCase.status == CaseStatus.OPEN))


def get_case(session: Session, case_id: str, lock: bool = False) -> ClientCase:
    """The case record; `lock` takes the row lock so that changes to one case run one at a time."""
    query = select(ClientCase).where(ClientCase.case_id == case_id)
    if lock:
        query = query.with_for_update()
    record = session.scalar(query)
    if record is None:
        raise NotFound(f"no casework record for case {case_id!r}")
    return record


def record_decision(session: Session, case_id: str, needs_case_manager: bool, at: datetime) -> ClientCase:
    """The coordinator decision: from now on the case needs a named case manager, or it does not."""
    record = get_case(session, case_id, lock=True)
    if record.status is not CaseStatus.OPEN:
        raise Refused("the case is closed")
    record.needs_case_manager = needs_case_manager
    record.decided_at = at
    return record
