"""Network meetings (verkostopalaveri) and coordinator consultations: steps a case manager takes any time.

A network meeting records when it was held, who of the client's network took part and what was agreed;
a consultation records the case manager's question, the coordinator's answer and whether the plan should be
revised (the process then asks for an early follow-up review, where the revision is decided).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from casework.client_case import CaseStatus, get_case
from casework.errors import Refused
from casework.evaluation import InvalidEvaluation
from casework.models import CaseworkBase, UtcDateTime


class NetworkMeeting(CaseworkBase):
    __tablename__ = "network_meeting"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("client_case.case_id"), index=True)
    held_on: Mapped[date] = mapped_column()
    participants: Mapped[list[str]] = mapped_column(JSON, default=list)  # "name, organisation", one per member
    agreed: Mapped[str] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    key: Mapped[str | None] = mapped_column(String(200), unique=True)  # the job that saved it, so it saves once


class Consultation(CaseworkBase):
    __tablename__ = "consultation"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("client_case.case_id"), index=True)
    requested_by: Mapped[str | None] = mapped_column(String(200))
    question: Mapped[str] = mapped_column(Text, default="")
    answered_by: Mapped[str] = mapped_column(String(200))
    answer: Mapped[str] = mapped_column(Text)
    revise_plan: Mapped[bool] = mapped_column(Boolean, default=False)
    answered_at: Mapped[datetime] = mapped_column(UtcDateTime)
    key: Mapped[str | None] = mapped_column(String(200), unique=True)


def _open(session: Session, case_id: str) -> None:
    if get_case(session, case_id, lock=True).status is not CaseStatus.OPEN:
        raise Refused("the case is closed")


def record_network_meeting(session: Session, case_id: str, held_on: date, participants: list[str], agreed: str,
                           by: str, at: datetime, key: str | None = None) -> NetworkMeeting:
    """Adds a meeting to the case; InvalidEvaluation names what is missing."""
    if key is not None:
        done = session.scalar(select(NetworkMeeting).where(NetworkMeeting.key == key))
        if done is not None:
            return done
    _open(session, case_id)
    members = [p.strip() for p in participants if p.strip()]
    problems = []
    if not members:
        problems.append("a network meeting needs at least one participant")
    if not agreed.strip():
        problems.append("record what was agreed in the meeting")
    if held_on > at.date():
        problems.append("a meeting is recorded once held: its date cannot be in the future")
    if problems:
        raise InvalidEvaluation(problems)
    row = NetworkMeeting(case_id=case_id, held_on=held_on, participants=members, agreed=agreed.strip(),
                         recorded_by=by, recorded_at=at, key=key)
    session.add(row)
    session.flush()
    return row


def record_consultation(session: Session, case_id: str, answer: str, answered_by: str, at: datetime,
                        question: str = "", requested_by: str | None = None, revise_plan: bool = False,
                        key: str | None = None) -> Consultation:
    if key is not None:
        done = session.scalar(select(Consultation).where(Consultation.key == key))
        if done is not None:
            return done
    _open(session, case_id)
    if not answer.strip():
        raise InvalidEvaluation(["the consultation needs the coordinator's answer"])
    row = Consultation(case_id=case_id, requested_by=requested_by, question=question.strip(),
                       answered_by=answered_by, answer=answer.strip(), revise_plan=revise_plan, answered_at=at,
                       key=key)
    session.add(row)
    session.flush()
    return row


def meetings_of_case(session: Session, case_id: str) -> list[NetworkMeeting]:
    return list(session.scalars(select(NetworkMeeting).where(NetworkMeeting.case_id == case_id)
                                .order_by(NetworkMeeting.held_on, NetworkMeeting.id)))


def consultations_of_case(session: Session, case_id: str) -> list[Consultation]:
    return list(session.scalars(select(Consultation).where(Consultation.case_id == case_id)
                                .order_by(Consultation.answered_at, Consultation.id)))
