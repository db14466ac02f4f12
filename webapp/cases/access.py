"""Opening a case's data from a page or an API route: find it by case number, ask `casework.case_access`,
write the access log (or the refused attempt), in one transaction before anything is shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import abort, current_app
from sqlalchemy import select

from casework.access_log import AccessAction, log_case_access
from casework.case_access import CaseAccess, case_access, log_denied
from casework.staff import Staff
from engine.models import Case
from webapp.auth.api import json_error

MAX_KEY = 200


@dataclass(frozen=True)
class Opened:
    """A case the caller may open: its engine id, business key and the access (relationship) that allowed it."""

    access: CaseAccess
    business_key: str

    @property
    def case_id(self) -> str:
        return self.access.case_id


def open_case(staff: Staff, business_key: str, what: str, *, whole_case: bool = True,
              action: AccessAction = AccessAction.VIEW) -> Opened | int:
    """The case with this case number if `staff` may open it (access logged with `what` and why), else the
    HTTP status to answer: 404 (no such case) or 403 (no relationship; the attempt is logged).

    `whole_case`: the case page and its parts; a partner's relationship only opens the partners' view.
    `action`: what the request does with the data (a POST that records something: CREATE or UPDATE).
    """
    engine = current_app.config["ENGINE"]
    if not business_key or len(business_key) > MAX_KEY:
        return 404
    now = engine.clock()
    with engine.db.transaction() as session:
        case_id = session.scalar(select(Case.id).where(Case.business_key == business_key)
                                 .order_by(Case.created_at.desc()).limit(1))
        if case_id is None:
            return 404
        access = case_access(session, staff, case_id, now)
        if access is None or (whole_case and not access.relationship.whole_case):
            log_denied(session, staff, case_id, what, now)
            return 403
        log_case_access(session, user_id=staff.id, role=staff.logged_role(), case_ids=[case_id], what=what,
                        why=access.why, at=now, action=action)
    return Opened(access, business_key)


def case_or_abort(staff: Staff, business_key: str, what: str, *, whole_case: bool = True,
                  action: AccessAction = AccessAction.VIEW) -> Opened:
    """`open_case` for pages: the case, or the 404 / 403 page."""
    opened = open_case(staff, business_key, what, whole_case=whole_case, action=action)
    if isinstance(opened, int):
        abort(opened)
    return opened


def refused_json(status: int) -> Any:
    """The JSON answer of an /api route when `open_case` refused (404 or 403), in Camunda's error shape."""
    if status == 404:
        return json_error(404, "NotFoundException", "no case with this case number")
    return json_error(403, "AuthorizationException",
                      "you have no relationship to this case that allows opening it; the attempt was logged")


def open_case_json(staff: Staff, business_key: str, what: str, *,
                   action: AccessAction = AccessAction.VIEW) -> Opened | Any:
    """`open_case` for /api routes: the case, or the JSON refusal (404 / 403)."""
    opened = open_case(staff, business_key, what, action=action)
    return refused_json(opened) if isinstance(opened, int) else opened
