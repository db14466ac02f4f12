"""The built-in registry `polku worker` and `polku serve` run; handler modules register into it on import."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from workers.handler import HandlerRegistry

registry = HandlerRegistry()

# Modules of Polku's own handlers, one per part of the process (bpmn/README.md lists the topics).
BUILTIN_MODULES: tuple[str, ...] = (
    "workers.referral",
    "workers.case_manager",
    "workers.plan",
    "workers.network",
    "workers.closure",
    "workers.follow_up",
    "workers.network_meeting",
    "workers.notifications",
    "workers.letters",
)


def load(modules: Iterable[str] = ()) -> HandlerRegistry:
    """Import the built-in handler modules and `modules` (e.g. from POLKU_HANDLER_MODULES); return the registry."""
    for name in (*BUILTIN_MODULES, *modules):
        importlib.import_module(name)  # a module already imported is not run again, so nothing registers twice
    return registry
