"""What a letter says, read from casework: the people it names, the plan, the process's details.

The pilots failed where clients did not know their case manager, so every letter names the person
responsible for the client and how to reach them, in the client's own language (fi/sv/en, Finnish
when unknown). A draft is read in one transaction; its PDF can then be rendered outside any.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from casework.case_manager import Assignment, assignment_history, current_case_manager
from casework.client import Client, get_client
from casework.client_case import ClientCase, get_case
from casework.errors import Refused
from casework.finnish_time import finnish_day
from casework.letter.records import NAMES_CASE_MANAGER, Letter, LetterDraft, LetterKind, letter_for_key, store_letter
from casework.letter.rendering import render_html, render_pdf
from casework.letter.texts import (
    CLOSURE_REASONS,
    DESTINATIONS,
    SENDER_SERVICE,
    SENDER_UNIT,
    SERVICE_TYPES,
    TITLES,
    format_date,
    letter_language,
    translate,
    translate_code,
)
from casework.plan import CLIENT, ItemKind, PlanItem, PlanVersion, current_plan
from casework.users import StaffUser
from casework.values import as_date, text


@dataclass(frozen=True)
class Person:
    """A staff member as the client needs to see them: who and how to reach them."""

    user_id: str | None
    name: str
    phone: str | None
    email: str | None


@dataclass(frozen=True)
class PlanLine:
    text: str
    due: date | None
    responsible: str | None = None
    service: str | None = None
    provider: str | None = None


@dataclass(frozen=True)
class PlanSummary:
    version: int
    main_goals: list[PlanLine]
    goals: list[PlanLine]
    services: list[PlanLine]
    client_tasks: list[PlanLine]
    follow_up_months: int
    next_meeting: date | None


def _person(session: Session, assignment: Assignment | None, user_id: str | None = None) -> Person | None:
    user_id = assignment.user_id if assignment is not None else user_id
    if user_id is None:
        return None
    user = session.get(StaffUser, user_id)
    if user is None:
        if assignment is None:
            raise Refused(f"no staff user {user_id!r} to name in the letter")
        return Person(assignment.user_id, assignment.user_name, None, None)
    return Person(user.id, user.name, user.phone, user.email)


def _plan(plan: PlanVersion | None, language: str) -> PlanSummary | None:
    if plan is None:
        return None

    def line(item: PlanItem) -> PlanLine:
        kind = item.service_type.value if item.service_type is not None else None
        return PlanLine(text=item.text, due=item.due,
                        responsible=item.responsible if item.responsible != CLIENT else None,
                        service=translate_code(language, SERVICE_TYPES, kind) if kind else None,
                        provider=item.provider_organisation)

    by_kind: dict[ItemKind, list[PlanLine]] = {kind: [] for kind in ItemKind}
    for item in plan.items:
        by_kind[item.kind].append(line(item))
    return PlanSummary(version=plan.version, main_goals=by_kind[ItemKind.MAIN_GOAL], goals=by_kind[ItemKind.GOAL],
                       services=by_kind[ItemKind.SERVICE], client_tasks=by_kind[ItemKind.CLIENT_TASK],
                       follow_up_months=plan.follow_up_months, next_meeting=plan.next_meeting)


def _previous_case_manager(session: Session, case_id: str, current: Assignment,
                           named: str | None) -> Person | None:
    """The case manager before the current one: the history knows it even when the process does not."""
    if named and named != current.user_id:
        return _person(session, None, named)
    earlier = [a for a in assignment_history(session, case_id) if a.id != current.id and a.to_at is not None]
    return _person(session, earlier[-1]) if earlier else None


def _context(session: Session, record: ClientCase, client: Client, kind: LetterKind, language: str, at: datetime,
             details: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The template's variables and the user id of the case manager the letter names."""
    case_id = record.case_id
    current = current_case_manager(session, case_id)
    named = text(details.get("case_manager"))
    context: dict[str, Any] = {"kind": kind.value, "plan": None, "case_manager": None, "previous": None,
                               "destination": None, "destination_code": None, "reason": None,
                               "next_responsible": None, "next_contact": None, "summary": None,
                               "meeting_date": as_date(details.get("meeting_date"))}
    if kind in NAMES_CASE_MANAGER:
        if current is None:
            raise Refused("the case has no current case manager: record the assignment before the letter")
        if named and named != current.user_id:
            raise Refused(f"the process names {named!r} but the current case manager is {current.user_id!r}")
        context["case_manager"] = _person(session, current)
        context["plan"] = _plan(current_plan(session, case_id), language)
        if kind is LetterKind.CASE_MANAGER_CHANGED:
            context["previous"] = _previous_case_manager(session, case_id, current,
                                                         text(details.get("previous_case_manager")))
    elif kind is LetterKind.CLOSURE_SUMMARY:
        # The summary letter goes before the closure is recorded, so the process's values come first.
        history = assignment_history(session, case_id)
        latest = current or (history[-1] if history else None)
        context["case_manager"] = _person(session, latest)
        reason = text(details.get("closure_reason")) or (record.closure_reason.value if record.closure_reason
                                                           else None)
        message = CLOSURE_REASONS.get(reason or "")
        context["reason"] = translate(language, message) if message else None
        context["next_responsible"] = text(details.get("next_responsible")) or record.next_responsible
        context["next_contact"] = text(details.get("next_contact")) or record.next_contact
        context["summary"] = text(details.get("summary")) or record.summary
        context["meeting_date"] = context["meeting_date"] or record.handover_meeting_on
    else:  # guidance to basic services: no case manager; whoever the coordinator names is the contact
        code = text(details.get("destination"))
        if code is None:
            raise Refused("the guidance letter needs the destination (basicServicesDestination)")
        context["destination_code"] = code
        context["destination"] = translate_code(language, DESTINATIONS, code)
        context["next_contact"] = text(details.get("next_contact"))
        context["case_manager"] = _person(session, None, named) if named else None
    today = finnish_day(at)
    meeting = context["meeting_date"]
    context["meeting_past"] = meeting is not None and meeting <= today
    context.update(lang=language, title=translate(language, TITLES[kind]), client_name=client.name,
                   service=translate(language, SENDER_SERVICE), unit=translate(language, SENDER_UNIT),
                   municipality=client.municipality, date_text=format_date(today, language))
    manager = context["case_manager"]
    return context, (manager.user_id if manager is not None and kind in NAMES_CASE_MANAGER else None)


def draft_letter(session: Session, *, case_id: str, kind: LetterKind, key: str, at: datetime,
                 details: dict[str, Any] | None = None) -> LetterDraft:
    """Reads what the letter says and writes it as HTML (details as for write_letter)."""
    record = get_case(session, case_id)
    client = get_client(session, record.client_id)
    language = letter_language(client.language)
    context, case_manager_id = _context(session, record, client, kind, language, at, dict(details or {}))
    return LetterDraft(case_id, client.id, kind, language, key, context["title"], case_manager_id,
                       render_html(kind, language, context), at)


def write_letter(session: Session, *, case_id: str, kind: LetterKind, key: str, at: datetime,
                 details: dict[str, Any] | None = None) -> Letter:
    """Writes the case's letter of `kind` once per `key`; a second call returns the first letter unchanged.

    `details` carries what casework does not hold yet when the process writes the letter: `destination`
    (guidance), `case_manager` / `previous_case_manager` (user ids, checked against the history),
    `closure_reason`, `next_responsible`, `next_contact`, `summary`, `meeting_date`. This renders the
    PDF inside the caller's transaction; a worker drafts in a read, renders, then stores (workers/letters.py).
    """
    existing = letter_for_key(session, case_id, key)
    if existing is not None:
        return existing
    draft = draft_letter(session, case_id=case_id, kind=kind, key=key, at=at, details=details)
    return store_letter(session, draft, render_pdf(draft.html))
