"""The `record-plan` topic: the plan the case manager made with the client becomes the next plan version.

The plan task's form gives the goals and the client's tasks as text (one per line) and the follow-up
interval; the planned services come as a list `services` or `plannedServices` (the plan form's repeating
list, the plan page or the API), each `{"serviceType", "provider", "partnerId", "responsible", "startDue",
"consentToShare", "description"}` (also `type`, `providerOrganisation`, `responsiblePerson`), or as the ids
of services already in the case's plan, which are carried over. A service without a start due date is due
in DEFAULT_START_DUE_DAYS. The output `plannedServices` names the services the process coordinates next
(ids): on a revision only the new ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy.orm import Session

from casework.errors import CaseworkError, NotFound
from casework.plan import (
    ClientTask,
    Goal,
    ItemKind,
    PlanDraft,
    PlannedService,
    PlanVersion,
    ServiceType,
    current_plan,
    plan_versions,
    same_service,
    save_plan,
)
from casework.service_referral import planned_service
from workers.handler import Failure, JobContext, handler
from workers.variables import as_date, required, text

TOPIC = "record-plan"
DEFAULT_START_DUE_DAYS = 30
INTERVAL_MONTHS = {"P1M": 1, "P2M": 2, "P3M": 3, "P4M": 4, "P6M": 6}
# What the needs mapping found, kept with the plan as its starting situation.
STARTING_SITUATION = ("physicalRating", "physicalNotes", "psychologicalRating", "psychologicalNotes", "socialRating",
                      "socialNotes", "cognitiveRating", "cognitiveNotes", "existingServices", "strengths",
                      "challenges", "motivation")


@handler(TOPIC)
def record_plan(ctx: JobContext) -> Mapping[str, Any]:
    svc = ctx.need_services()
    variables = ctx.variables
    case_manager = required(variables, "caseManager", TOPIC)
    now = svc.clock()
    try:
        with svc.db.transaction() as session:
            draft = plan_draft(variables, case_manager, now.date(), carried=lambda ref: _carried(session, ctx, ref))
            previous = current_plan(session, ctx.case_id)
            plan = save_plan(session, ctx.case_id, draft, by=case_manager, at=now, key=f"job:{ctx.id}",
                             reason=text(variables.get("revisionReason")) or (
                                 "seurannan tarkistus" if previous is not None else None))
            before = [v for v in plan_versions(session, ctx.case_id) if v.version == plan.version - 1]
            new_services = [str(item.id) for item in _new_services(plan, before[0] if before else None)]
            return {"planVersion": plan.version, "plannedServices": new_services}
    except CaseworkError as err:  # an incomplete plan: the case manager must complete it
        raise Failure(f"{TOPIC}: {err}", retries=0) from err


def plan_draft(variables: Mapping[str, Any], case_manager: str, today: date,
               carried: Callable[[str], PlannedService] | None = None) -> PlanDraft:
    """The draft the variables describe; missing dates default to the next follow-up (a service's start due
    date to DEFAULT_START_DUE_DAYS from today). `carried` turns a service id into the service it names."""
    interval = text(variables.get("followUpInterval")) or "P3M"
    if interval not in INTERVAL_MONTHS:
        raise Failure(f"{TOPIC}: unknown followUpInterval {interval!r}", retries=0)
    months = INTERVAL_MONTHS[interval]
    follow_up = today + relativedelta(months=months)
    goals = [Goal(str(variables.get("mainGoal") or ""), as_date(variables.get("mainGoalDate")) or follow_up,
                  case_manager, main=True)]
    goals += [Goal(line, as_date(when) or follow_up, case_manager)
              for line, when in _entries(variables.get("intermediateGoals"), "goal", "targetDate")]
    tasks = [ClientTask(line, as_date(when) or as_date(variables.get("nextMeeting")) or follow_up)
             for line, when in _entries(variables.get("clientTasks"), "task", "due")]
    listed = variables.get("services") or variables.get("plannedServices") or []
    if not isinstance(listed, list):
        raise Failure(f"{TOPIC}: the planned services must be a list, not {type(listed).__name__}", retries=0)
    services = [_service(n, s, today) if isinstance(s, Mapping) or carried is None else carried(str(s))
                for n, s in enumerate(listed, 1)]
    situation = {k: variables[k] for k in STARTING_SITUATION if variables.get(k) not in (None, "")}
    return PlanDraft(goals=goals, services=services, client_tasks=tasks, follow_up_months=months,
                     starting_situation=situation, client_view=str(variables.get("clientView") or ""),
                     division_of_labour=str(variables.get("divisionOfLabour") or ""),
                     next_meeting=as_date(variables.get("nextMeeting")))


def _lines(value: object) -> list[str]:
    return [line.strip(" -•\t") for line in str(value or "").splitlines() if line.strip(" -•\t")]


def _entries(value: object, text_key: str, date_key: str) -> list[tuple[str, Any]]:
    """(text, date) pairs: the rows of the plan form's dynamic list (bpmn/forms/plan.form), or text one per line."""
    if isinstance(value, list):
        return [(str(row.get(text_key) or "").strip(), row.get(date_key)) for row in value
                if isinstance(row, Mapping) and str(row.get(text_key) or "").strip()]
    return [(line, None) for line in _lines(value)]


def _first(raw: Mapping[str, Any], *names: str) -> Any:
    return next((raw[n] for n in names if raw.get(n) not in (None, "")), None)


def _service(n: int, raw: object, today: date) -> PlannedService:
    if not isinstance(raw, Mapping):
        raise Failure(f"{TOPIC}: service {n} is not an object with serviceType, provider, responsible, startDue",
                      retries=0)
    kind = _first(raw, "serviceType", "type") or "other"
    try:
        service_type = ServiceType(str(kind))
    except ValueError:
        raise Failure(f"{TOPIC}: service {n}: unknown serviceType {kind!r}", retries=0) from None
    partner = _first(raw, "partnerId", "providerId")
    try:
        partner_id = int(partner) if partner is not None else None
    except (TypeError, ValueError):
        raise Failure(f"{TOPIC}: service {n}: partnerId {partner!r} is not a network partner's id", retries=0) from None
    consent = raw.get("consentToShare")
    return PlannedService(service_type=service_type,
                          provider_organisation=str(_first(raw, "provider", "providerOrganisation") or ""),
                          responsible=text(_first(raw, "responsible", "responsiblePerson")),
                          start_due=as_date(raw.get("startDue")) or today + timedelta(days=DEFAULT_START_DUE_DAYS),
                          partner_id=partner_id, description=str(raw.get("description") or ""),
                          consent_to_share=consent if isinstance(consent, bool) else None)


def _carried(session: Session, ctx: JobContext, service_id: str) -> PlannedService:
    """A service already in the case's plan, named by its id, as the next version keeps it."""
    try:
        item = planned_service(session, ctx.case_id, service_id)
    except NotFound as err:
        raise Failure(f"{TOPIC}: {err}", retries=0) from err
    return PlannedService(service_type=item.service_type or ServiceType.OTHER,
                          provider_organisation=item.provider_organisation or "", responsible=item.responsible,
                          start_due=item.due, partner_id=item.partner_id, description=item.text,
                          consent_to_share=item.consent_to_share)


def _new_services(plan: PlanVersion, previous: PlanVersion | None) -> Iterable[Any]:
    """The plan's services that the previous version did not have (same type, provider and partner)."""
    before = {same_service(i) for i in (previous.items if previous is not None else [])
              if i.kind is ItemKind.SERVICE}
    return [i for i in plan.items if i.kind is ItemKind.SERVICE and same_service(i) not in before]

