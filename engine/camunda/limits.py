"""The limits an operator may set: how large a diagram may be, how much memory a script may use.

The engine reads no environment: the composition root (`polku`) reads POLKU_MAX_DIAGRAM_BYTES,
POLKU_MAX_DIAGRAM_ELEMENTS and POLKU_SCRIPT_MEMORY_MB into its settings and calls `configure`
once at start. Until then, and in tests, the defaults apply.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    diagram_bytes: int = 5 * 1024 * 1024
    """A BPMN, DMN or form file larger than this is refused before it is parsed."""
    diagram_elements: int = 20_000
    """A file with more XML elements than this is refused before it is parsed (Polku's own largest has 750)."""
    script_memory_mb: int = 256
    """Address space of the process a Python script runs in (RLIMIT_AS)."""

    def __post_init__(self) -> None:
        for name in ("diagram_bytes", "diagram_elements", "script_memory_mb"):
            if getattr(self, name) < 1:
                raise ValueError(f"limit {name} must be positive")
        if self.script_memory_mb < 64:
            raise ValueError("a script process needs at least 64 MB")


_current = Limits()


def configure(limits: Limits) -> None:
    """Set the limits for this process (the settings call this once at start)."""
    global _current
    _current = limits


def current() -> Limits:
    return _current
