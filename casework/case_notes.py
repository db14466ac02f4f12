"""Notes on a case: written by the case team, or by a network partner about their referral.

A note is visible to the case team only, or also to the network partners who work with the client with
the client's valid consent (`Visibility.NETWORK`). A partner's own note (about the referral addressed
to them) is always visible to the case team.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, func, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from casework.errors import CaseworkError
from casework.models import CaseworkBase, UtcDateTime, enum_type
from casework.staff import Staff
from casework.users import Role


class Visibility(enum.Enum):
    CASE_TEAM = "case_team"  # the case manager, the case's team and its team lead
    NETWORK = "network"  # also network partners working with the client, with the client's consent


class CaseNote(CaseworkBase):
    __tablename__ = "case_note"
    __table_args__ = (Index("ix_case_note_case_id", "case_id", "created_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("client_case.case_id"))
    author_id: Mapped[str] = mapped_column(String(200))
    author_name: Mapped[str] = mapped_column(String(300))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("network_partner.id"))  # written by a partner
    referral_id: Mapped[str | None] = mapped_column(String(36))  # the partner referral it is about
    visibility: Mapped[Visibility] = mapped_column(enum_type(Visibility))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


MAX_NOTE = 4000  # characters: a note, not a document


class InvalidNote(CaseworkError):
    """The note cannot be saved as written; `problem` says why: "empty", "too_long" or "visibility"."""

    def __init__(self, problem: str, message: str) -> None:
        super().__init__(message)
        self.problem = problem


def parse_visibility(value: str | Visibility | None) -> Visibility:
    """A visibility from a form or JSON value (case_team / network); InvalidNote("visibility") otherwise."""
    if isinstance(value, Visibility):
        return value
    try:
        return Visibility(str(value or "").strip())
    except ValueError:
        raise InvalidNote("visibility", "choose who sees the note: case_team or network") from None


def add_note(session: Session, case_id: str, author: Staff, text: str, visibility: str | Visibility,
             at: datetime, referral_id: str | None = None) -> CaseNote:
    """A new note on the case; InvalidNote when empty, too long or of an unknown visibility.

    The caller has checked with `casework.case_access` that the author may open the case (or, for a partner,
    the referral the note is about). A partner's note names their organisation.
    """
    text = (text or "").strip()
    if not text:
        raise InvalidNote("empty", "a note needs some text")
    if len(text) > MAX_NOTE:
        raise InvalidNote("too_long", f"a note has at most {MAX_NOTE} characters")
    chosen = parse_visibility(visibility)
    partner_id = author.partner_id if author.has(Role.PARTNER) else None
    note = CaseNote(case_id=case_id, author_id=author.id, author_name=author.name, partner_id=partner_id,
                    referral_id=referral_id, visibility=chosen, text=text, created_at=at)
    session.add(note)
    session.flush()
    return note


def notes_of(session: Session, case_id: str, for_partner: int | None = None) -> list[CaseNote]:
    """The case's notes, oldest first: all of them for the case team; for a partner (`for_partner`: its id)
    only those shared with the network and the partner's own (the caller has checked the client's consent)."""
    query = select(CaseNote).where(CaseNote.case_id == case_id)
    if for_partner is not None:
        query = query.where(or_(CaseNote.visibility == Visibility.NETWORK, CaseNote.partner_id == for_partner))
    return list(session.scalars(query.order_by(CaseNote.created_at, CaseNote.id)))


def note_count(session: Session, case_id: str) -> int:
    return int(session.scalar(select(func.count()).select_from(CaseNote).where(CaseNote.case_id == case_id)) or 0)
