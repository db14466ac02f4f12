"""The `record-plan` topic: the plan the case manager made with the client becomes the next plan version.

The plan task's form gives the goals and the client's tasks as text (one per line) and the follow-up
interval; the planned services come as a list `services` (from the plan page or the API), each
`{"serviceType", "provider", "partnerId", "responsible", "startDue", "description"}`. The output
`plannedServices` names the services the process coordinates next: on a revision only the new ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from dateutil.relativedelta import relativedelta

from casework.errors import CaseworkError
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
    save_plan,
)
from workers.handler import Failure, JobContext, handler
from workers.variables import as_date, required, text

TOPIC = "record-plan"
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
    draft = plan_draft(variables, case_manager, now.date())
    try:
        with svc.db.transaction() as session:
            previous = current_plan(session, ctx.case_id)
            plan = save_plan(session, ctx.case_id, draft, by=case_manager, at=now, key=f"job:{ctx.id}",
                             reason=text(variables.get("revisionReason")) or (
                                 "seurannan tarkistus" if previous is not None else None))
            before = [v for v in plan_versions(session, ctx.case_id) if v.version == plan.version - 1]
            new_services = [str(item.id) for item in _new_services(plan, before[0] if before else None)]
            return {"planVersion": plan.version, "plannedServices": new_services}
    except CaseworkError as err:  # an incomplete plan: the case manager must complete it
        raise Failure(f"{TOPIC}: {err}", retries=0) from err


def plan_draft(variables: Mapping[str, Any], case_manager: str, today: date) -> PlanDraft:
    """The draft the variables describe; missing dates default to the next follow-up."""
    interval = text(variables.get("followUpInterval")) or "P3M"
    if interval not in INTERVAL_MONTHS:
        raise Failure(f"{TOPIC}: unknown followUpInterval {interval!r}", retries=0)
    months = INTERVAL_MONTHS[interval]
    follow_up = today + relativedelta(months=months)
    goals = [Goal(str(variables.get("mainGoal") or ""), as_date(variables.get("mainGoalDate")) or follow_up,
                  case_manager, main=True)]
    goals += [Goal(line, follow_up, case_manager) for line in _lines(variables.get("intermediateGoals"))]
    tasks = [ClientTask(line, as_date(variables.get("nextMeeting")) or follow_up)
             for line in _lines(variables.get("clientTasks"))]
    services = [_service(n, s) for n, s in enumerate(variables.get("services") or [], 1)]
    situation = {k: variables[k] for k in STARTING_SITUATION if variables.get(k) not in (None, "")}
    return PlanDraft(goals=goals, services=services, client_tasks=tasks, follow_up_months=months,
                     starting_situation=situation, client_view=str(variables.get("clientView") or ""),
                     division_of_labour=str(variables.get("divisionOfLabour") or ""),
                     next_meeting=as_date(variables.get("nextMeeting")))


def _lines(value: object) -> list[str]:
    return [line.strip(" -•\t") for line in str(value or "").splitlines() if line.strip(" -•\t")]


def _service(n: int, raw: object) -> PlannedService:
    if not isinstance(raw, Mapping):
        raise Failure(f"{TOPIC}: service {n} is not an object with serviceType, provider, responsible, startDue",
                      retries=0)
    try:
        service_type = ServiceType(str(raw.get("serviceType") or "other"))
    except ValueError:
        raise Failure(f"{TOPIC}: service {n}: unknown serviceType {raw.get('serviceType')!r}", retries=0) from None
    partner = raw.get("partnerId")
    return PlannedService(service_type=service_type, provider_organisation=str(raw.get("provider") or ""),
                          responsible=text(raw.get("responsible")), start_due=as_date(raw.get("startDue")),
                          partner_id=int(partner) if partner not in (None, "") else None,
                          description=str(raw.get("description") or ""))


def _new_services(plan: PlanVersion, previous: PlanVersion | None) -> Iterable[Any]:
    """The plan's services that the previous version did not have (same type, provider and partner)."""
    def same(item: Any) -> tuple[Any, ...]:
        return item.service_type, item.provider_organisation, item.partner_id

    before = {same(i) for i in (previous.items if previous is not None else []) if i.kind is ItemKind.SERVICE}
    return [i for i in plan.items if i.kind is ItemKind.SERVICE and same(i) not in before]

