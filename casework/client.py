"""Clients (asiakas): who they are and how to reach them; the identity code only in protected form."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import LargeBinary, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from casework.errors import CaseworkError, get_or_raise
from casework.identity_code import IdentityCodeKeys, parse
from casework.models import CaseworkBase, UtcDateTime, enum_type


class Language(enum.Enum):
    FI = "fi"
    SV = "sv"
    EN = "en"


class ClientExists(CaseworkError):
    """A client with this identity code is already registered; `client_id` names them."""

    def __init__(self, client_id: str) -> None:
        super().__init__("a client with this identity code is already registered")
        self.client_id = client_id


class Client(CaseworkBase):
    __tablename__ = "client"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    identity_code_hash: Mapped[str] = mapped_column(String(64), unique=True)  # keyed HMAC, for search
    identity_code_sealed: Mapped[bytes] = mapped_column(LargeBinary)  # AES-GCM, for authorised display
    phone: Mapped[str | None] = mapped_column(String(50))
    email: Mapped[str | None] = mapped_column(String(300))
    language: Mapped[Language] = mapped_column(enum_type(Language))
    municipality: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


def register_client(session: Session, keys: IdentityCodeKeys, *, name: str, identity_code: str, at: datetime,
                    language: Language = Language.FI, phone: str | None = None, email: str | None = None,
                    municipality: str | None = None) -> Client:
    """A new client; refuses an invalid code (InvalidIdentityCode) or one already registered (ClientExists)."""
    if not name.strip():
        raise CaseworkError("the client's name is required")
    sealed = keys.seal(parse(identity_code))
    existing = session.scalar(select(Client.id).where(Client.identity_code_hash == sealed.search_hash))
    if existing is not None:
        raise ClientExists(existing)
    client = Client(id=str(uuid.uuid4()), name=name.strip(), identity_code_hash=sealed.search_hash,
                    identity_code_sealed=sealed.ciphertext, phone=phone, email=email, language=language,
                    municipality=municipality, created_at=at)
    session.add(client)
    session.flush()
    return client


def find_by_identity_code(session: Session, keys: IdentityCodeKeys, identity_code: str) -> Client | None:
    """The client with exactly this code (spaces and case ignored), or None."""
    return session.scalar(select(Client).where(Client.identity_code_hash == keys.search_hash(identity_code)))


def get_client(session: Session, client_id: str) -> Client:
    return get_or_raise(session, Client, client_id, "client")


def identity_code_of(keys: IdentityCodeKeys, client: Client) -> str:
    """The plain code for an authorised view; the caller must write the access log."""
    return keys.reveal(client.identity_code_sealed)
