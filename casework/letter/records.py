"""Letters as stored records: the table, its kinds, and the queries and delivery marks on it.

The PDF is kept as sent: it is the record of what the client was told. A letter is stored once per
cause (its `key`), so a job that runs twice stores one letter.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from casework.case_manager import current_case_manager, record_client_informed
from casework.errors import Refused, get_or_raise
from casework.models import CaseworkBase, UtcDateTime, enum_type


class LetterKind(enum.Enum):
    GUIDANCE_TO_BASIC_SERVICES = "guidance_to_basic_services"
    CASE_MANAGER_NAMED = "case_manager_named"
    CASE_MANAGER_CHANGED = "case_manager_changed"
    CLOSURE_SUMMARY = "closure_summary"


class Delivery(enum.Enum):
    EMAIL = "email"  # queued in the outbox with the PDF attached
    PRINT = "print"  # staff print it and post or hand it over (printed_at says when)


class HowDelivered(enum.Enum):
    """How the letter reached the client (the evaluation counts delivered letters, not written ones)."""

    MAILED = "mailed"  # sent to the client's email address (queued in the outbox with the PDF)
    PRINTED_AND_POSTED = "printed_and_posted"
    HANDED_OVER = "handed_over"  # given to the client in person, e.g. at a meeting


SYSTEM = "polku"  # delivered_by when Polku itself mailed the letter


# Letters that tell the client who their case manager is: sending one fulfils "the client has been told".
NAMES_CASE_MANAGER = frozenset({LetterKind.CASE_MANAGER_NAMED, LetterKind.CASE_MANAGER_CHANGED})


class Letter(CaseworkBase):
    __tablename__ = "letter"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("client_case.case_id"), index=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("client.id"), index=True)
    kind: Mapped[LetterKind] = mapped_column(enum_type(LetterKind))
    language: Mapped[str] = mapped_column(String(5))
    key: Mapped[str] = mapped_column(String(200), unique=True)  # one letter per cause, e.g. "job:<id>"
    title: Mapped[str] = mapped_column(String(300))
    # The case manager the letter names (user id), so delivering it later informs the client only if still current.
    case_manager_id: Mapped[str | None] = mapped_column(String(200))
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # lists of letters do not load the documents
    delivery: Mapped[Delivery] = mapped_column(enum_type(Delivery))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    printed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivered_how: Mapped[HowDelivered | None] = mapped_column(enum_type(HowDelivered))
    delivered_by: Mapped[str | None] = mapped_column(String(200))  # a staff user id, or "polku"


@dataclass(frozen=True)
class LetterDraft:
    """A letter read and written as HTML, ready to render: the PDF is made outside any transaction."""

    case_id: str
    client_id: str
    kind: LetterKind
    language: str
    key: str
    title: str
    case_manager_id: str | None  # the case manager the letter names, as it was read
    html: str
    at: datetime


def letter_for_key(session: Session, case_id: str, key: str) -> Letter | None:
    """The letter already written for `key` (e.g. a job that runs twice), or None."""
    existing = session.scalar(select(Letter).where(Letter.key == key))
    if existing is not None and existing.case_id != case_id:
        raise Refused(f"the letter key {key!r} belongs to another case")
    return existing


def store_letter(session: Session, draft: LetterDraft, pdf: bytes) -> Letter:
    """Stores the drafted letter with its PDF once per key; a letter stored for the key meanwhile wins."""
    existing = letter_for_key(session, draft.case_id, draft.key)
    if existing is not None:
        return existing
    letter = Letter(case_id=draft.case_id, client_id=draft.client_id, kind=draft.kind, language=draft.language,
                    key=draft.key, title=draft.title, case_manager_id=draft.case_manager_id, pdf=pdf,
                    delivery=Delivery.PRINT, created_at=draft.at)
    session.add(letter)
    session.flush()
    return letter


def letters_of_case(session: Session, case_id: str) -> list[Letter]:
    """The case's letters, oldest first (without loading the PDFs)."""
    return list(session.scalars(select(Letter).where(Letter.case_id == case_id)
                                .order_by(Letter.created_at, Letter.id)))


def letters_to_print(session: Session) -> list[Letter]:
    """Letters for clients without email that nobody has printed yet, oldest first."""
    return list(session.scalars(select(Letter).where(Letter.delivery == Delivery.PRINT, Letter.printed_at.is_(None))
                                .order_by(Letter.created_at, Letter.id)))


def get_letter(session: Session, letter_id: int) -> Letter:
    return get_or_raise(session, Letter, letter_id, "letter")


def _client_informed(session: Session, letter: Letter, at: datetime) -> None:
    """A delivered case manager letter records that the client was told, if it still names the current one."""
    if letter.kind not in NAMES_CASE_MANAGER or letter.case_manager_id is None:
        return
    current = current_case_manager(session, letter.case_id)
    if current is not None and current.user_id == letter.case_manager_id and current.client_informed_at is None:
        record_client_informed(session, letter.case_id, at)


def mark_emailed(session: Session, letter_id: int, at: datetime) -> Letter:
    """The letter went to the outbox for the client's email address: delivered by mail, by Polku."""
    letter = get_letter(session, letter_id)
    letter.delivery = Delivery.EMAIL
    if letter.delivered_at is None:
        _delivered(letter, HowDelivered.MAILED, at, SYSTEM)
    _client_informed(session, letter, at)
    return letter


def mark_delivered(session: Session, letter_id: int, how: HowDelivered, at: datetime, by: str) -> Letter:
    """Staff record that the letter reached the client (posted after printing, or handed over), when and by whom.

    A letter is delivered once: recording it again is refused, so the first record stands. Delivering a
    letter that names the current case manager records that the client was told.
    """
    letter = get_letter(session, letter_id)
    if letter.delivered_at is not None:
        how_before = letter.delivered_how.value if letter.delivered_how else "?"
        raise Refused(f"the letter was already delivered ({how_before}, by {letter.delivered_by})")
    if not by.strip():
        raise Refused("say who delivered the letter")
    if at < letter.created_at:
        raise Refused("a letter cannot be delivered before it was written")
    if how is HowDelivered.PRINTED_AND_POSTED and letter.printed_at is None:
        letter.printed_at = at
    _delivered(letter, how, at, by.strip())
    _client_informed(session, letter, at)
    return letter


def _delivered(letter: Letter, how: HowDelivered, at: datetime, by: str) -> None:
    letter.delivered_at = at
    letter.delivered_how = how
    letter.delivered_by = by


def letters_to_deliver(session: Session) -> list[Letter]:
    """Letters written for printing that nobody has recorded as delivered yet, oldest first."""
    return list(session.scalars(select(Letter).where(Letter.delivery == Delivery.PRINT, Letter.delivered_at.is_(None))
                                .order_by(Letter.created_at, Letter.id)))


def mark_printed(session: Session, letter_id: int, at: datetime) -> Letter:
    """Staff printed the letter for posting or handing over; the first print counts."""
    letter = get_letter(session, letter_id)
    if letter.printed_at is None:
        letter.printed_at = at
    _client_informed(session, letter, at)
    return letter
