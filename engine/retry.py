"""How a failed job is retried: a small value the job code consults, as in RQ and procrastinate."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryDecision:
    """Retry at `at` with `retries_left`; when `retries_left` is 0 an incident opens instead."""

    retries_left: int
    at: datetime | None


@dataclass(frozen=True)
class RetryStrategy:
    """Exponential back-off: base, base*factor, ... capped at `max_delay`."""

    retries: int = 3
    base: timedelta = timedelta(seconds=10)
    factor: float = 2.0
    max_delay: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if self.retries < 0 or self.factor < 1 or self.base.total_seconds() < 0:
            raise ValueError("retries must be >= 0, factor >= 1 and base >= 0")

    def decide(self, now: datetime, retries_left: int | None, requested_retries: int | None,
               requested_timeout: timedelta | None) -> RetryDecision:
        """The worker may say how many retries remain and when (Camunda's API); otherwise back off."""
        left = requested_retries if requested_retries is not None else (
            (self.retries if retries_left is None else retries_left) - 1)
        left = max(left, 0)
        if left == 0:
            return RetryDecision(0, None)
        if requested_timeout is not None:
            return RetryDecision(left, now + requested_timeout)
        return RetryDecision(left, now + self.delay(self.retries - left - 1))

    def delay(self, retry: int) -> timedelta:
        """The wait before retry number `retry` (0 for the first): base * factor**retry, capped."""
        return min(self.base * (self.factor ** max(retry, 0)), self.max_delay)
