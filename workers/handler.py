"""Handlers: `@handler("topic")` functions, the job they receive, and what they may raise."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.jobs import LockedJob
    from workers.services import Services


@dataclass(frozen=True)
class JobContext:
    """What a handler sees of its job: the variables it was given and where the job belongs."""

    id: str
    topic: str
    case_id: str
    business_key: str | None
    variables: Mapping[str, Any] = field(default_factory=dict)
    retries: int | None = None  # None until the job has failed once
    worker_id: str = ""
    lock_expires_at: datetime | None = None
    services: Services | None = None  # Polku's database, clock, keys and mail, when the runner was given them

    @classmethod
    def of(cls, job: LockedJob, services: Services | None = None) -> JobContext:
        return cls(job.id, job.topic, job.case_id, job.business_key, dict(job.variables), job.retries,
                   job.worker_id, job.lock_expires_at, services)

    def need_services(self) -> Services:
        """The services, for handlers that cannot work without them (a Failure says what is missing)."""
        if self.services is None:
            raise Failure(f"topic {self.topic}: the worker was started without Polku's services (database, keys)")
        return self.services


class BpmnError(Exception):
    """Raised by a handler: a business error the process catches with an error boundary event."""

    def __init__(self, code: str, message: str | None = None, variables: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.variables = dict(variables or {})


class Failure(Exception):
    """Raised by a handler: the job failed; retries count down with back-off, at zero an incident opens."""

    def __init__(self, message: str, details: str | None = None, retries: int | None = None,
                 retry_timeout_ms: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.retries = retries
        self.retry_timeout_ms = retry_timeout_ms


Handler = Callable[[JobContext], Mapping[str, Any] | None]


class HandlerRegistry:
    """Topic → handler; a topic registered twice is an error, never a silent override."""

    def __init__(self) -> None:
        self._handlers: dict[str, Handler] = {}

    def register(self, topic: str, fn: Handler) -> Handler:
        if not topic:
            raise ValueError("a handler needs a topic")
        if topic in self._handlers:
            raise ValueError(f"topic '{topic}' already has a handler: {self._handlers[topic].__qualname__}")
        self._handlers[topic] = fn
        return fn

    def handler(self, topic: str) -> Callable[[Handler], Handler]:
        """Decorator: `@registry.handler("topic")`."""
        return lambda fn: self.register(topic, fn)

    def get(self, topic: str) -> Handler:
        try:
            return self._handlers[topic]
        except KeyError:
            raise KeyError(f"no handler for topic '{topic}'") from None

    def topics(self) -> list[str]:
        return sorted(self._handlers)

    def __contains__(self, topic: object) -> bool:
        return topic in self._handlers

    def __len__(self) -> int:
        return len(self._handlers)

    def __iter__(self) -> Iterator[str]:
        return iter(self.topics())


def handler(topic: str, registry: HandlerRegistry | None = None) -> Callable[[Handler], Handler]:
    """Register a handler for `topic` in the built-in registry (or the one given)."""
    if registry is None:
        from workers.builtins import registry as builtin

        registry = builtin
    return registry.handler(topic)
