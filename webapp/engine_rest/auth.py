"""Who is calling (HTTP Basic or a bearer token) and what their roles let them do.

Argon2 is deliberately slow, and workers send Basic credentials on every poll, so a verified
password is remembered in memory — but only while the stored hash is still the one it matched.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
from dataclasses import dataclass
from enum import Enum
from typing import Any

from flask import Request

from casework.users import Role, StaffUser, authenticate_token, needs_rehash, password_matches
from webapp.engine_rest.errors import Forbidden, Unauthenticated

REALM = 'Basic realm="polku", Bearer realm="polku"'


class Scope(Enum):
    """What an endpoint does, as far as permissions go."""

    EXTERNAL_TASK = "external tasks"
    START = "starting cases"
    READ = "reading cases and tasks"
    MESSAGE = "sending messages"
    ADMIN = "administration"


ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.WORKER: frozenset({Scope.EXTERNAL_TASK}),
    Role.INTEGRATION: frozenset({Scope.EXTERNAL_TASK, Scope.START, Scope.READ, Scope.MESSAGE}),
    Role.ADMIN: frozenset(Scope),
}


@dataclass(frozen=True)
class Caller:
    user_id: str
    roles: frozenset[Role]

    def scopes(self) -> frozenset[Scope]:
        return frozenset().union(*(ROLE_SCOPES.get(r, frozenset()) for r in self.roles))


class _VerifiedPasswords:
    """sha256(user, password) -> the argon2 hash it was verified against; bounded, thread-safe."""

    def __init__(self, size: int = 1000) -> None:
        self.size = size
        self.entries: dict[str, str] = {}
        self.lock = threading.Lock()

    @staticmethod
    def key(user_id: str, password: str) -> str:
        return hashlib.sha256(f"{user_id}\0{password}".encode()).hexdigest()

    def matches(self, key: str, password_hash: str | None) -> bool:
        with self.lock:
            return password_hash is not None and self.entries.get(key) == password_hash

    def remember(self, key: str, password_hash: str | None) -> None:
        if password_hash is None:
            return
        with self.lock:
            if len(self.entries) >= self.size:
                self.entries.clear()
            self.entries[key] = password_hash


verified = _VerifiedPasswords()


def authenticate(request: Request, engine: Any) -> Caller:
    """The caller, or 401 (missing, malformed or wrong credentials; revoked token; inactive user)."""
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if not header:
        raise Unauthenticated("authentication required: HTTP Basic (user id and password) or a bearer token")
    if scheme.lower() == "basic":
        user_id, password = _basic(credentials)
        user = _password_user(engine, user_id, password)
    elif scheme.lower() == "bearer" and credentials:
        with engine.db.transaction() as session:
            user = authenticate_token(session, credentials, engine.clock())
            user = _detached(user)
    else:
        raise Unauthenticated("unsupported Authorization header: use Basic or Bearer")
    if user is None:
        raise Unauthenticated("wrong user id, password or token")
    return user


def authorize(caller: Caller, scope: Scope) -> None:
    if scope not in caller.scopes():
        roles = ", ".join(sorted(r.value for r in caller.roles)) or "none"
        raise Forbidden(f"user '{caller.user_id}' (roles: {roles}) may not use this endpoint ({scope.value})",
                        extra={"userId": caller.user_id, "missingAuthorizations": []})


def _basic(credentials: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise Unauthenticated("malformed HTTP Basic credentials") from None
    user_id, sep, password = decoded.partition(":")
    if not sep or not user_id:
        raise Unauthenticated("malformed HTTP Basic credentials")
    return user_id, password


def _password_user(engine: Any, user_id: str, password: str) -> Caller | None:
    key = verified.key(user_id, password)
    with engine.db.transaction() as session:
        user = session.get(StaffUser, user_id)
        caller, stored = (_detached(user), user.password_hash) if user is not None and user.active else (None, None)
    if caller is not None and verified.matches(key, stored):
        return caller
    if not password_matches(stored, password):  # outside any transaction: argon2 is slow on purpose
        return None
    verified.remember(key, stored)
    if stored is not None and needs_rehash(stored):
        with engine.db.transaction() as session:
            user = session.get(StaffUser, user_id)
            if user is not None and user.password_hash == stored:
                user.verify_password(password)  # stores the upgraded hash
    return caller


def _detached(user: StaffUser | None) -> Caller | None:
    return None if user is None else Caller(user.id, frozenset(user.roles))
