"""Typed errors of the engine; the CLI and the web app turn them into messages."""

from __future__ import annotations


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


class DiagramError(EngineError):
    """A BPMN/DMN resource cannot be deployed: names the file, the element and the reason."""

    def __init__(self, reason: str, element_id: str | None = None, file: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.element_id = element_id
        self.file = file

    def line(self) -> str:
        """One line in the `FILE: ELEMENT_ID: reason` form used by `polku validate`."""
        return f"{self.file or '-'}: {self.element_id or '-'}: {self.reason}"

    def __str__(self) -> str:
        return self.line()


class ValidationFailed(EngineError):
    """A deployment has several problems; each one is a DiagramError."""

    def __init__(self, problems: list[DiagramError]) -> None:
        super().__init__("; ".join(p.line() for p in problems))
        self.problems = problems


class ExpressionError(EngineError):
    """An expression or script cannot be compiled or evaluated safely."""


class FormError(EngineError):
    """Submitted form data breaks the form's fields; `errors` maps field id to message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class NotFound(EngineError):
    """A case, task, job or definition does not exist."""


class Conflict(EngineError):
    """The action lost a race or no longer applies (task already completed, job lock lost)."""


class ProcessError(EngineError):
    """Running the process failed at an element (expression error, unhandled BPMN error)."""

    def __init__(self, message: str, element_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.element_id = element_id


class StateVersionError(EngineError):
    """A case's saved state has a version this code cannot read (newer, unknown, or a failed upgrade)."""


class OutcomeNotStored(EngineError):
    """A job's outcome was refused (by the case or the database) and counted as a failed attempt instead.

    `message` is what the job's error message now says; `retries_left` 0 means an incident was opened;
    `by_database` tells a value the database would not store from a process that cannot go on.
    """

    def __init__(self, job_id: str, message: str, retries_left: int, by_database: bool,
                 element_id: str | None = None) -> None:
        super().__init__(f"job {job_id}: the outcome could not be stored: {message}")
        self.job_id = job_id
        self.message = message
        self.retries_left = retries_left
        self.by_database = by_database
        self.element_id = element_id  # where the process failed on it, when it did
