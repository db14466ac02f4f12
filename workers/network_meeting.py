"""Steps a case manager takes any time from the case: `network-meeting` (a network meeting held and what
was agreed) and `consultation` (a coordinator's answer to the case manager's question)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from casework.errors import CaseworkError
from casework.network_meeting import record_consultation, record_network_meeting
from workers.follow_up import completed_by
from workers.handler import Failure, JobContext, handler
from workers.variables import as_date, text


@handler("network-meeting")
def network_meeting(ctx: JobContext) -> Mapping[str, Any]:
    svc = ctx.need_services()
    variables = ctx.variables
    held_on = as_date(variables.get("networkMeetingDate"))
    if held_on is None:
        raise Failure("network-meeting: the variable networkMeetingDate is missing or not a date", retries=0)
    participants = str(variables.get("networkMeetingParticipants") or "").splitlines()
    by = completed_by(ctx, "hold_network_meeting", text(variables.get("caseManager")) or "unknown")
    try:
        with svc.db.transaction() as session:
            record_network_meeting(session, ctx.case_id, held_on, participants,
                                   str(variables.get("networkMeetingAgreed") or ""), by=by, at=svc.clock(),
                                   key=f"job:{ctx.id}")
    except CaseworkError as err:
        raise Failure(f"network-meeting: {err}", retries=0) from err
    return {}


@handler("consultation")
def consultation(ctx: JobContext) -> Mapping[str, Any]:
    svc = ctx.need_services()
    variables = ctx.variables
    by = completed_by(ctx, "answer_consultation", "unknown")
    try:
        with svc.db.transaction() as session:
            record_consultation(session, ctx.case_id, str(variables.get("consultationAnswer") or ""), by,
                                svc.clock(), question=str(variables.get("consultationQuestion") or ""),
                                requested_by=text(variables.get("consultationRequestedBy")),
                                revise_plan=variables.get("consultationRevisePlan") is True, key=f"job:{ctx.id}")
    except CaseworkError as err:
        raise Failure(f"consultation: {err}", retries=0) from err
    return {}
