"""Typed errors of the casework rules; the web app and the workers turn them into messages."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session

T = TypeVar("T")


class CaseworkError(Exception):
    """Base of every error the casework rules raise on purpose."""


class NotFound(CaseworkError):
    """A client, case, user, partner or consent does not exist."""


class Refused(CaseworkError):
    """The action would break a rule of the case manager model; the message says which."""


def get_or_raise(session: Session, model: type[T], key: Any, what: str) -> T:
    """The row with this primary key, or NotFound naming what was looked for."""
    row = session.get(model, key)
    if row is None:
        raise NotFound(f"no {what} {key!r}")
    return row
