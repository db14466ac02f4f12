"""The embedded default: deploy bpmn/ and load demo cases into an empty database."""

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
