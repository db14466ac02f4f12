"""The embedded default: deploy bpmn/, load demo cases into an empty database, run the workers in-process."""

from __future__ import annotations

import logging
from typing import Any

from engine.errors import EngineError
from polku.resources import collect_dir
from polku.settings import Settings

log = logging.getLogger("polku.embedded")


def prepare(engine: Any, settings: Settings) -> None:
    """Deploy the process files; on a database with no cases, start the demo cases."""
    resources = collect_dir(settings.bpmn_dir)
    if not resources:
        return
    engine.deploy(resources, name="bpmn/", source=str(settings.bpmn_dir))
    if engine.cases(limit=1):
        return
    from polku.demo import load_demo

    try:
        load_demo(engine)
    except EngineError:
        log.exception("demo data could not be loaded")


def start_workers(engine: Any, settings: Settings) -> Any:
    """Run every registered handler on a background Runner; None when no handler is registered."""
    from workers.builtins import load
    from workers.runner import Runner, default_worker_id, start_background
    from workers.services import Services

    registry = load(settings.handler_modules)
    if not len(registry):
        return None
    runner = Runner(engine, registry, worker_id=f"embedded-{default_worker_id()}",
                    services=Services.of(engine, settings.secret_key, settings.mail))
    start_background(runner)
    return runner

