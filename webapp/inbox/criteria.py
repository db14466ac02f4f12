"""What the inbox is filtered by, kept in the session (never in a URL): the filter form posts here.

A client search by identity code is kept only as its keyed search hash; a name search as typed (the
session cookie is signed, HttpOnly, and ends with the session). Neither is written to any log.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from typing import Any

from flask import current_app, session
from flask_babel import gettext as _

from casework.identity_code import IdentityCodeKeys, validation_error
from casework.task_filters import DEFAULT_COLUMNS, SavedCriteria
from casework.task_list import TaskFilter

_KEY = "inbox"
MAX_TEXT = 100


@dataclass(frozen=True)
class Criteria:
    step: str | None = None
    due_before: date | None = None
    overdue: bool = False
    business_key: str | None = None
    client_name: str | None = None  # part of a name, as typed
    client_hash: str | None = None  # an identity code's search hash
    columns: tuple[str, ...] = field(default=DEFAULT_COLUMNS)
    filter_id: int | None = None  # the saved filter last applied (shown as chosen)

    @property
    def active(self) -> bool:
        return bool(self.step or self.due_before or self.overdue or self.business_key or self.client_name
                    or self.client_hash)

    def task_filter(self) -> TaskFilter:
        due = datetime.combine(self.due_before, time.min, tzinfo=UTC) if self.due_before else None
        return TaskFilter(task_definition_key=self.step, due_before=due, overdue=self.overdue,
                          business_key=self.business_key, client=self.client_name, client_hash=self.client_hash)

    def saved(self, tab: str, sort: str, descending: bool) -> SavedCriteria:
        """What a named filter keeps: everything but the client search."""
        return SavedCriteria(tab=tab, step=self.step, due_before=self.due_before, overdue=self.overdue,
                             business_key=self.business_key, sort=sort, descending=descending, columns=self.columns)

    @classmethod
    def of_saved(cls, saved: SavedCriteria, filter_id: int) -> Criteria:
        return cls(step=saved.step, due_before=saved.due_before, overdue=saved.overdue,
                   business_key=saved.business_key, columns=saved.columns, filter_id=filter_id)


def current() -> Criteria:
    data: dict[str, Any] = session.get(_KEY) or {}
    due = data.get("due_before")
    try:
        return Criteria(step=data.get("step"), due_before=date.fromisoformat(due) if due else None,
                        overdue=bool(data.get("overdue")), business_key=data.get("business_key"),
                        client_name=data.get("client_name"), client_hash=data.get("client_hash"),
                        columns=tuple(data.get("columns") or DEFAULT_COLUMNS), filter_id=data.get("filter_id"))
    except (TypeError, ValueError):
        session.pop(_KEY, None)
        return Criteria()


def keep(criteria: Criteria) -> None:
    due = criteria.due_before.isoformat() if criteria.due_before else None
    session[_KEY] = {"step": criteria.step, "due_before": due,
                     "overdue": criteria.overdue, "business_key": criteria.business_key,
                     "client_name": criteria.client_name, "client_hash": criteria.client_hash,
                     "columns": list(criteria.columns), "filter_id": criteria.filter_id}


def clear() -> None:
    session.pop(_KEY, None)


def parse(form: Any, before: Criteria) -> tuple[Criteria, dict[str, str]]:
    """The posted filter form as criteria, and messages by field id for what cannot be used."""
    errors: dict[str, str] = {}
    step = (form.get("step") or "").strip()[:200] or None
    due_text = (form.get("due_before") or "").strip()
    due: date | None = None
    if due_text:
        try:
            due = date.fromisoformat(due_text)
        except ValueError:
            errors["filter-due-before"] = _("Enter the date as YYYY-MM-DD, for example 2026-03-31.")
    business_key = (form.get("business_key") or "").strip() or None
    if business_key and len(business_key) > MAX_TEXT:
        errors["filter-business-key"] = _("A case number has at most %(n)d characters.", n=MAX_TEXT)
    client = (form.get("client") or "").strip()
    client_name: str | None = None
    client_hash: str | None = None
    if client:
        if len(client) > MAX_TEXT:
            errors["filter-client"] = _("A search has at most %(n)d characters.", n=MAX_TEXT)
        elif validation_error(client) is None:
            keys: IdentityCodeKeys | None = current_app.config.get("IDENTITY_CODE_KEYS")
            if keys is None:
                errors["filter-client"] = _("Search by identity code is not set up here; search by name.")
            else:
                client_hash = keys.search_hash(client)
        elif len(client) < 2:
            errors["filter-client"] = _("Enter at least 2 letters of the name, or a whole identity code.")
        else:
            client_name = client
    elif form.get("keep_client") and (before.client_name or before.client_hash):
        client_name, client_hash = before.client_name, before.client_hash  # left empty: the search stays
    return replace(before, step=step, due_before=due, overdue=bool(form.get("overdue")), business_key=business_key,
                   client_name=client_name, client_hash=client_hash, filter_id=None), errors
