"""The `client-letter` topic: the client's written letter as a PDF, stored with the case, then mailed or printed.

The letter is written once per job (key "job:<job id>"), so a job that runs twice (its lock expired and
another worker took it) stores one letter and queues one mail. A client with an email address gets it
by email with the PDF attached; otherwise it waits for staff to print it (casework.letter.letters_to_print).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from casework.case_manager import current_case_manager
from casework.client import Client
from casework.client_case import ClientCase
from casework.errors import CaseworkError
from casework.letter import (
    NAMES_CASE_MANAGER,
    LetterKind,
    draft_letter,
    letter_filename,
    letter_for_key,
    mark_emailed,
    render_pdf,
    store_letter,
)
from casework.mail_templates import compose
from casework.notification import Attachment, enqueue
from workers.handler import Failure, JobContext, handler
from workers.variables import required

TOPIC = "client-letter"

# The process variables each letter reads (bpmn/work-ability-support.bpmn forms) → draft_letter's details.
DETAILS: dict[LetterKind, dict[str, str]] = {
    LetterKind.GUIDANCE_TO_BASIC_SERVICES: {"destination": "basicServicesDestination"},
    LetterKind.CASE_MANAGER_NAMED: {"case_manager": "caseManager"},
    LetterKind.CASE_MANAGER_CHANGED: {"case_manager": "caseManager", "previous_case_manager": "previousCaseManager",
                                      "meeting_date": "jointMeetingDate"},
    LetterKind.CLOSURE_SUMMARY: {"closure_reason": "closureReason", "next_responsible": "nextResponsible",
                                 "next_contact": "nextResponsibleContact", "summary": "summaryForClient",
                                 "meeting_date": "meetingDate"},
}


def letter_kind(letter_type: str) -> LetterKind:
    """The process's letterType (guidance-to-basic-services...) as a LetterKind; unknown types fail for good."""
    try:
        return LetterKind(letter_type.strip().lower().replace("-", "_"))
    except ValueError:
        known = ", ".join(k.value.replace("_", "-") for k in LetterKind)
        raise Failure(f"{TOPIC}: unknown letterType {letter_type!r} (known: {known})", retries=0) from None


def _client_of(session: Session, case_id: str) -> Client:
    record = session.get(ClientCase, case_id)
    if record is None:
        raise Failure(f"{TOPIC}: case {case_id} has no casework record, so there is no client to write to"
                      " (the duplicate check registers the client and opens the record)")
    client = session.get(Client, record.client_id)
    if client is None:
        raise Failure(f"{TOPIC}: the client {record.client_id} of case {case_id} does not exist")
    return client


@handler(TOPIC)
def client_letter(ctx: JobContext) -> Mapping[str, Any]:
    """Writes the letter and mails it to a client with an email address; returns its id as `letterId`.

    The letter is drafted in a read, its PDF rendered (~90 ms in WeasyPrint) outside any transaction,
    and only then stored in a short write transaction, so other writers do not wait for the rendering.
    """
    svc = ctx.need_services()
    kind = letter_kind(required(ctx.variables, "letterType", TOPIC))
    details = {name: ctx.variables.get(variable) for name, variable in DETAILS[kind].items()
               if ctx.variables.get(variable) not in (None, "")}
    now = svc.clock()
    key = f"job:{ctx.id}"
    try:
        with svc.db.read() as session:
            _client_of(session, ctx.case_id)
            written = letter_for_key(session, ctx.case_id, key) is not None
            draft = None if written else draft_letter(session, case_id=ctx.case_id, kind=kind, key=key, at=now,
                                                      details=details)
        pdf = render_pdf(draft.html) if draft is not None else b""
        with svc.db.transaction() as session:
            client = _client_of(session, ctx.case_id)
            # The mail names the case manager only in the letters whose point that is.
            manager = current_case_manager(session, ctx.case_id) if kind in NAMES_CASE_MANAGER else None
            if draft is not None and kind in NAMES_CASE_MANAGER and (
                    manager is None or manager.user_id != draft.case_manager_id):
                raise Failure(f"{TOPIC}: the case manager changed while the letter was written; it is written again")
            letter = store_letter(session, draft, pdf) if draft is not None else letter_for_key(session, ctx.case_id,
                                                                                               key)
            if letter is None:
                raise Failure(f"{TOPIC}: the letter {key} written earlier is gone")
            if client.email:
                subject, body = compose("letter", letter.language, client_name=client.name,
                                        case_manager_name=manager.user_name if manager else None,
                                        letter_title=letter.title)
                enqueue(session, key=f"letter:{letter.id}", recipient=f"client:{client.id}", to_address=client.email,
                        language=letter.language, subject=subject, body=body, at=now, case_id=ctx.case_id,
                        attachments=[Attachment(letter_filename(letter), "application/pdf", letter.pdf)])
                mark_emailed(session, letter.id, now)
            return {"letterId": letter.id}
    except CaseworkError as err:
        # e.g. no current case manager to name, or the process names someone else: a person must look at it
        raise Failure(f"{TOPIC}: {err}", retries=0) from err
