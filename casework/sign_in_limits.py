"""How many failed sign-ins an account and an address may have before they must wait.

Each password guess costs the server an argon2 hash, on purpose; unlimited guesses are both a way in
and a way to keep every core busy. Failures are counted per account (any id: an unknown one counts
like a real one, so being refused tells nothing about which accounts exist) and per address, over a
sliding window. An attempt takes its slot *before* the password is checked and gives it back only if
the password was right, so parallel guesses are counted as they arrive, not after their hashes ran;
once either count is full, attempts are refused before any hash is computed.

A success does not wipe earlier failures (a worker signing in every few seconds would otherwise
reset an attacker's count each time); they age out of the window. The counts live in this process's
memory: behind several web processes each counts on its own, so the effective limits multiply.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from casework.errors import CaseworkError


@dataclass(frozen=True)
class SignInLimits:
    """Failed sign-ins allowed per account and per address within `window`."""

    per_account: int = 10
    per_address: int = 50
    window: timedelta = timedelta(minutes=15)

    def __post_init__(self) -> None:
        if self.per_account < 1 or self.per_address < 1 or self.window <= timedelta(0):
            raise ValueError("sign-in limits must allow at least one failure over a window longer than zero")


class TooManyFailures(CaseworkError):
    """The account or the address has used up its failed sign-ins; `retry_after` is when one frees up."""

    def __init__(self, message: str, retry_after: timedelta) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def retry_after_s(self) -> int:
        return max(1, math.ceil(self.retry_after.total_seconds()))


@dataclass(eq=False)
class Attempt:
    """A sign-in attempt holding a slot in each of its counts until it is known to have succeeded."""

    keys: tuple[str, ...]
    at: datetime
    released: bool = False


class SignInThrottle:
    """The failure counts of one process; thread-safe, bounded to `max_keys` counted accounts and addresses."""

    def __init__(self, limits: SignInLimits, clock: Callable[[], datetime], max_keys: int = 100_000) -> None:
        self.limits = limits
        self.clock = clock
        self.max_keys = max_keys
        self._failures: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def begin(self, account: str | None, address: str | None) -> Attempt:
        """Take a slot for an attempt to sign in as `account` from `address` (either may be unknown: None).

        TooManyFailures, and nothing counted, when either is used up.
        """
        now = self.clock()
        counted = [(key, limit, what) for key, limit, what in (
            (_account_key(account), self.limits.per_account, "this account"),
            (_address_key(address), self.limits.per_address, "this address"),
        ) if key is not None]
        with self._lock:
            for key, limit, what in counted:
                failures = self._recent(key, now)
                if len(failures) >= limit:
                    wait = failures[0] + self.limits.window - now
                    raise TooManyFailures(f"too many failed sign-ins for {what}", wait)
            self._make_room(now, len(counted))
            for key, _limit, _what in counted:
                self._failures.setdefault(key, deque()).append(now)
        return Attempt(tuple(key for key, _limit, _what in counted), now)

    def release(self, attempt: Attempt) -> None:
        """The attempt succeeded (or could not be decided): its slots are given back; earlier failures stay."""
        with self._lock:
            if attempt.released:
                return
            attempt.released = True
            for key in attempt.keys:
                failures = self._failures.get(key)
                if failures is not None and attempt.at in failures:
                    failures.remove(attempt.at)
                    if not failures:
                        del self._failures[key]

    def __len__(self) -> int:
        """How many accounts and addresses have failures counted (the table is bounded by `max_keys`)."""
        with self._lock:
            return len(self._failures)

    def failures(self, account: str | None = None, address: str | None = None) -> int:
        """How many failures (and attempts under way) count against the account or the address now."""
        key = _account_key(account) if account is not None else _address_key(address)
        with self._lock:
            return len(self._recent(key, self.clock())) if key is not None else 0

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        cutoff = now - self.limits.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures

    def _make_room(self, now: datetime, needed: int) -> None:
        """Keep the table bounded: drop aged-out counts, then the oldest, down to 90% so this runs rarely."""
        if len(self._failures) + needed <= self.max_keys:
            return
        for key in list(self._failures):
            self._recent(key, now)
        target = int(self.max_keys * 0.9)
        for key in list(self._failures)[:max(0, len(self._failures) + needed - target)]:
            del self._failures[key]


def _account_key(account: str | None) -> str | None:
    """The account's count, keyed by a digest: a password typed into the user id field is not kept readable."""
    if account is None:
        return None
    return "account:" + hashlib.blake2b(account.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _address_key(address: str | None) -> str | None:
    return None if not address else f"address:{address}"
