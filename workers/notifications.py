"""The `staff-notification` topic: tell a staff member by email that a case needs them.

The mail goes through the outbox with the job's id as its key, so a job that runs twice (retried, or taken
by a second worker after its lock expired) still gives one mail. When the named recipient is unknown or has
left, every active team lead gets it instead: a case must never wait for someone nobody told.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from casework.case_manager import case_manager_now
from casework.mail_templates import STAFF_KINDS, compose
from casework.notification import enqueue
from casework.users import Role, StaffUser, users_with_role
from engine.models import Case
from workers.handler import Failure, JobContext, handler

STAFF_LANGUAGE = "fi"  # staff users have no language of their own yet


@handler("staff-notification")
def staff_notification(ctx: JobContext) -> Mapping[str, Any] | None:
    kind = ctx.variables.get("notificationType")
    if kind not in STAFF_KINDS:
        raise Failure(f"staff-notification: unknown notificationType {kind!r} "
                      f"(known: {', '.join(sorted(STAFF_KINDS))})", retries=0)
    services = ctx.need_services()
    recipient = str(ctx.variables.get("recipient") or "").strip()
    for attempt in (1, 2):
        try:
            with services.db.transaction() as s:
                _enqueue_all(s, ctx, kind, recipient, services.clock())
            return None
        except IntegrityError:
            # a second run of this job inserted the same key at the same moment (PostgreSQL): its rows stand,
            # and the next pass finds them
            if attempt == 2:
                raise
    return None


def _enqueue_all(s: Session, ctx: JobContext, kind: str, recipient: str, now: datetime) -> None:
    if recipient:  # a called process's copy of caseManager may name a former case manager of the case
        recipient = case_manager_now(s, ctx.case_id, recipient)
    user = s.get(StaffUser, recipient) if recipient else None
    context = _case_context(s, ctx)
    if user is not None and user.active:
        _enqueue_one(s, ctx, f"job:{ctx.id}", user, kind, context, now)
        return
    leads = users_with_role(s, Role.TEAM_LEAD)
    if not leads:
        raise Failure(f"staff-notification: recipient {recipient or '(none)'} is unknown or deactivated and "
                      f"there is no active team lead to tell instead; add a team lead and retry the job",
                      retries=0)
    context["redirected_from"] = recipient or "-"
    for lead in leads:
        _enqueue_one(s, ctx, f"job:{ctx.id}:{lead.id}", lead, kind, context, now)


def _enqueue_one(s: Session, ctx: JobContext, key: str, user: StaffUser, kind: str, context: dict[str, Any],
                 now: datetime) -> None:
    subject, body = compose(kind, STAFF_LANGUAGE, **context)
    enqueue(s, key=key, recipient=f"staff:{user.id}", to_address=user.email, language=STAFF_LANGUAGE,
            subject=subject, body=body, at=now, case_id=ctx.case_id)


def _case_context(s: Session, ctx: JobContext) -> dict[str, Any]:
    """Names the case by its business key only: the mail leaves Polku, client data must not."""
    own_key = ctx.business_key or ctx.case_id
    related_id = str(ctx.variables.get("relatedCaseId") or "").strip()
    if not related_id:
        return {"case_key": own_key}
    related = s.get(Case, related_id)
    related_key = (related.business_key if related is not None else None) or related_id
    # a new referral routed to an open case: the open case is the one to act on, the referral is named too
    return {"case_key": related_key, "referral_key": own_key if own_key != related_key else None}
