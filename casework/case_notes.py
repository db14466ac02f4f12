"""Notes on a case: written by the case team, or by a network partner about their referral.

A note is visible to the case team only, or also to the network partners who work with the client with
the client's valid consent (`Visibility.NETWORK`). A partner's own note (about the referral addressed
to them) is always visible to the case team.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from casework.models import CaseworkBase, UtcDateTime, enum_type


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
