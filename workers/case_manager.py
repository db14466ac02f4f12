"""The `record-assignment` topic: the named case manager goes into the assignment history.

Both the first naming (after the coordinator decision or the team review) and a change (the event
subprocess) come here; on a change the old case manager's open tasks of the case move to the new one.
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
        # through the case transaction: the task rows, the saved case and each task's history agree
        svc.engine.reassign(ctx.case_id, previous, assigned,
                            actor=text(ctx.variables.get("changeRequestedBy")) or ctx.worker_id or TOPIC,
                            reason=f"case manager change: {reason.value}")
    return {}
