"""The case at a glance beside a task's form: whose case, who manages it, where it stands, what happened last.

So that the person doing a step does not switch pages. Casework has no notes yet, so "what happened
last" is the case's last steps from the engine's history (who did what, when).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.case_manager import current_case_manager
from casework.client import get_client, identity_code_of
from casework.client_case import ClientCase
from casework.identity_code import IdentityCodeKeys, parse
from casework.users import StaffUser
from engine.clock import aware
from engine.models import HistoryEvent, Task, TaskStatus
from webapp import bpmn_texts

RECENT = 5
# Element types worth telling a person about (gateways, flows and plain start/end events are not)
_TOLD = ("UserTask", "ServiceTask", "ExternalTask", "CallActivity", "BusinessRuleTask", "ScriptTask", "Task",
         "ManualTask", "SendTask", "ReceiveTask", "IntermediateCatchEvent", "BoundaryEvent", "Subprocess")


@dataclass(frozen=True)
class Step:
    name: str
    assignee: str | None = None
    due: datetime | None = None
    since: datetime | None = None


@dataclass(frozen=True)
class Event:
    name: str
    at: datetime | None
    actor: str | None


@dataclass
class CaseGlance:
    business_key: str | None
    client_name: str | None = None
    client_age: int | None = None
    client_language: str | None = None
    municipality: str | None = None
    case_manager: str | None = None
    case_manager_since: datetime | None = None
    steps: list[Step] = field(default_factory=list)
    waiting: list[Step] = field(default_factory=list)  # timers and messages the case waits for
    recent: list[Event] = field(default_factory=list)

    @property
    def has_client(self) -> bool:
        return self.client_name is not None


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _names(session: Session, user_ids: set[str]) -> dict[str, str]:
    if not user_ids:
        return {}
    return dict(session.execute(select(StaffUser.id, StaffUser.name).where(StaffUser.id.in_(sorted(user_ids)))).all())


def case_glance(session: Session, case: dict[str, Any], now: datetime, keys: IdentityCodeKeys | None) -> CaseGlance:
    """Everything the panel shows of the engine case `case` (as `Engine.case` gives it)."""
    case_id = case["id"]
    glance = CaseGlance(business_key=case.get("businessKey"))
    record = session.get(ClientCase, case_id)
    if record is not None:
        client = get_client(session, record.client_id)
        glance.client_name = client.name
        glance.client_language = client.language.value
        glance.municipality = client.municipality
        if keys is not None:
            try:
                glance.client_age = age_on(parse(identity_code_of(keys, client)).birth_date, now.date())
            except Exception:  # noqa: BLE001 - a code sealed under another key: the age is just not known
                glance.client_age = None
        manager = current_case_manager(session, case_id)
        if manager is not None:
            glance.case_manager, glance.case_manager_since = manager.user_name, manager.from_at
    tasks = list(session.scalars(select(Task).where(Task.case_id == case_id, Task.status == TaskStatus.OPEN)
                                 .order_by(Task.created_at)))
    events = list(session.scalars(select(HistoryEvent).where(HistoryEvent.case_id == case_id,
                                                             HistoryEvent.ended_at.is_not(None),
                                                             HistoryEvent.element_type.in_(_TOLD))
                                  .order_by(HistoryEvent.ended_at.desc(), HistoryEvent.id.desc()).limit(RECENT)))
    names = _names(session, {t.assignee for t in tasks if t.assignee} | {e.actor for e in events if e.actor})
    glance.steps = [Step(bpmn_texts.element_name(t.element_id, t.name), names.get(t.assignee or "", t.assignee),
                         aware(t.due), aware(t.created_at)) for t in tasks]
    for item in case.get("waiting") or []:
        if item.get("kind") in ("timer", "message", "receiveTask", "signal"):
            due = item.get("due")
            glance.waiting.append(Step(bpmn_texts.element_name(str(item.get("id")), item.get("name")),
                                       due=aware(datetime.fromisoformat(due)) if isinstance(due, str) else None))
    glance.recent = [Event(bpmn_texts.element_name(e.element_id, e.element_name), aware(e.ended_at),
                           names.get(e.actor or "", e.actor)) for e in events]
    return glance
