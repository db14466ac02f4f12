"""Closing a case with a warm handover (saattaen vaihtaen): who is responsible next, and why it ended."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from casework.case_manager import AssignmentReason, end_current_assignment
from casework.client_case import CaseStatus, ClientCase, ClosureReason, get_case
from casework.errors import Refused

# Reasons that end the client's path here and hand them to someone else, so a next responsible is named.
NEEDS_NEXT_RESPONSIBLE = frozenset(ClosureReason) - {ClosureReason.MOVED_AWAY, ClosureReason.NOT_REACHED,
                                                     ClosureReason.CLIENT_ENDED}


def close_case(session: Session, case_id: str, reason: ClosureReason, at: datetime, *,
               next_responsible: str | None = None, next_contact: str | None = None,
               handover_meeting_on: date | None = None, summary: str | None = None) -> ClientCase:
    """Closes the case and ends the case manager's assignment; a handover must name who comes next."""
    record = get_case(session, case_id, lock=True)
    if record.status is not CaseStatus.OPEN:
        raise Refused("the case is already closed")
    if reason in NEEDS_NEXT_RESPONSIBLE and not (next_responsible or "").strip():
        raise Refused("name the next responsible worker or service before closing (warm handover)")
    record.status = CaseStatus.CLOSED
    record.closed_at = at
    record.closure_reason = reason
    record.next_responsible = next_responsible
    record.next_contact = next_contact
    record.handover_meeting_on = handover_meeting_on
    record.summary = summary
    record.change_requested_at = None
    record.change_reason = None
    end_current_assignment(session, case_id, AssignmentReason.CASE_CLOSED, at)
    return record
