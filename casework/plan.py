"""Work ability support plans (työkyvyn tuen suunnitelma) and their versions.

A revision saves a new version; old versions are never changed. Every item (goal, planned service,
the client's own task) has a responsible actor and a date, so nothing in the plan is owned by nobody.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from casework.client_case import CaseStatus, get_case
from casework.errors import CaseworkError, Refused
from casework.models import CaseworkBase, UtcDateTime, enum_type

DEFAULT_FOLLOW_UP_MONTHS = 3
MAX_FOLLOW_UP_MONTHS = 6  # the old TYP rule: follow up at least every six months


class ItemKind(enum.Enum):
    MAIN_GOAL = "main_goal"
    GOAL = "goal"
    SERVICE = "service"
    CLIENT_TASK = "client_task"


class ServiceType(enum.Enum):
    HEALTH_CHECK = "health_check"
    WORK_ABILITY_ASSESSMENT = "work_ability_assessment"
    VOCATIONAL_REHABILITATION = "vocational_rehabilitation"
    REHABILITATIVE_WORK_ACTIVITY = "rehabilitative_work_activity"
    WORK_TRIAL = "work_trial"
    JOB_COACH = "job_coach"
    SUPPORTED_EMPLOYMENT = "supported_employment"
    MENTAL_HEALTH = "mental_health"
    SUBSTANCE_ABUSE = "substance_abuse"
    SOCIAL_WORK = "social_work"
    EDUCATION = "education"
    DEBT_COUNSELLING = "debt_counselling"
    NGO_ACTIVITY = "ngo_activity"
    OTHER = "other"


class IncompletePlan(CaseworkError):
    """Some plan items lack a responsible actor or a date; `problems` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("the plan cannot be saved: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Goal:
    text: str
    target_date: date | None
    responsible: str | None
    main: bool = False


@dataclass(frozen=True)
class PlannedService:
    service_type: ServiceType
    provider_organisation: str
    responsible: str | None  # the responsible person or actor at the provider
    start_due: date | None
    partner_id: int | None = None
    description: str = ""
    consent_to_share: bool | None = None  # the plan's word that the client agrees to share with the provider


@dataclass(frozen=True)
class ClientTask:
    text: str
    due: date | None


@dataclass(frozen=True)
class PlanDraft:
    goals: list[Goal]
    services: list[PlannedService] = field(default_factory=list)
    client_tasks: list[ClientTask] = field(default_factory=list)
    follow_up_months: int = DEFAULT_FOLLOW_UP_MONTHS
    starting_situation: dict[str, Any] = field(default_factory=dict)  # the four dimensions, strengths...
    client_view: str = ""
    division_of_labour: str = ""
    next_meeting: date | None = None


class PlanVersion(CaseworkBase):
    __tablename__ = "plan_version"
    __table_args__ = (UniqueConstraint("case_id", "version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("client_case.case_id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    follow_up_months: Mapped[int] = mapped_column(Integer)
    starting_situation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    client_view: Mapped[str] = mapped_column(Text, default="")
    division_of_labour: Mapped[str] = mapped_column(Text, default="")
    next_meeting: Mapped[date | None] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)  # why this revision was made
    key: Mapped[str | None] = mapped_column(String(200), unique=True)  # the job that saved it, so it saves once
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    items: Mapped[list[PlanItem]] = relationship(order_by="PlanItem.position", lazy="selectin")


class PlanItem(CaseworkBase):
    """A goal, planned service or client task; `responsible` and `due` are required by the schema too."""

    __tablename__ = "plan_item"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_version_id: Mapped[int] = mapped_column(ForeignKey("plan_version.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[ItemKind] = mapped_column(enum_type(ItemKind))
    text: Mapped[str] = mapped_column(Text)
    responsible: Mapped[str] = mapped_column(String(300))
    due: Mapped[date] = mapped_column()  # target date of a goal, start due date of a service, task due
    service_type: Mapped[ServiceType | None] = mapped_column(enum_type(ServiceType))
    provider_organisation: Mapped[str | None] = mapped_column(String(300))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("network_partner.id"))
    # a service: whether the client agreed in the plan to share with the provider (the consent record is
    # still what allows the referral; None for plans made before this was asked)
    consent_to_share: Mapped[bool | None] = mapped_column(Boolean)


CLIENT = "client"  # the responsible actor of the client's own tasks


def _problems(draft: PlanDraft) -> list[str]:
    problems: list[str] = []
    if not any(g.main for g in draft.goals):
        problems.append("the plan needs a main goal")
    for n, goal in enumerate(draft.goals, 1):
        label = f"goal {n} ({goal.text or 'no text'})"
        if not goal.text.strip():
            problems.append(f"goal {n}: the goal has no text")
        if not (goal.responsible or "").strip():
            problems.append(f"{label}: no responsible actor")
        if goal.target_date is None:
            problems.append(f"{label}: no target date")
    for n, service in enumerate(draft.services, 1):
        label = f"service {n} ({service.service_type.value}, {service.provider_organisation or 'no provider'})"
        if not service.provider_organisation.strip():
            problems.append(f"{label}: no provider organisation")
        if not (service.responsible or "").strip():
            problems.append(f"{label}: no responsible person")
        if service.start_due is None:
            problems.append(f"{label}: no start due date")
    for n, task in enumerate(draft.client_tasks, 1):
        if not task.text.strip():
            problems.append(f"client task {n}: the task has no text")
        if task.due is None:
            problems.append(f"client task {n} ({task.text}): no due date")
    if not 1 <= draft.follow_up_months <= MAX_FOLLOW_UP_MONTHS:
        problems.append(f"follow-up interval must be 1-{MAX_FOLLOW_UP_MONTHS} months, got {draft.follow_up_months}")
    return problems


def save_plan(session: Session, case_id: str, draft: PlanDraft, by: str, at: datetime,
              reason: str | None = None, key: str | None = None) -> PlanVersion:
    """Saves the draft as the case's next plan version; refuses it whole if any item is incomplete.

    With `key`, saving again under the same key returns the version already saved (a job run twice).
    """
    if key is not None:
        done = session.scalar(select(PlanVersion).where(PlanVersion.key == key))
        if done is not None:
            return done
    problems = _problems(draft)
    if problems:
        raise IncompletePlan(problems)
    record = get_case(session, case_id, lock=True)  # version numbers are taken one at a time
    if record.status is not CaseStatus.OPEN:
        raise Refused("a closed case's plan cannot be changed")
    latest = session.scalar(select(func.max(PlanVersion.version)).where(PlanVersion.case_id == case_id))
    plan = PlanVersion(case_id=case_id, version=(latest or 0) + 1, follow_up_months=draft.follow_up_months,
                       starting_situation=dict(draft.starting_situation), client_view=draft.client_view,
                       division_of_labour=draft.division_of_labour, next_meeting=draft.next_meeting,
                       reason=reason, created_by=by, created_at=at, key=key)
    session.add(plan)
    session.flush()
    items = [PlanItem(kind=ItemKind.MAIN_GOAL if g.main else ItemKind.GOAL, text=g.text.strip(),
                      responsible=(g.responsible or "").strip(), due=g.target_date) for g in draft.goals]
    items += [PlanItem(kind=ItemKind.SERVICE, text=s.description, responsible=(s.responsible or "").strip(),
                       due=s.start_due, service_type=s.service_type, provider_organisation=s.provider_organisation,
                       partner_id=s.partner_id, consent_to_share=s.consent_to_share) for s in draft.services]
    items += [PlanItem(kind=ItemKind.CLIENT_TASK, text=t.text.strip(), responsible=CLIENT, due=t.due)
              for t in draft.client_tasks]
    for position, item in enumerate(items):
        item.plan_version_id = plan.id
        item.position = position
        session.add(item)
    session.flush()
    session.refresh(plan, ["items"])
    return plan


def same_service(item: PlanItem | PlannedService) -> tuple[object, ...]:
    """What makes two versions' service items the same service: its type, provider and partner."""
    return item.service_type, item.provider_organisation, item.partner_id


def current_plan(session: Session, case_id: str) -> PlanVersion | None:
    query = select(PlanVersion).where(PlanVersion.case_id == case_id).order_by(PlanVersion.version.desc()).limit(1)
    return session.scalar(query)


def plan_versions(session: Session, case_id: str) -> list[PlanVersion]:
    """Every version of the case's plan, oldest first."""
    return list(session.scalars(select(PlanVersion).where(PlanVersion.case_id == case_id)
                                .order_by(PlanVersion.version)))
