"""Errors in Camunda's shape: a status code and {"type": ExceptionClass, "message": ...}."""

from __future__ import annotations

from typing import Any


class RestError(Exception):
    """An error response; `type` is the Camunda exception class name clients switch on."""

    status = 500
    type = "RestException"

    def __init__(self, message: str, status: int | None = None, type_: str | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if type_ is not None:
            self.type = type_
        self.extra = extra or {}

    def body(self) -> dict[str, Any]:
        return {"type": self.type, "message": self.message, **self.extra}


class InvalidRequest(RestError):
    """Bad input: 400 InvalidRequestException."""

    status = 400
    type = "InvalidRequestException"


class Missing(RestError):
    """An unknown id: 404 InvalidRequestException, as Camunda answers for external tasks and instances."""

    status = 404
    type = "InvalidRequestException"


class BadUserRequest(RestError):
    """The request cannot apply now (lock held by another worker, lock lost): 400 BadUserRequestException."""

    status = 400
    type = "BadUserRequestException"


class Unauthenticated(RestError):
    status = 401
    type = "AuthenticationException"


class Forbidden(RestError):
    status = 403
    type = "AuthorizationException"


class TooManyAttempts(RestError):
    """Too many failed authentications from this account or address: 429, and Retry-After says when to try."""

    status = 429
    type = "AuthenticationException"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
