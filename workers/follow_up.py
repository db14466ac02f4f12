"""The follow-up loop's system steps: when the next review is due (`follow-up-schedule`), the review kept as
evaluation data (`follow-up-review`), and an early review asked for from inside the case (`review-request`).

Follow-up runs on the plan's schedule from the day the plan is made, beside the service coordination, so a
silent partner never stops it: the next review is on the date the last review agreed (`nextReviewDate`),
otherwise one follow-up interval of the current plan from now.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from casework.errors import CaseworkError
from casework.evaluation import (
    DIMENSIONS,
    GoalProgress,
    InvalidEvaluation,
    KnowsCaseManager,
    Ratings,
    ReviewDecision,
    ReviewInput,
    record_review,
    review_problems,
)
from casework.finnish_time import HELSINKI
from casework.plan import DEFAULT_FOLLOW_UP_MONTHS, MAX_FOLLOW_UP_MONTHS, ItemKind, current_plan
from casework.service_referral import ServiceStatus, service_statuses
from engine.errors import EngineError, NotFound
from engine.models import Task, TaskStatus
from workers.handler import BpmnError, Failure, JobContext, handler
from workers.variables import as_date, text

INTERVAL_MONTHS = {"P1M": 1, "P2M": 2, "P3M": 3, "P4M": 4, "P6M": 6}
REVIEW_TIME = time(8, 0)  # a review agreed for a day is due at the start of that working day
REVIEW_INVALID = "REVIEW_INVALID"
REVIEW_MESSAGE = "reviewRequested"


def next_review_due(now: datetime, next_review_date: date | None, plan_months: int | None,
                    interval: str | None) -> datetime:
    """When the next review falls due: the agreed date if it is still ahead and within six months, else one
    interval of the plan (its version's months, the form's `followUpInterval`, or three months) from now."""
    latest = now + relativedelta(months=MAX_FOLLOW_UP_MONTHS)
    if next_review_date is not None:
        due = datetime.combine(next_review_date, REVIEW_TIME, HELSINKI)
        if now < due <= latest:
            return due
    months = plan_months or INTERVAL_MONTHS.get(interval or "", DEFAULT_FOLLOW_UP_MONTHS)
    return now + relativedelta(months=min(months, MAX_FOLLOW_UP_MONTHS))


@handler("follow-up-schedule")
def schedule_follow_up(ctx: JobContext) -> Mapping[str, Any]:
    """Sets `nextReviewDue` for the follow-up timer."""
    svc = ctx.need_services()
    now = svc.clock()
    with svc.db.read() as session:
        plan = current_plan(session, ctx.case_id)
    due = next_review_due(now, as_date(ctx.variables.get("nextReviewDate")),
                          plan.follow_up_months if plan is not None else None,
                          text(ctx.variables.get("followUpInterval")))
    return {"nextReviewDue": due.isoformat()}


def _json_map(raw: object, what: str, problems: list[str]) -> dict[str, str]:
    """A JSON object given in a text field (or as an object through the API)."""
    if raw in (None, ""):
        return {}
    value = raw
    if isinstance(raw, str):
        try:
            value = json.loads(raw)
        except ValueError:
            problems.append(f"{what} must be a JSON object like {{\"12\": \"ongoing\"}}")
            return {}
    if not isinstance(value, Mapping):
        problems.append(f"{what} must be a JSON object like {{\"12\": \"ongoing\"}}")
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _typed(mapping: dict[str, str], kind: type[Any], what: str, problems: list[str]) -> dict[int, Any]:
    out: dict[int, Any] = {}
    allowed = ", ".join(m.value for m in kind)
    for key, value in mapping.items():
        try:
            item_id = int(key)
        except ValueError:
            problems.append(f"{what}: {key!r} is not an item id")
            continue
        try:
            out[item_id] = kind(value)
        except ValueError:
            problems.append(f"{what} of {item_id}: {value!r} is not one of {allowed}")
    return out


def _rating(variables: Mapping[str, Any], dimension: str, problems: list[str]) -> int:
    raw = variables.get(f"{dimension}Rating")
    if isinstance(raw, bool) or not isinstance(raw, int | str) or not str(raw).strip().lstrip("-").isdigit():
        problems.append(f"{dimension} rating is missing")
        return 0
    return int(raw)


def ratings_of(variables: Mapping[str, Any], problems: list[str]) -> Ratings:
    values = [_rating(variables, d, problems) for d in DIMENSIONS]
    return Ratings(*values)


def completed_by(ctx: JobContext, element_id: str, fallback: str) -> str:
    """Who completed the case's latest `element_id` task (the engine's task record), else `fallback`."""
    svc = ctx.need_services()
    with svc.db.read() as session:
        who = session.scalar(select(Task.completed_by).where(
            Task.case_id == ctx.case_id, Task.element_id == element_id, Task.status == TaskStatus.COMPLETED)
            .order_by(Task.completed_at.desc()).limit(1))
    return who or fallback


def review_input(variables: Mapping[str, Any], main_goal: int | None, referred: Mapping[int, ServiceStatus | None],
                 problems: list[str]) -> ReviewInput | None:
    """The review the form's variables describe; parse problems are added to `problems`."""
    ratings = ratings_of(variables, problems)
    goals = _typed(_json_map(variables.get("goalProgressByGoal"), "goal progress", problems), GoalProgress,
                   "goal progress", problems)
    overall = text(variables.get("goalProgress"))
    if main_goal is not None and overall is not None and main_goal not in goals:
        try:
            goals[main_goal] = GoalProgress(overall)
        except ValueError:
            problems.append(f"main goal progress {overall!r} is not one of not_started, ongoing, reached, dropped")
    services: dict[int, ServiceStatus | None] = dict(referred)
    services.update(_typed(_json_map(variables.get("serviceStatus"), "service status", problems), ServiceStatus,
                           "service status", problems))
    try:
        knows = KnowsCaseManager(text(variables.get("clientKnowsCaseManager")) or "not_asked")
        decision = ReviewDecision(text(variables.get("followUpDecision")) or "")
    except ValueError as err:
        problems.append(str(err))
        return None
    notes = "\n".join(n for n in (text(variables.get("serviceStatusNotes")), text(variables.get("dimensionChanges")))
                      if n)
    next_date = as_date(variables.get("nextReviewDate"))
    if next_date is None and text(variables.get("nextReviewDate")) is not None:
        problems.append("the next review date is not a date")
    return ReviewInput(ratings=ratings, knows_case_manager=knows, decision=decision, next_review_date=next_date,
                       goals=goals, services=services, notes=notes,
                       requested_by=text(variables.get("reviewRequestedBy")))


@handler("follow-up-review")
def record_follow_up_review(ctx: JobContext) -> Mapping[str, Any]:
    """Keeps the review as evaluation data; what the case manager must correct returns to the review task
    (BPMN error REVIEW_INVALID with `reviewProblems`)."""
    svc = ctx.need_services()
    variables = ctx.variables
    by = completed_by(ctx, "follow_up_review", text(variables.get("caseManager")) or "unknown")
    now = svc.clock()
    problems: list[str] = []
    try:
        with svc.db.transaction() as session:
            plan = current_plan(session, ctx.case_id)
            main = next((i.id for i in plan.items if i.kind is ItemKind.MAIN_GOAL), None) if plan else None
            review = review_input(variables, main, service_statuses(session, ctx.case_id), problems)
            if review is not None:
                problems += review_problems(session, ctx.case_id, review, now.date())
            if problems or review is None:
                raise InvalidEvaluation(problems)
            record_review(session, ctx.case_id, review, by=by, at=now, key=f"job:{ctx.id}")
    except InvalidEvaluation as err:
        raise BpmnError(REVIEW_INVALID, str(err), {"reviewProblems": "; ".join(err.problems)}) from err
    except CaseworkError as err:
        raise Failure(f"follow-up-review: {err}", retries=0) from err
    return {"reviewProblems": None, "reviewRequestedBy": None}  # the next review is on schedule unless asked


@handler("review-request")
def request_review(ctx: JobContext) -> Mapping[str, Any]:
    """Asks the case's follow-up loop for a review now (message `reviewRequested`); when a review or a plan
    revision is already under way there is nothing to ask for."""
    svc = ctx.need_services()
    if svc.engine is None:
        raise Failure("review-request: the worker was started without the engine")
    if ctx.business_key is None:
        raise Failure("review-request: the case has no business key", retries=0)
    requested_by = text(ctx.variables.get("requestedBy")) or "consultation"
    try:
        svc.engine.correlate(REVIEW_MESSAGE, business_key=ctx.business_key,
                             variables={"reviewRequestedBy": requested_by})
    except NotFound:  # no review is waiting: one is open already, or the plan is being revised
        return {}
    except EngineError as err:
        raise Failure(f"review-request: {err}") from err
    # also as this job's output: the event subprocess publishes its variables when it ends, after the message
    return {"reviewRequestedBy": requested_by}
