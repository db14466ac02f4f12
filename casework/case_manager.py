"""Case manager assignments (asiakasvastaava) with their history, and the exactly-one-current invariant.

A case past the coordinator decision has exactly one current assignment (to_at IS NULL). A partial
unique index enforces "at most one"; `assign` closes the old and opens the new one in the same
transaction under the case row lock; `cases_without_case_manager` and casework.staffing report
any case left with none.
"""

from __future__ import annotations

import enum
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, Integer, String, Text, exists, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from casework.client_case import CaseStatus, ClientCase, get_case
from casework.errors import NotFound, Refused
from casework.models import CaseworkBase, UtcDateTime, enum_type
from casework.teams import teams_of
from casework.users import CASE_MANAGER_ROLES, Unit, get_user
from engine.errors import EngineError

if TYPE_CHECKING:
    from engine.runtime import Engine

log = logging.getLogger("polku.casework")

CHANGE_MESSAGE = "caseManagerChange"  # the message that starts the process's case manager change flow


class AssignmentReason(enum.Enum):
    INITIAL = "initial"
    STAFF_LEAVING = "staff_leaving"
    WORKLOAD = "workload"
    BETTER_FIT = "better_fit"
    DEACTIVATED = "deactivated"
    TEAM_DECISION = "team_decision"
    CASE_CLOSED = "case_closed"  # only ends an assignment; never opens one
    OTHER = "other"


class Assignment(CaseworkBase):
    """One period during which a named person was the case's case manager."""

    __tablename__ = "case_manager_assignment"
    __table_args__ = (
        Index("uq_case_manager_current", "case_id", unique=True,
              sqlite_where=text("to_at IS NULL"), postgresql_where=text("to_at IS NULL")),
        Index("ix_case_manager_user_current", "user_id", "to_at"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("client_case.case_id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("client.id"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("staff_user.id"))
    user_name: Mapped[str] = mapped_column(String(300))  # as it was at the time, for the history
    # The case manager's title and unit at the time (an employment services official, a social worker...):
    # the evaluation counts who carried the cases, and a later change of title must not rewrite that.
    user_title: Mapped[str | None] = mapped_column(String(200))
    user_unit: Mapped[Unit | None] = mapped_column(enum_type(Unit))
    from_at: Mapped[datetime] = mapped_column(UtcDateTime)
    to_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reason: Mapped[AssignmentReason] = mapped_column(enum_type(AssignmentReason))
    ended_reason: Mapped[AssignmentReason | None] = mapped_column(enum_type(AssignmentReason))
    assigned_by: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    handover_confirmed_by_old_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    handover_confirmed_by_new_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    client_informed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


def assign(session: Session, case_id: str, user_id: str, reason: AssignmentReason, at: datetime,
           by: str | None = None, note: str | None = None) -> Assignment:
    """Names `user_id` as the case manager: ends the current assignment and opens the new one."""
    record = get_case(session, case_id, lock=True)  # changes to one case's manager run one at a time
    if record.status is not CaseStatus.OPEN:
        raise Refused("a closed case gets no case manager")
    if record.needs_case_manager is False:
        raise Refused("the coordinator decided this case needs no case manager")
    if reason is AssignmentReason.CASE_CLOSED:
        raise Refused("case_closed only ends an assignment")
    user = get_user(session, user_id)
    if not user.active:
        raise Refused(f"{user.name} is deactivated and cannot be named case manager")
    if not user.roles & CASE_MANAGER_ROLES:
        raise Refused(f"{user.name} has no coordinator or case manager role")
    current = current_case_manager(session, case_id)
    if current is not None:
        if current.user_id == user_id:
            raise Refused(f"{user.name} is already the case manager")
        current.to_at = at
        current.ended_reason = reason
        session.flush()  # free the one-current slot before the new row takes it
    assignment = Assignment(case_id=case_id, client_id=record.client_id, user_id=user.id, user_name=user.name,
                            user_title=user.title, user_unit=user.unit, from_at=at, reason=reason, assigned_by=by,
                            note=note)
    session.add(assignment)
    if record.team_id is None:  # a case opened before any team matched it joins its case manager's team
        record.team_id = next(iter(teams_of(session, user.id)), None)
    record.change_requested_at = None
    record.change_reason = None
    session.flush()
    return assignment


def end_current_assignment(session: Session, case_id: str, reason: AssignmentReason, at: datetime) -> None:
    """Ends the current assignment without a successor; only for closing the case."""
    current = current_case_manager(session, case_id)
    if current is not None:
        current.to_at = at
        current.ended_reason = reason


def current_case_manager(session: Session, case_id: str) -> Assignment | None:
    return session.scalar(select(Assignment).where(Assignment.case_id == case_id, Assignment.to_at.is_(None)))


def case_manager_now(session: Session, case_id: str, user_id: str) -> str:
    """Whom a message meant for the case manager `user_id` of this case should reach now.

    A process copies the case manager's id into its variables (a called process keeps its own copy), so
    an alert or reminder computed from that copy may name a former case manager. If `user_id` was the
    case's case manager and someone else is now, the current one gets it; anyone else is left as named.
    """
    current = current_case_manager(session, case_id)
    if current is None or current.user_id == user_id:
        return user_id
    was = session.scalar(select(Assignment.id).where(Assignment.case_id == case_id, Assignment.user_id == user_id,
                                                     Assignment.to_at.is_not(None)).limit(1))
    return current.user_id if was is not None else user_id


def assignment_history(session: Session, case_id: str) -> list[Assignment]:
    """Every case manager the case has had, oldest first."""
    query = select(Assignment).where(Assignment.case_id == case_id).order_by(Assignment.from_at, Assignment.id)
    return list(session.scalars(query))


def cases_of_case_manager(session: Session, user_id: str) -> list[str]:
    """The open cases whose current case manager is `user_id`."""
    query = (select(Assignment.case_id).join(ClientCase, ClientCase.case_id == Assignment.case_id)
             .where(Assignment.user_id == user_id, Assignment.to_at.is_(None), ClientCase.status == CaseStatus.OPEN)
             .order_by(Assignment.from_at))
    return list(session.scalars(query))


def confirm_handover(session: Session, case_id: str, user_id: str, at: datetime) -> Assignment:
    """The old or the new case manager confirms the joint handover of the current assignment."""
    current = current_case_manager(session, case_id)
    if current is None:
        raise NotFound(f"case {case_id} has no current case manager")
    if user_id == current.user_id:
        current.handover_confirmed_by_new_at = at
        return current
    previous = session.scalar(select(Assignment).where(Assignment.case_id == case_id, Assignment.to_at.is_not(None))
                              .order_by(Assignment.to_at.desc(), Assignment.id.desc()).limit(1))
    if previous is None or previous.user_id != user_id:
        raise Refused("only the previous or the current case manager can confirm the handover")
    current.handover_confirmed_by_old_at = at
    return current


def record_client_informed(session: Session, case_id: str, at: datetime) -> Assignment:
    """The client was sent the name and contact of their current case manager."""
    current = current_case_manager(session, case_id)
    if current is None:
        raise NotFound(f"case {case_id} has no current case manager")
    current.client_informed_at = at
    return current


def cases_without_case_manager(session: Session) -> list[str]:
    """Open cases past the coordinator decision that need a case manager and have none: must be empty."""
    has_current = exists().where(Assignment.case_id == ClientCase.case_id, Assignment.to_at.is_(None))
    query = (select(ClientCase.case_id)
             .where(ClientCase.status == CaseStatus.OPEN, ClientCase.needs_case_manager.is_(True), ~has_current)
             .order_by(ClientCase.decided_at))
    return list(session.scalars(query))


def request_change(session: Session, case_id: str, reason: AssignmentReason, at: datetime) -> ClientCase:
    """Marks the case for the case manager change flow; it shows as an alarm until `assign` runs."""
    record = get_case(session, case_id, lock=True)
    if record.change_requested_at is None:
        record.change_requested_at = at
    record.change_reason = reason.value
    return record


def deactivate_user(session: Session, user_id: str, at: datetime) -> list[str]:
    """Deactivates a staff user and marks each case they manage for the change flow; returns those cases.

    The assignments stay current (the history must not show a gap that did not happen) and are listed
    by casework.staffing as the highest alarm until the team lead names someone else.
    """
    user = get_user(session, user_id)
    user.active = False
    user.deactivated_at = at
    case_ids = cases_of_case_manager(session, user_id)
    for case_id in case_ids:
        request_change(session, case_id, AssignmentReason.DEACTIVATED, at)
    return case_ids


def deactivate_and_request_changes(engine: Engine, user_id: str, at: datetime, by: str = "polku") -> list[str]:
    """Deactivates the user and starts the case manager change flow in each of their open cases.

    A case whose process cannot take the message (e.g. it waits nowhere for it) stays marked by
    `request_change` and is listed as the highest staffing alarm until someone is named.
    """
    with engine.db.transaction() as session:
        case_ids = deactivate_user(session, user_id, at)
    for case_id in case_ids:
        try:
            engine.correlate(CHANGE_MESSAGE, case_id=case_id,
                             variables={"changeRequestedBy": by, "changeReason": AssignmentReason.DEACTIVATED.value})
        except EngineError as err:
            log.warning("case %s: the change flow could not start: %s", case_id, err)
    return case_ids
