"""The head of a case page: who the client is, whose case it is, whether the client knows, where it is now.

The pilots' two worries are answered here first: the case manager sees the client's situation at a glance,
and the page says who the client's case manager is, since when, and whether the client has been told
(the letter naming them delivered, or the assignment marked informed). A handful of queries, no per-row ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, aliased

from casework.case_manager import Assignment
from casework.client import Client, identity_code_of
from casework.client_case import ClientCase, ClosureReason
from casework.identity_code import IdentityCodeKeys, parse
from casework.letter.records import NAMES_CASE_MANAGER, Letter
from casework.teams import Team
from casework.users import StaffUser
from engine.clock import aware
from engine.models import Case, Task, TaskStatus


@dataclass(frozen=True)
class CaseManagerInfo:
    user_id: str
    name: str
    title: str | None
    phone: str | None
    email: str | None
    since: datetime
    client_informed_at: datetime | None  # the client was sent this case manager's name and contact
    handover_confirmed: bool  # both the old and the new case manager confirmed the handover (or no handover)


@dataclass(frozen=True)
class LetterInfo:
    """The newest letter that names the case manager: when it was written and when it reached the client."""

    title: str
    created_at: datetime
    delivered_at: datetime | None
    delivered_how: str | None
    delivery: str


@dataclass(frozen=True)
class CurrentStep:
    element_id: str
    name: str | None
    assignee: str | None
    assignee_name: str | None
    since: datetime | None
    due: datetime | None
    task_id: str | None = None  # a human task's id (its page); None: a timer or message the case waits for
    kind: str = "task"  # task | timer


@dataclass
class CaseSummary:
    case_id: str
    business_key: str
    process_status: str  # the engine case: active, suspended, completed, cancelled
    opened_at: datetime
    status: str | None = None  # the casework record: open or closed (None: no client record yet)
    closed_at: datetime | None = None
    closure_reason: ClosureReason | None = None
    client_id: str | None = None
    client_name: str | None = None
    client_age: int | None = None
    client_language: str | None = None
    municipality: str | None = None
    client_phone: str | None = None
    client_email: str | None = None
    team: str | None = None
    needs_case_manager: bool | None = None
    change_requested_at: datetime | None = None
    case_manager: CaseManagerInfo | None = None
    letter: LetterInfo | None = None
    steps: list[CurrentStep] = field(default_factory=list)

    @property
    def client_told(self) -> datetime | None:
        """When the client was told who their current case manager is (None: not yet, as far as we know)."""
        if self.case_manager is None:
            return None
        if self.case_manager.client_informed_at is not None:
            return self.case_manager.client_informed_at
        return self.letter.delivered_at if self.letter is not None else None

    def as_json(self) -> dict[str, Any]:
        """The summary as the JSON API gives it (times in ISO 8601, UTC)."""
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        manager = self.case_manager
        return {
            "caseId": self.case_id, "businessKey": self.business_key, "processStatus": self.process_status,
            "status": self.status, "openedAt": iso(self.opened_at), "closedAt": iso(self.closed_at),
            "closureReason": self.closure_reason.value if self.closure_reason else None, "team": self.team,
            "client": None if self.client_id is None else {
                "name": self.client_name, "age": self.client_age, "language": self.client_language,
                "municipality": self.municipality, "phone": self.client_phone, "email": self.client_email},
            "caseManager": None if manager is None else {
                "userId": manager.user_id, "name": manager.name, "title": manager.title, "phone": manager.phone,
                "email": manager.email, "since": iso(manager.since),
                "clientInformedAt": iso(manager.client_informed_at),
                "handoverConfirmed": manager.handover_confirmed},
            "clientToldAt": iso(self.client_told),
            "changeRequestedAt": iso(self.change_requested_at),
            "letter": None if self.letter is None else {
                "title": self.letter.title, "createdAt": iso(self.letter.created_at),
                "deliveredAt": iso(self.letter.delivered_at), "deliveredHow": self.letter.delivered_how,
                "delivery": self.letter.delivery},
            "currentSteps": [{"elementId": s.element_id, "name": s.name, "kind": s.kind, "assignee": s.assignee,
                              "assigneeName": s.assignee_name, "since": iso(s.since), "due": iso(s.due),
                              "taskId": s.task_id} for s in self.steps],
        }


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def client_age(keys: IdentityCodeKeys | None, client: Client, today: date) -> int | None:
    """The client's age from the birth date in their sealed identity code (the caller logs the case access);
    None without the key, or for a code sealed under another key."""
    if keys is None:
        return None
    try:
        return age_on(parse(identity_code_of(keys, client)).birth_date, today)
    except Exception:  # noqa: BLE001 - another key, a damaged ciphertext: the age is just not known
        return None


def case_summary(session: Session, case_id: str, now: datetime, keys: IdentityCodeKeys | None) -> CaseSummary:
    """The header of the case page of `case_id` (the caller has opened the case: access checked and logged)."""
    case = session.execute(select(Case.business_key, Case.status, Case.created_at, Case.waiting)
                           .where(Case.id == case_id)).one()
    summary = CaseSummary(case_id=case_id, business_key=case.business_key or case_id,
                          process_status=case.status.value, opened_at=aware(case.created_at) or now)
    manager = aliased(Assignment)
    found = session.execute(select(ClientCase, Client, Team.name, manager, StaffUser.title, StaffUser.phone,
                                   StaffUser.email)
                            .join(Client, Client.id == ClientCase.client_id)
                            .outerjoin(Team, Team.id == ClientCase.team_id)
                            .outerjoin(manager, and_(manager.case_id == ClientCase.case_id, manager.to_at.is_(None)))
                            .outerjoin(StaffUser, StaffUser.id == manager.user_id)
                            .where(ClientCase.case_id == case_id)).first()  # one query for the whole head
    if found is not None:
        record, client, team, current, title, phone, email = found
        summary.status, summary.closed_at, summary.closure_reason = record.status.value, record.closed_at, \
            record.closure_reason
        summary.opened_at = record.opened_at
        summary.needs_case_manager, summary.change_requested_at = record.needs_case_manager, \
            record.change_requested_at
        summary.team = team
        summary.client_id, summary.client_name = client.id, client.name
        summary.client_language, summary.municipality = client.language.value, client.municipality
        summary.client_phone, summary.client_email = client.phone, client.email
        summary.client_age = client_age(keys, client, now.date())
        if current is not None:
            summary.case_manager = _case_manager(current, title, phone, email)
            summary.letter = _letter(session, case_id, current.user_id)
    summary.steps = _steps(session, case_id, case.waiting or [])
    return summary


def _case_manager(current: Assignment, title: str | None, phone: str | None, email: str | None) -> CaseManagerInfo:
    """The current assignment with the person's contact as it is now (title as it was if none now)."""
    first = current.reason.value == "initial"
    confirmed = first or (current.handover_confirmed_by_old_at is not None
                          and current.handover_confirmed_by_new_at is not None)
    return CaseManagerInfo(current.user_id, current.user_name, title or current.user_title, phone, email,
                           current.from_at, current.client_informed_at, confirmed)


def _letter(session: Session, case_id: str, manager_id: str) -> LetterInfo | None:
    """The newest letter naming the current case manager (a letter about a former one does not count)."""
    kinds = sorted(NAMES_CASE_MANAGER, key=lambda k: k.value)
    row = session.execute(select(Letter.title, Letter.created_at, Letter.delivered_at, Letter.delivered_how,
                                 Letter.delivery)
                          .where(Letter.case_id == case_id, Letter.kind.in_(kinds),
                                 Letter.case_manager_id == manager_id)
                          .order_by(Letter.created_at.desc(), Letter.id.desc()).limit(1)).first()
    if row is None:
        return None
    return LetterInfo(row.title, row.created_at, row.delivered_at,
                      row.delivered_how.value if row.delivered_how else None, row.delivery.value)


def _steps(session: Session, case_id: str, waiting: list[dict[str, Any]]) -> list[CurrentStep]:
    """Open human tasks (with their assignee's name) and the timers the case waits for, with their due times.

    Messages the case could receive (a network meeting called, a change of case manager asked...) are not
    listed: most wait the whole case long; the diagram shows them."""
    rows = session.execute(select(Task.id, Task.element_id, Task.name, Task.assignee, Task.created_at, Task.due,
                                  StaffUser.name).outerjoin(StaffUser, StaffUser.id == Task.assignee)
                           .where(Task.case_id == case_id, Task.status == TaskStatus.OPEN)
                           .order_by(Task.created_at, Task.id)).all()
    steps = [CurrentStep(r.element_id, r.name, r.assignee, r[6], aware(r.created_at), aware(r.due), r.id)
             for r in rows]
    for item in waiting:
        if item.get("kind") != "timer":
            continue
        due = item.get("due")
        try:
            due_at = aware(datetime.fromisoformat(due)) if isinstance(due, str) else None
        except ValueError:
            due_at = None
        steps.append(CurrentStep(str(item.get("id")), item.get("name"), None, None, None, due_at, kind="timer"))
    return steps
