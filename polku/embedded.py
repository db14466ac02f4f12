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
    from casework.errors import CaseworkError
    from polku.demo import load_demo
    from workers.services import Services

    try:
        load_demo(engine, Services.of(engine, settings.secret_key, settings.mail))
    except (EngineError, CaseworkError):
        log.exception("demo data could not be loaded")


def start_workers(engine: Any, settings: Settings) -> Any:
    """Run every registered handler on a background Runner; None when no handler is registered.

    With an SMTP server configured, the mailer runs beside it (stop it with stop_mailers()).
    """
    from workers.builtins import load
    from workers.runner import Runner, default_worker_id, start_background
    from workers.services import Services

    registry = load(settings.handler_modules)
    start_mailer(engine, settings)
    if not len(registry):
        return None
    runner = Runner(engine, registry, worker_id=f"embedded-{default_worker_id()}",
                    services=Services.of(engine, settings.secret_key, settings.mail))
    start_background(runner)
    return runner


_mailers: list[Any] = []  # the mailers start_mailer started, for stop_mailers at exit


def start_mailer(engine: Any, settings: Settings) -> Any:
    """Send the outbox on a background Mailer when an SMTP server is configured; None otherwise."""
    if settings.mail is None:
        return None
    from workers.mail import Mailer
    from workers.mail import start_background as start_mail_background
    from workers.services import Services

    mailer = Mailer(Services.of(engine, settings.secret_key, settings.mail))
    start_mail_background(mailer)
    _mailers.append(mailer)
    return mailer


def stop_mailers(timeout_s: float = 35.0) -> None:
    """Stop the mailers start_mailer started and wait for a send in progress (one SMTP time-out at most)."""
    while _mailers:
        mailer = _mailers.pop()
        mailer.stop()
        mailer.stopped.wait(timeout_s)
