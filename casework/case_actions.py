"""What a person may do from a case page, and doing it through the case's process.

The rules (`allowed_actions`) depend on the person's relationship to the case (casework.case_access) and on the
case being open. Each action goes through the engine the way the process expects it, never around it:

- recording a consent wakes every `obtain_consent` task (bpmn/service-coordination.bpmn) waiting for a consent
  to that partner: the task is completed with `consentObtained`, and its `record-consent` worker finds the
  consent just recorded, so the blocked referral is sent;
- a case manager change, a network meeting and a coordinator consultation are the messages the process's event
  subprocesses start on (`caseManagerChange`, `networkMeeting`, `consultationRequested`);
- the process closes a case only from a follow-up review whose decision is "close" (then the handover, the
  summary letter and the closure record): closing from the case page asks for that review now
  (`reviewRequested`), or points at the review already open.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.case_access import Relationship
from casework.case_manager import CHANGE_MESSAGE, AssignmentReason, current_case_manager, request_change
from casework.client_case import CaseStatus, ClientCase, get_case
from casework.consent import Consent, ConsentGiver, ConsentMethod, record_consent, revoke_consent
from casework.errors import CaseworkError, NotFound, Refused
from casework.network import get_partner
from casework.plan import ItemKind, PlanItem
from casework.staff import Staff
from casework.users import CASE_MANAGER_ROLES, Role
from engine.errors import Conflict, EngineError
from engine.errors import NotFound as NotWaiting
from engine.models import Task, TaskStatus

if TYPE_CHECKING:
    from engine.runtime import Engine

log = logging.getLogger("polku.casework")

CONSENT_TASK = "obtain_consent"  # service coordination waits here for the client's consent to a partner
MEETING_MESSAGE = "networkMeeting"
MEETING_TASK = "hold_network_meeting"
CONSULT_MESSAGE = "consultationRequested"
REVIEW_MESSAGE = "reviewRequested"
REVIEW_TASK = "follow_up_review"
CLOSING_TASKS = frozenset({"handover_plan", "handover_meeting"})
CHANGE_TASKS = frozenset({"name_new_case_manager", "confirm_handover_old", "confirm_handover_new"})
CHANGE_REASONS = (AssignmentReason.STAFF_LEAVING, AssignmentReason.WORKLOAD, AssignmentReason.BETTER_FIT)
MAX_TEXT = 2000
MAX_SCOPE = 300


class CaseAction(enum.Enum):
    RECORD_CONSENT = "record_consent"
    REVOKE_CONSENT = "revoke_consent"
    REQUEST_CHANGE = "request_change"
    NETWORK_MEETING = "network_meeting"
    CONSULT = "consult"
    CLOSE = "close"


class ActionConflict(CaseworkError):
    """The case or its process is not where the action needs it (changed meanwhile, or not waiting for it)."""


_BY_RELATIONSHIP: dict[Relationship, frozenset[CaseAction]] = {
    Relationship.CASE_MANAGER: frozenset(CaseAction),
    # the team lead names case managers and may call the network together; the question and the closing
    # are the case manager's own
    Relationship.TEAM_LEAD: frozenset({CaseAction.RECORD_CONSENT, CaseAction.REVOKE_CONSENT,
                                       CaseAction.REQUEST_CHANGE, CaseAction.NETWORK_MEETING}),
    # a colleague of the team may take down the client's consent and ask the team lead for a change
    Relationship.TEAM_MEMBER: frozenset({CaseAction.RECORD_CONSENT, CaseAction.REVOKE_CONSENT,
                                         CaseAction.REQUEST_CHANGE}),
}


def allowed_actions(staff: Staff, relationship: Relationship | None, case: ClientCase) -> frozenset[CaseAction]:
    """The actions `staff` may take on the case from its page; nothing on a closed case or without a relationship
    that opens the whole case (a partner, or a coordinator who only holds one of its tasks)."""
    if relationship is None or case.status is not CaseStatus.OPEN:
        return frozenset()
    allowed = set(_BY_RELATIONSHIP.get(relationship, frozenset()))
    if relationship is Relationship.TEAM_MEMBER and not staff.has(*CASE_MANAGER_ROLES, Role.TEAM_LEAD):
        allowed.clear()
    if case.needs_case_manager is not True:  # no case manager to change, to consult as, or to close with
        allowed -= {CaseAction.REQUEST_CHANGE, CaseAction.CONSULT, CaseAction.CLOSE}
    return frozenset(allowed)


# -- consent ----------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConsentInput:
    partner_id: int
    scope: str
    given_by: ConsentGiver
    method: ConsentMethod
    witness: str | None
    given_on: date | None  # None: today
    valid_until: date | None  # the last day it is valid; None: until revoked


@dataclass(frozen=True)
class ConsentRecorded:
    consent_id: int
    referrals_woken: int  # blocked referrals to that partner that now proceed


def given_at(day: date | None, now: datetime) -> datetime:
    """When a consent dated `day` was given: now for today (in force at once), else the start of that day."""
    if day is None or day == now.date():
        return now
    return datetime.combine(day, time(0), tzinfo=UTC)


def until(day: date | None) -> datetime | None:
    """A consent valid until a day holds through that whole day."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC) if day is not None else None


def record_case_consent(engine: Engine, case_id: str, data: ConsentInput, by: str) -> ConsentRecorded:
    """Records the client's consent to a partner and lets every referral to it that waits for consent proceed."""
    now = engine.clock()
    with engine.db.transaction() as session:
        record = get_case(session, case_id)
        if record.status is not CaseStatus.OPEN:
            raise ActionConflict("the case is closed")
        partner = get_partner(session, data.partner_id)
        if not partner.active:
            raise Refused(f"{partner.organisation} is no longer an active network partner")
        at = given_at(data.given_on, now)
        if at > now:
            raise Refused("a consent cannot be given in the future")
        consent = record_consent(session, record.client_id, partner.id, data.scope, at, recorded_by=by,
                                 valid_until=until(data.valid_until), given_by=data.given_by, method=data.method,
                                 witness=data.witness)
        consent_id = consent.id
    return ConsentRecorded(consent_id, wake_consent_waits(engine, case_id, data.partner_id, by))


def wake_consent_waits(engine: Engine, case_id: str, partner_id: int, by: str) -> int:
    """Completes the `obtain_consent` tasks waiting for a consent to this partner (the process then records the
    consent found and sends the referral); how many there were. A task someone completed meanwhile is skipped."""
    woken = 0
    for task_id, waited_partner in consent_waits(engine, case_id).items():
        if waited_partner != partner_id:
            continue
        try:
            engine.complete_task(task_id, {"consentObtained": True}, actor=by)
        except (Conflict, NotWaiting):
            continue  # completed meanwhile by someone else
        except EngineError as err:  # the consent stands; the task stays for the case manager to complete
            log.warning("case %s: the consent task %s could not be completed: %s", case_id, task_id, err)
            continue
        woken += 1
    return woken


def consent_waits(engine: Engine, case_id: str) -> dict[str, int | None]:
    """The case's open `obtain_consent` tasks, each with the partner whose consent it waits for (None: a provider
    that is not a registered partner)."""
    with engine.db.read() as session:
        task_ids = list(session.scalars(select(Task.id).where(Task.case_id == case_id, Task.status == TaskStatus.OPEN,
                                                              Task.element_id == CONSENT_TASK)))
        if not task_ids:
            return {}
        data = engine.task_data(session, case_id, task_ids)
        out: dict[str, int | None] = {}
        for task_id in task_ids:
            out[task_id] = _waited_partner(session, case_id, data.get(task_id, {}))
        return out


def _waited_partner(session: Session, case_id: str, variables: Mapping[str, Any]) -> int | None:
    chosen = variables.get("referralPartnerId")
    if chosen not in (None, ""):
        try:
            return int(str(chosen))  # a form's long, or its text
        except (TypeError, ValueError):
            return None
    try:
        item = session.get(PlanItem, int(str(variables.get("serviceId"))))
    except (TypeError, ValueError):
        return None
    return item.partner_id if item is not None and item.kind is ItemKind.SERVICE else None


def revoke_case_consent(engine: Engine, case_id: str, consent_id: int, by: str) -> Consent:
    """The client withdraws a consent of theirs; ActionConflict when it was revoked already."""
    now = engine.clock()
    with engine.db.transaction() as session:
        record = get_case(session, case_id)
        consent = session.get(Consent, consent_id)
        if consent is None or consent.client_id != record.client_id:
            raise NotFound(f"the client has no consent {consent_id}")
        try:
            revoked = revoke_consent(session, consent_id, now, by)
        except Refused as err:
            raise ActionConflict(str(err)) from err
        session.flush()
        session.expunge(revoked)
        return revoked


# -- messages to the process ---------------------------------------------------------------------------------

def _open_tasks(session: Session, case_id: str, elements: frozenset[str]) -> list[Task]:
    return list(session.scalars(select(Task).where(Task.case_id == case_id, Task.status == TaskStatus.OPEN,
                                                   Task.element_id.in_(sorted(elements)))
                                .order_by(Task.created_at)))


def _correlate(engine: Engine, message: str, case_id: str, variables: Mapping[str, Any], not_waiting: str) -> None:
    try:
        engine.correlate(message, case_id=case_id, variables=dict(variables))
    except NotWaiting as err:
        raise ActionConflict(not_waiting) from err
    except EngineError as err:
        log.warning("case %s: the process could not take %s: %s", case_id, message, err)
        raise ActionConflict(not_waiting) from err


def request_case_manager_change(engine: Engine, case_id: str, reason: AssignmentReason, note: str, by: str) -> None:
    """Starts the process's case manager change flow (the team lead names the new case manager, both confirm the
    handover, the client gets a letter). One change at a time: a second request is a conflict."""
    if reason not in CHANGE_REASONS:
        raise Refused(f"a change is not requested for the reason {reason.value}")
    now = engine.clock()
    with engine.db.transaction() as session:
        record = get_case(session, case_id, lock=True)
        if record.status is not CaseStatus.OPEN or record.needs_case_manager is not True:
            raise ActionConflict("the case has no case manager to change")
        if current_case_manager(session, case_id) is None:
            raise ActionConflict("the case has no case manager yet: the coordinator's decision names one")
        if record.change_requested_at is not None or _open_tasks(session, case_id, CHANGE_TASKS):
            raise ActionConflict("a change of case manager is already under way")
        request_change(session, case_id, reason, now)
    try:
        _correlate(engine, CHANGE_MESSAGE, case_id,
                   {"changeRequestedBy": by, "changeReason": reason.value, "changeRequestNote": note.strip()},
                   "the process cannot start a change of case manager now")
    except ActionConflict:
        with engine.db.transaction() as session:  # nothing started: the case is not left marked for a change
            record = get_case(session, case_id, lock=True)
            if record.change_requested_at == now:
                record.change_requested_at = None
                record.change_reason = None
        raise


def call_network_meeting(engine: Engine, case_id: str, by: str) -> None:
    """Starts the network meeting subprocess: the case manager gets its task to record the meeting."""
    with engine.db.read() as session:
        if get_case(session, case_id).status is not CaseStatus.OPEN:
            raise ActionConflict("the case is closed")
        if _open_tasks(session, case_id, frozenset({MEETING_TASK})):
            raise ActionConflict("a network meeting is already waiting to be recorded")
    _correlate(engine, MEETING_MESSAGE, case_id, {"networkMeetingCalledBy": by},
               "the process cannot take a network meeting now")


def consult_coordinator(engine: Engine, case_id: str, question: str, by: str) -> None:
    """Asks the coordinators a question (their task shows it); the answer may bring the review forward."""
    if not question.strip():
        raise Refused("write the question for the coordinator")
    with engine.db.read() as session:
        if get_case(session, case_id).status is not CaseStatus.OPEN:
            raise ActionConflict("the case is closed")
    _correlate(engine, CONSULT_MESSAGE, case_id,
               {"consultationQuestion": question.strip()[:MAX_TEXT], "consultationRequestedBy": by},
               "the process cannot take a consultation now")


@dataclass(frozen=True)
class Closing:
    """Where closing the case goes on: the follow-up review task in which "close" is decided."""

    task_id: str | None
    already_open: bool  # True: a review (or the closing itself) was open already; nothing new was started


def start_closing(engine: Engine, case_id: str, by: str) -> Closing:
    """Brings the follow-up review forward with "close" as its proposed decision; the case closes through the
    review, the handover and the closure record, as the process models it."""
    with engine.db.read() as session:
        if get_case(session, case_id).status is not CaseStatus.OPEN:
            raise ActionConflict("the case is already closed")
        open_now = _open_tasks(session, case_id, CLOSING_TASKS | {REVIEW_TASK})
    if open_now:
        return Closing(open_now[0].id, True)
    _correlate(engine, REVIEW_MESSAGE, case_id, {"reviewRequestedBy": "case_manager", "followUpDecision": "close"},
               "the case can be closed at a follow-up review, and the process is not waiting for one now "
               "(the plan is not made yet, or a plan revision is under way)")
    with engine.db.read() as session:
        opened = _open_tasks(session, case_id, frozenset({REVIEW_TASK}))
    return Closing(opened[0].id if opened else None, False)
