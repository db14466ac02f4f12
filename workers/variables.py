"""Reading process variables the way forms and the REST API deliver them (strings, ISO dates, None)."""

from __future__ import annotations

from typing import Any

from casework.values import as_date, text
from workers.handler import Failure

__all__ = ["as_date", "required", "text"]


def required(variables: dict[str, Any] | Any, name: str, topic: str) -> str:
    """A variable the job cannot do without; missing is the process's error, so no retries."""
    value = text(variables.get(name))
    if value is None:
        raise Failure(f"{topic}: the variable {name} is missing", retries=0)
    return value
