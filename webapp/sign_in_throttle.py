"""One sign-in throttle per app (casework/sign_in_limits.py), shared by every way of signing in.

HTTP Basic on /engine-rest uses it now; the sign-in page calls `limited` the same way, so a guesser
cannot spread guesses over both. The clock is the engine's, so tests move it instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from flask import Flask, current_app, request

from casework.sign_in_limits import SignInLimits, SignInThrottle
from engine.clock import utcnow

EXTENSION = "polku.sign_in_throttle"
T = TypeVar("T")


def init_app(app: Flask) -> None:
    """Build the app's throttle from SIGN_IN_LIMIT_ACCOUNT, SIGN_IN_LIMIT_ADDRESS and SIGN_IN_WINDOW_S."""
    limits = SignInLimits(per_account=int(app.config["SIGN_IN_LIMIT_ACCOUNT"]),
                          per_address=int(app.config["SIGN_IN_LIMIT_ADDRESS"]),
                          window=timedelta(seconds=int(app.config["SIGN_IN_WINDOW_S"])))
    engine = app.config.get("ENGINE")
    app.extensions[EXTENSION] = SignInThrottle(limits, engine.clock if engine is not None else utcnow)


def throttle() -> SignInThrottle:
    throttle: SignInThrottle = current_app.extensions[EXTENSION]
    return throttle


def limited(account: str | None, check: Callable[[], T | None]) -> T | None:
    """Run a credential check for `account` (None: not known, e.g. a token) from this request's address.

    casework.sign_in_limits.TooManyFailures before the check when the account or the address has used up
    its failures; a check that returns None is a failure; one that raises (the database is down) is not.
    """
    limiter = throttle()
    attempt = limiter.begin(account, request.remote_addr)
    try:
        result = check()
    except BaseException:
        limiter.release(attempt)
        raise
    if result is not None:
        limiter.release(attempt)
    return result
