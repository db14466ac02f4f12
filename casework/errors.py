"""Typed errors of the casework rules; the web app and the workers turn them into messages."""

from __future__ import annotations


class CaseworkError(Exception):
    """Base of every error the casework rules raise on purpose."""


class NotFound(CaseworkError):
    """A client, case, user, partner or consent does not exist."""


class Refused(CaseworkError):
    """The action would break a rule of the case manager model; the message says which."""
