"""The `record-assignment` topic: the named case manager goes into the assignment history.

Both the first naming (after the coordinator decision or the team review) and a change (the event
subprocess) come here. On a change the new case manager takes over everything of the case:
- the assignment history gets the new one (with their title and unit) under the case row lock;
- the old one's open tasks of the case move to the new one through the engine's case transaction
  (`Engine.reassign`), so the task rows, the saved case and each task's history agree;
- `caseManager` changes wherever the case holds it (`Engine.set_held_variables`): the process scope
  (as the diagram's output parameter does too) and each running called process (service coordination),
  which keeps its own copy; so every later task, reminder and alert computed from `${caseManager}`
  names the new one. A staff notification computed before the change and still addressed to a former
  case manager of the case goes to the current one (casework.case_manager.case_manager_now).
The engine work runs after the casework transaction committed and is idempotent, so a job that runs
twice (its lock ran out, or the engine call failed and it is retried) moves nothing twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from casework.case_manager import AssignmentReason, assign, confirm_handover, current_case_manager
from casework.client_case import get_case, record_decision
from casework.errors import CaseworkError
from workers.handler import Failure, JobContext, handler
from workers.variables import required, text

TOPIC = "record-assignment"
CASE_MANAGER = "caseManager"  # the process variable naming the case manager (bpmn/: assignees, recipients)


@handler(TOPIC)
def record_assignment(ctx: JobContext) -> Mapping[str, Any]:
    svc = ctx.need_services()
    assigned = required(ctx.variables, "assignedCaseManager", TOPIC)
    previous = text(ctx.variables.get("previousCaseManager"))
    try:
        reason = AssignmentReason(text(ctx.variables.get("assignmentReason")) or "initial")
    except ValueError:
        raise Failure(f"{TOPIC}: unknown assignmentReason {ctx.variables.get('assignmentReason')!r}",
                      retries=0) from None
    now = svc.clock()
    try:
        with svc.db.transaction() as session:
            record = get_case(session, ctx.case_id, lock=True)
            if record.needs_case_manager is None:
                record_decision(session, ctx.case_id, needs_case_manager=True, at=now)
            current = current_case_manager(session, ctx.case_id)
            if current is None or current.user_id != assigned:  # equal: this job ran before
                assign(session, ctx.case_id, assigned, reason, now, by=text(ctx.variables.get("changeRequestedBy")))
                if previous and previous != assigned and ctx.variables.get("handoverConfirmed"):
                    # the process reaches this task only after the old and the new one confirmed the handover
                    confirm_handover(session, ctx.case_id, previous, now)
                    confirm_handover(session, ctx.case_id, assigned, now)
    except CaseworkError as err:
        # e.g. the person named is deactivated or has no case manager role: a person must correct the form
        raise Failure(f"{TOPIC}: {err}", retries=0) from err
    if previous and previous != assigned and svc.engine is not None:
        actor = text(ctx.variables.get("changeRequestedBy")) or ctx.worker_id or TOPIC
        svc.engine.reassign(ctx.case_id, previous, assigned, actor=actor,
                            reason=f"case manager change: {reason.value}")
        # the called processes (service coordination) hold their own copy of caseManager: it changes with the rest
        svc.engine.set_held_variables(ctx.case_id, {CASE_MANAGER: assigned}, actor=actor)
    return {CASE_MANAGER: assigned}
