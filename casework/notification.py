"""The outbox: every email Polku sends is first a row here, written once per cause, then sent by the mailer.

A handler that runs twice (its lock expired, another worker took the job) enqueues with the same `key`
and gets the first row back, so the client or worker gets one message. The mailer (workers/mail.py)
sends queued rows, retries SMTP failures with back-off and marks each row sent exactly once.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from casework.models import CaseworkBase, UtcDateTime, enum_type
from engine.models import Case


class MessageStatus(enum.Enum):
    QUEUED = "queued"  # waiting for the mailer (next_attempt_at)
    SENT = "sent"
    FAILED = "failed"  # the mailer gave up (permanent SMTP refusal or attempts used up); shown to staff
    HELD = "held"  # no address to send to: staff deliver it another way (without SMTP, rows stay queued)


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    content: bytes


class OutboxMessage(CaseworkBase):
    __tablename__ = "outbox_message"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)  # one row per cause, e.g. "job:<id>:<recipient>"
    case_id: Mapped[str | None] = mapped_column(ForeignKey(Case.id), index=True)
    recipient: Mapped[str] = mapped_column(String(250))  # "staff:<user id>" or "client:<client id>"
    to_address: Mapped[str | None] = mapped_column(String(300))
    language: Mapped[str] = mapped_column(String(5))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[MessageStatus] = mapped_column(enum_type(MessageStatus), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime)  # a mailer is sending it until then
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    attachments: Mapped[list[OutboxAttachment]] = relationship(cascade="all, delete-orphan", lazy="selectin",
                                                               order_by="OutboxAttachment.id")


class OutboxAttachment(CaseworkBase):
    __tablename__ = "outbox_attachment"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_message.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)


def enqueue(session: Session, *, key: str, recipient: str, to_address: str | None, language: str, subject: str,
            body: str, at: datetime, case_id: str | None = None,
            attachments: Sequence[Attachment] = ()) -> OutboxMessage:
    """Queue one message for `key`; a second call with the same key returns the first message unchanged."""
    existing = session.scalar(select(OutboxMessage).where(OutboxMessage.key == key))
    if existing is not None:
        return existing
    message = OutboxMessage(key=key, case_id=case_id, recipient=recipient, to_address=to_address or None,
                            language=language, subject=subject, body=body,
                            status=MessageStatus.QUEUED if to_address else MessageStatus.HELD, attempts=0,
                            next_attempt_at=at, created_at=at,
                            attachments=[OutboxAttachment(filename=a.filename, content_type=a.content_type,
                                                          content=a.content) for a in attachments])
    session.add(message)
    session.flush()
    return message


def messages_of_case(session: Session, case_id: str) -> list[OutboxMessage]:
    return list(session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id)
                                .order_by(OutboxMessage.id)))
