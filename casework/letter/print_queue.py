"""The print queue: letters to clients without email that have not reached them yet, as one person may see them.

The pilots' clients did not know who their case manager was; a letter written but never posted tells them
nothing. The queue lists every letter for printing (`Delivery.PRINT`) not yet delivered, oldest first, but only
of the cases the person may open (`casework.case_access`), and opens a chosen batch as one PDF of the letters
exactly as they were stored (the stored PDF is the record of what the client was told).
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, undefer

from casework.access_log import AccessAction, log_case_access
from casework.case_access import CaseAccess, case_access, log_denied, visible_cases_clause
from casework.client import Client
from casework.client_case import ClientCase
from casework.errors import NotFound
from casework.letter.records import Delivery, Letter, LetterKind
from casework.staff import Staff
from engine.models import Case

MAX_BATCH = 200  # letters in one PDF: a day's post, not the whole archive


@dataclass(frozen=True)
class QueueRow:
    """One letter in the queue as the page and the API show it (the client's name is for the envelope)."""

    letter_id: int
    case_id: str
    business_key: str
    client_name: str
    kind: LetterKind
    title: str
    language: str
    created_at: datetime
    printed_at: datetime | None


def _queue_query(staff: Staff) -> Select[Letter, str | None, str]:
    """(letter, case number, client name) of the queue as `staff` may see it, oldest first."""
    return (select(Letter, Case.business_key, Client.name)
            .join(ClientCase, ClientCase.case_id == Letter.case_id)
            .join(Case, Case.id == Letter.case_id)
            .join(Client, Client.id == Letter.client_id)
            .where(Letter.delivery == Delivery.PRINT, Letter.delivered_at.is_(None), visible_cases_clause(staff))
            .order_by(Letter.created_at, Letter.id))


def print_queue(session: Session, staff: Staff) -> list[QueueRow]:
    """Letters for printing not yet delivered, of the cases `staff` may open, oldest first (PDFs not loaded)."""
    return [QueueRow(letter.id, letter.case_id, business_key or letter.case_id, name, letter.kind, letter.title,
                     letter.language, letter.created_at, letter.printed_at)
            for letter, business_key, name in session.execute(_queue_query(staff)).all()]


@dataclass(frozen=True)
class OpenedLetters:
    """Letters `staff` may open, in the order asked, and the access that allowed each letter's case."""

    letters: list[Letter]
    access: dict[str, CaseAccess]  # by case id
    business_keys: dict[str, str]  # by case id


class LetterRefused(Exception):
    """At least one letter belongs to a case the person may not open; the attempt was logged."""

    def __init__(self, letter_ids: list[int]) -> None:
        super().__init__(f"no access to the case of letter(s) {letter_ids}")
        self.letter_ids = letter_ids


def open_letters(session: Session, staff: Staff, letter_ids: Iterable[int], what: str, at: datetime,
                 action: AccessAction = AccessAction.VIEW, with_pdf: bool = False) -> OpenedLetters:
    """The letters, if `staff` may open every one's case; writes the access log once (one row per case).

    Raises NotFound for an unknown letter and LetterRefused (after logging the refused attempt for each case
    concerned) when any letter's case is out of reach: a batch is all or nothing, so a print run never
    silently leaves a letter out.
    """
    ids = list(dict.fromkeys(letter_ids))
    query = select(Letter).where(Letter.id.in_(ids))
    if with_pdf:
        query = query.options(undefer(Letter.pdf))
    found = {letter.id: letter for letter in session.scalars(query)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFound(f"no letter {missing[0]}")
    letters = [found[i] for i in ids]
    access: dict[str, CaseAccess] = {}
    refused: list[int] = []
    refused_cases: set[str] = set()
    for letter in letters:
        if letter.case_id in refused_cases:
            refused.append(letter.id)
            continue
        if letter.case_id not in access:
            allowed = case_access(session, staff, letter.case_id, at)
            if allowed is None or not allowed.relationship.whole_case:
                refused_cases.add(letter.case_id)
                refused.append(letter.id)
                continue
            access[letter.case_id] = allowed
    if refused:
        for case_id in sorted(refused_cases):
            log_denied(session, staff, case_id, what, at)
        raise LetterRefused(refused)
    by_why: dict[str, list[str]] = defaultdict(list)
    for case_id, allowed in access.items():
        by_why[allowed.why].append(case_id)
    for why, case_ids in sorted(by_why.items()):
        log_case_access(session, user_id=staff.id, role=staff.logged_role(), case_ids=case_ids, what=what, why=why,
                        at=at, action=action)
    keys = dict(session.execute(select(Case.id, Case.business_key).where(Case.id.in_(list(access)))).all())
    return OpenedLetters(letters, access, {k: v or k for k, v in keys.items()})


def log_queue_view(session: Session, staff: Staff, rows: list[QueueRow], at: datetime,
                   what: str = "letters print queue") -> None:
    """The queue shows client names: one access row per case listed, written in one statement per relationship."""
    if not rows:
        return
    case_ids = sorted({row.case_id for row in rows})
    by_why: dict[str, list[str]] = defaultdict(list)
    for case_id in case_ids:
        allowed = case_access(session, staff, case_id, at)
        by_why[allowed.why if allowed is not None else "letters print queue"].append(case_id)
    for why, ids in sorted(by_why.items()):
        log_case_access(session, user_id=staff.id, role=staff.logged_role(), case_ids=ids, what=what, why=why, at=at)


def merge_pdfs(documents: Iterable[bytes]) -> bytes:
    """The stored PDFs as one document, page by page in the order given (pypdf: no rendering, no changes)."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for document in documents:
        writer.append(PdfReader(io.BytesIO(document)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def batch_filename(at: datetime, count: int) -> str:
    """A batch's file name: the day and how many letters, never a name (e.g. kirjeet-2026-01-05-3.pdf)."""
    return f"kirjeet-{at:%Y-%m-%d}-{count}.pdf"
