"""Who is calling (HTTP Basic or a bearer token) and what their roles let them do.

Argon2 is deliberately slow, and workers send Basic credentials on every poll, so a verified
password is remembered in memory — but only while the stored hash is still the one it matched.
No entry is a plain hash of a password: each is keyed by an HMAC under a random key that lives
only in this process, so the entries alone (in a debugging dump, say) give nothing to guess
passwords against, and no two processes or restarts share a key.

Failed password checks are limited per account and per address (webapp/sign_in_throttle.py): past
the limit the answer is 429 before any password is hashed. Bearer tokens are not limited: one is 32
random bytes checked with one SHA-256, so guessing is hopeless and cheap to refuse, and a worker with
a token keeps working while someone guesses its account's password (or shares its proxy's address).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass
from enum import Enum
from typing import Any

from flask import Request

from casework.sign_in_limits import TooManyFailures
from casework.users import Role, StaffUser, authenticate_token, needs_rehash, password_matches
from webapp.engine_rest.errors import Forbidden, TooManyAttempts, Unauthenticated
from webapp.engine_rest.json_input import bad_text
from webapp.sign_in_throttle import limited

REALM = 'Basic realm="polku", Bearer realm="polku"'


class Scope(Enum):
    """What an endpoint does, as far as permissions go."""

    EXTERNAL_TASK = "external tasks"
    START = "starting cases"
    READ = "reading cases and tasks"
    MESSAGE = "sending messages"
    TASK = "user tasks"  # Camunda's /task: people by the inbox's rules; machine accounts read only
    ADMIN = "administration"


ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.WORKER: frozenset({Scope.EXTERNAL_TASK}),
    Role.INTEGRATION: frozenset({Scope.EXTERNAL_TASK, Scope.START, Scope.READ, Scope.MESSAGE, Scope.TASK}),
    Role.COORDINATOR: frozenset({Scope.TASK}),
    Role.CASE_MANAGER: frozenset({Scope.TASK}),
    Role.TEAM_LEAD: frozenset({Scope.TASK}),
    Role.ADMIN: frozenset(Scope),
}


@dataclass(frozen=True)
class Caller:
    user_id: str
    roles: frozenset[Role]

    def scopes(self) -> frozenset[Scope]:
        return frozenset().union(*(ROLE_SCOPES.get(r, frozenset()) for r in self.roles))


class _VerifiedPasswords:
    """HMAC(process key, user, password) -> the argon2 hash it was verified against; bounded, thread-safe."""

    def __init__(self, size: int = 1000) -> None:
        self.size = size
        self.entries: dict[str, str] = {}
        self.lock = threading.Lock()
        self._key = secrets.token_bytes(32)  # never stored or logged: a restart forgets every entry

    def key(self, user_id: str, password: str) -> str:
        # The user id's length first, so that no other (user, password) pair gives the same message.
        message = f"{len(user_id)}:{user_id}:{password}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

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
    """The caller, or 401 (missing, malformed or wrong credentials; revoked token; inactive user), or 429
    once the account or the address has failed too many password checks (no password is checked then)."""
    header = request.headers.get("Authorization", "")
    if not header:
        raise Unauthenticated("authentication required: HTTP Basic (user id and password) or a bearer token")
    credentials = request.authorization  # Werkzeug's parser; None when the header cannot be read
    scheme = credentials.type if credentials is not None else header.partition(" ")[0].lower()
    try:
        if scheme == "basic":
            # a NUL is no user id, and the database would refuse to look it up
            if credentials is None or not credentials.username or bad_text(credentials.username) is not None:
                raise Unauthenticated("malformed HTTP Basic credentials")
            user_id, password = credentials.username, credentials.password or ""
            caller = limited(user_id, lambda: _password_user(engine, user_id, password))
        elif scheme == "bearer" and credentials is not None and credentials.token:
            caller = _token_user(engine, credentials.token)
        else:
            raise Unauthenticated("unsupported Authorization header: use Basic or Bearer")
    except TooManyFailures as err:
        raise TooManyAttempts(f"{err}; try again in {err.retry_after_s} s", err.retry_after_s) from None
    if caller is None:
        raise Unauthenticated("wrong user id, password or token")
    return caller


def authorize(caller: Caller, scope: Scope) -> None:
    if scope not in caller.scopes():
        roles = ", ".join(sorted(r.value for r in caller.roles)) or "none"
        raise Forbidden(f"user '{caller.user_id}' (roles: {roles}) may not use this endpoint ({scope.value})",
                        extra={"userId": caller.user_id, "missingAuthorizations": []})


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


def _token_user(engine: Any, token: str) -> Caller | None:
    with engine.db.transaction() as session:
        return _detached(authenticate_token(session, token, engine.clock()))


def _detached(user: StaffUser | None) -> Caller | None:
    return None if user is None else Caller(user.id, frozenset(user.roles))
