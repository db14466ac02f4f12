"""How a case ends: `record-destination` (no case manager needed: guided to basic services or the own
worker), `closure-evaluation` (the ratings, destination and client feedback at closure, kept for the
evaluation) and `record-closure` (the warm handover at the end of case management)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from casework.client_case import CaseStatus, ClosureReason, get_case, record_decision
from casework.errors import CaseworkError
from casework.evaluation import Feedback, FeedbackResponse, InvalidEvaluation, record_closure_evaluation
from casework.handover import close_case
from workers.follow_up import completed_by, ratings_of
from workers.handler import BpmnError, Failure, JobContext, handler
from workers.variables import as_date, required, text

CLOSURE_INVALID = "CLOSURE_INVALID"

# The basic-services destinations of the coordinator decision form, as the next responsible service.
DESTINATIONS = {
    "typ": "TYP – työllistymistä edistävä monialainen yhteispalvelu",
    "disability_services": "Vammaispalvelut",
    "unemployed_nurse": "Työttömien terveydenhoitaja",
    "employment_services": "Työllisyyspalvelut",
    "own_worker": "Oma työntekijä",
}
# Form values that differ from casework's closure reasons.
CLOSURE_REASONS = {"employment_services_only": ClosureReason.EMPLOYMENT_SERVICES}


@handler("record-destination")
def record_destination(ctx: JobContext) -> Mapping[str, Any]:
    """The coordinator decided on no case manager: the case ends with the named destination."""
    svc = ctx.need_services()
    destination = required(ctx.variables, "destination", "record-destination")
    own_worker = destination == "own_worker" or ctx.variables.get("decision") == "no_case_manager_own_worker"
    reason = ClosureReason.OWN_WORKER if own_worker else ClosureReason.BASIC_SERVICES
    next_responsible = text(ctx.variables.get("ownWorkerName")) if own_worker else None
    now = svc.clock()
    with svc.db.transaction() as session:
        record = get_case(session, ctx.case_id, lock=True)
        if record.status is CaseStatus.CLOSED:
            return {}  # this job ran before
        record_decision(session, ctx.case_id, needs_case_manager=False, at=now)
        close_case(session, ctx.case_id, reason, now,
                   next_responsible=next_responsible or DESTINATIONS.get(destination, destination))
    return {}


@handler("record-closure")
def record_closure(ctx: JobContext) -> Mapping[str, Any]:
    """Closes the case with its reason, the next responsible and the summary given to the client."""
    svc = ctx.need_services()
    variables = ctx.variables
    raw = required(variables, "closureReason", "record-closure")
    try:
        reason = CLOSURE_REASONS.get(raw) or ClosureReason(raw)
    except ValueError:
        raise Failure(f"record-closure: unknown closureReason {raw!r}", retries=0) from None
    now = svc.clock()
    try:
        with svc.db.transaction() as session:
            if get_case(session, ctx.case_id, lock=True).status is CaseStatus.CLOSED:
                return {}
            close_case(session, ctx.case_id, reason, now, next_responsible=text(variables.get("nextResponsible")),
                       next_contact=text(variables.get("nextResponsibleContact")),
                       handover_meeting_on=as_date(variables.get("meetingDate")),
                       summary=text(variables.get("summaryForClient")) or text(variables.get("continuationPlan")))
    except CaseworkError as err:
        raise Failure(f"record-closure: {err}", retries=0) from err
    return {}


def _score(variables: Mapping[str, Any], name: str, problems: list[str]) -> int | None:
    raw = variables.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(str(raw))
    except ValueError:
        problems.append(f"{name} must be a whole number 1-5")
        return None


def _reason(raw: str) -> ClosureReason:
    try:
        return CLOSURE_REASONS.get(raw) or ClosureReason(raw)
    except ValueError:
        raise Failure(f"unknown closureReason {raw!r}", retries=0) from None


@handler("closure-evaluation")
def evaluate_closure(ctx: JobContext) -> Mapping[str, Any]:
    """Keeps the closure's ratings, destination and the client's feedback; what the case manager must
    correct returns to the closure task (BPMN error CLOSURE_INVALID with `closureProblems`)."""
    svc = ctx.need_services()
    variables = ctx.variables
    reason = _reason(required(variables, "closureReason", "closure-evaluation"))
    by = completed_by(ctx, "handover_plan", text(variables.get("caseManager")) or "unknown")
    problems: list[str] = []
    ratings = ratings_of(variables, problems)
    response = text(variables.get("feedbackResponse"))
    try:
        feedback = Feedback(FeedbackResponse(response or ""), _score(variables, "feedbackKnewWhomToContact", problems),
                            _score(variables, "feedbackGotServices", problems),
                            _score(variables, "feedbackWasHeard", problems),
                            str(variables.get("feedbackComments") or ""))
    except ValueError:
        problems.append("say whether the client answered the feedback questions, on paper, declined or was "
                        "not reached")
        feedback = None
    try:
        if problems or feedback is None:
            raise InvalidEvaluation(problems)
        with svc.db.transaction() as session:
            record_closure_evaluation(session, ctx.case_id, ratings, reason, feedback, by=by, at=svc.clock(),
                                      next_responsible=text(variables.get("nextResponsible")))
    except InvalidEvaluation as err:
        raise BpmnError(CLOSURE_INVALID, str(err), {"closureProblems": "; ".join(err.problems)}) from err
    except CaseworkError as err:
        raise Failure(f"closure-evaluation: {err}", retries=0) from err
    return {"closureProblems": None}
