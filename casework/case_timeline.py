"""Everything that happened in a case, as one chronological list: the case page's timeline and its JSON twin.

Process steps (the engine's history, called service coordination included: it runs in the case), human
tasks done and by whom, task assignments, notes, letters, referrals to partners and their answers, changes
of case manager and the client's consents. One query per kind (about ten per page, however long the case),
then one for the names of the people named. Entries carry codes and names, not sentences: the page says
them in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.case_manager import Assignment
from casework.case_notes import CaseNote
from casework.client_case import ClientCase
from casework.consent import Consent
from casework.letter.records import Letter
from casework.network import NetworkPartner
from casework.plan import PlanItem, PlanVersion
from casework.service_referral import ReferralAnswer, ServiceReferral
from casework.users import StaffUser
from engine.clock import aware
from engine.models import HistoryEvent, Task, TaskEvent, TaskStatus

# Steps worth telling a person about (gateways, flows and plain start/end events are not); human tasks come
# from the task rows, which say who completed them.
STEP_TYPES = ("ServiceTask", "ExternalTask", "CallActivity", "BusinessRuleTask", "ScriptTask", "SendTask",
              "ReceiveTask", "IntermediateCatchEvent", "IntermediateThrowEvent", "BoundaryEvent", "SubWorkflowTask",
              "Subprocess", "EndEvent", "StartEvent", "MessageEventDefinition")
TASK_EVENT_KINDS = ("assign", "delegate", "reassign", "claim", "unclaim", "resolve", "dates")


class Kind:
    """The kinds of timeline entries (strings, so that JSON and templates use them as they are)."""

    STEP = "step"  # a process step ended (engine history)
    TASK = "task"  # a human task completed, by whom
    TASK_EVENT = "task_event"  # a task claimed, assigned, delegated...
    PLAN = "plan"  # a plan version saved
    NOTE = "note"
    LETTER = "letter"  # a letter written (and delivered)
    REFERRAL = "referral"  # a planned service referred to a partner (or blocked for lack of consent)
    ANSWER = "answer"  # a partner's answer
    CASE_MANAGER = "case_manager"  # a case manager named
    CONSENT = "consent"  # a consent given
    CONSENT_REVOKED = "consent_revoked"
    OPENED = "opened"
    CLOSED = "closed"


@dataclass(frozen=True)
class Entry:
    """One thing that happened: when, what kind, what (`subject`: a step's id, a letter's title...), who."""

    at: datetime
    kind: str
    subject: str | None = None
    name: str | None = None  # a step's name as the diagram has it; a partner organisation; a plan version
    actor: str | None = None  # a staff user id (or "polku")
    actor_name: str | None = None
    text: str | None = None  # a note's text, a partner's outcome, a reason
    state: str | None = None  # a status, an answer, a visibility, a delivery
    data: dict[str, Any] = field(default_factory=dict)
    order: int = 0  # ties at the same time: in the order the case saw them

    def as_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "kind": self.kind, "subject": self.subject, "name": self.name,
                "actor": self.actor, "actorName": self.actor_name, "text": self.text, "state": self.state,
                **({"data": self.data} if self.data else {})}


def case_timeline(session: Session, case_id: str, *, include_steps: bool = True) -> list[Entry]:
    """The case's timeline, oldest first (the caller has opened the case: access checked and logged)."""
    entries: list[Entry] = []
    record = session.get(ClientCase, case_id)
    if record is not None:
        entries.append(Entry(record.opened_at, Kind.OPENED, actor=None, text=record.referrer, order=-1))
        if record.closed_at is not None:
            entries.append(Entry(record.closed_at, Kind.CLOSED,
                                 state=record.closure_reason.value if record.closure_reason else None,
                                 text=record.summary, order=99))
    if include_steps:
        entries += _steps(session, case_id)
    entries += _tasks(session, case_id)
    entries += _plans(session, case_id)
    entries += _notes(session, case_id)
    entries += _letters(session, case_id)
    entries += _referrals(session, case_id)
    entries += _case_managers(session, case_id)
    if record is not None:
        entries += _consents(session, record.client_id)
    _name_people(session, entries)
    entries = [e if e.at.tzinfo is not None else _with(e, at=aware(e.at)) for e in entries]
    entries.sort(key=lambda e: (e.at, e.order))  # stable: the same kind keeps its query order
    return entries


def _with(entry: Entry, **changes: Any) -> Entry:
    return replace(entry, **changes)


def _steps(session: Session, case_id: str) -> list[Entry]:
    rows = session.execute(select(HistoryEvent.element_id, HistoryEvent.element_name, HistoryEvent.element_type,
                                  HistoryEvent.state, HistoryEvent.ended_at, HistoryEvent.actor, HistoryEvent.id)
                           .where(HistoryEvent.case_id == case_id, HistoryEvent.ended_at.is_not(None),
                                  HistoryEvent.state != "cancelled",  # a boundary timer the case left unfired
                                  HistoryEvent.element_type.in_(STEP_TYPES))
                           .order_by(HistoryEvent.ended_at, HistoryEvent.ended_seq, HistoryEvent.id)).all()
    return [Entry(aware(r.ended_at), Kind.STEP, r.element_id, r.element_name, r.actor, state=r.state,
                  data={"type": r.element_type}, order=1) for r in rows if r.ended_at is not None]


def _tasks(session: Session, case_id: str) -> list[Entry]:
    done = session.execute(select(Task.id, Task.element_id, Task.name, Task.completed_at, Task.completed_by)
                           .where(Task.case_id == case_id, Task.status == TaskStatus.COMPLETED,
                                  Task.completed_at.is_not(None))).all()
    names = {r.id: (r.element_id, r.name) for r in done}
    out = [Entry(aware(r.completed_at), Kind.TASK, r.element_id, r.name, r.completed_by, state="completed",
                 data={"taskId": r.id}, order=3) for r in done]  # after its claim at the same moment
    events = session.execute(select(TaskEvent.task_id, TaskEvent.kind, TaskEvent.actor, TaskEvent.from_value,
                                    TaskEvent.to_value, TaskEvent.reason, TaskEvent.at, Task.element_id, Task.name)
                             .join(Task, Task.id == TaskEvent.task_id)
                             .where(TaskEvent.case_id == case_id, TaskEvent.kind.in_(TASK_EVENT_KINDS))).all()
    for e in events:
        element, name = names.get(e.task_id, (e.element_id, e.name))
        out.append(Entry(aware(e.at), Kind.TASK_EVENT, element, name, e.actor, text=e.reason, state=e.kind,
                         data={"taskId": e.task_id, "from": e.from_value, "to": e.to_value}, order=2))
    return out


def _plans(session: Session, case_id: str) -> list[Entry]:
    rows = session.execute(select(PlanVersion.version, PlanVersion.created_by, PlanVersion.created_at,
                                  PlanVersion.reason).where(PlanVersion.case_id == case_id)).all()
    return [Entry(r.created_at, Kind.PLAN, str(r.version), None, r.created_by, text=r.reason, order=3) for r in rows]


def _notes(session: Session, case_id: str) -> list[Entry]:
    rows = session.execute(select(CaseNote, NetworkPartner.organisation)
                           .outerjoin(NetworkPartner, NetworkPartner.id == CaseNote.partner_id)
                           .where(CaseNote.case_id == case_id)).all()
    return [Entry(n.created_at, Kind.NOTE, str(n.id), organisation, n.author_id, n.author_name, n.text,
                  n.visibility.value, order=4) for n, organisation in rows]


def _letters(session: Session, case_id: str) -> list[Entry]:
    rows = session.execute(select(Letter.id, Letter.kind, Letter.title, Letter.created_at, Letter.delivery,
                                  Letter.delivered_at, Letter.delivered_how, Letter.delivered_by)
                           .where(Letter.case_id == case_id)).all()
    out: list[Entry] = []
    for r in rows:
        out.append(Entry(r.created_at, Kind.LETTER, r.kind.value, r.title, state=r.delivery.value,
                         data={"letterId": r.id, "event": "written"}, order=5))
        if r.delivered_at is not None:
            out.append(Entry(r.delivered_at, Kind.LETTER, r.kind.value, r.title, r.delivered_by,
                             state=r.delivered_how.value if r.delivered_how else "delivered",
                             data={"letterId": r.id, "event": "delivered"}, order=5))
    return out


def _referrals(session: Session, case_id: str) -> list[Entry]:
    rows = session.execute(select(ServiceReferral, PlanItem.service_type, PlanItem.text,
                                  PlanItem.provider_organisation, NetworkPartner.organisation)
                           .join(PlanItem, PlanItem.id == ServiceReferral.plan_item_id)
                           .outerjoin(NetworkPartner, NetworkPartner.id == ServiceReferral.partner_id)
                           .where(ServiceReferral.case_id == case_id)).all()
    out: list[Entry] = []
    services: dict[int, tuple[str | None, str | None]] = {}
    for row, service_type, text, provider, organisation in rows:
        kind = service_type.value if service_type is not None else None
        who = organisation or provider
        services[row.plan_item_id] = (kind, who)
        if row.referred_at is not None:
            out.append(Entry(row.referred_at, Kind.REFERRAL, kind, who, row.referred_by, text=text,
                             state="requested", data={"serviceId": row.plan_item_id}, order=6))
        elif row.outcome_at is not None and row.outcome is not None:  # never sent: no consent
            out.append(Entry(row.outcome_at, Kind.REFERRAL, kind, who, text=text, state=row.outcome.value,
                             data={"serviceId": row.plan_item_id}, order=6))
    answers = session.execute(select(ReferralAnswer).join(ServiceReferral, ServiceReferral.plan_item_id
                                                          == ReferralAnswer.plan_item_id)
                              .where(ServiceReferral.case_id == case_id)).scalars().all()
    for a in answers:
        kind, who = services.get(a.plan_item_id, (None, None))
        out.append(Entry(a.answered_at, Kind.ANSWER, kind, who, a.answered_by, text=a.outcome_text,
                         state=a.answer.value, data={"serviceId": a.plan_item_id}, order=7))
    return out


def _case_managers(session: Session, case_id: str) -> list[Entry]:
    rows = session.scalars(select(Assignment).where(Assignment.case_id == case_id)).all()
    return [Entry(a.from_at, Kind.CASE_MANAGER, a.user_id, a.user_name, a.assigned_by, text=a.note,
                  state=a.reason.value, data={"title": a.user_title} if a.user_title else {}, order=8) for a in rows]


def _consents(session: Session, client_id: str) -> list[Entry]:
    rows = session.execute(select(Consent, NetworkPartner.organisation)
                           .join(NetworkPartner, NetworkPartner.id == Consent.partner_id)
                           .where(Consent.client_id == client_id)).all()
    out: list[Entry] = []
    for c, organisation in rows:
        out.append(Entry(c.given_at, Kind.CONSENT, str(c.id), organisation, c.recorded_by, text=c.scope,
                         state=c.method.value if c.method else None, order=9))
        if c.revoked_at is not None:
            out.append(Entry(c.revoked_at, Kind.CONSENT_REVOKED, str(c.id), organisation, c.revoked_by,
                             text=c.scope, order=9))
    return out


def _name_people(session: Session, entries: list[Entry]) -> None:
    """Staff names for the actors named by id, in one query (an actor who is not staff keeps their id)."""
    ids = sorted({e.actor for e in entries if e.actor and e.actor_name is None}
                 | {str(e.data["to"]) for e in entries if e.kind == Kind.TASK_EVENT and e.data.get("to")})
    if not ids:
        return
    names = dict(session.execute(select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_(ids))).all())
    for i, e in enumerate(entries):
        if e.kind == Kind.TASK_EVENT and e.data.get("to") in names:
            e = _with(e, data={**e.data, "toName": names[e.data["to"]]})
        if e.actor and e.actor_name is None and e.actor in names:
            e = _with(e, actor_name=names[e.actor])
        entries[i] = e
