"""The embedded default: deploy bpmn/, load demo cases into an empty database, run the workers in-process."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from engine.errors import EngineError
from polku.resources import collect_dir
from polku.settings import VAR, Settings

log = logging.getLogger("polku.embedded")


def prepare(engine: Any, settings: Settings, var_dir: Path | None = None,
            say: Callable[[str], None] = click.echo) -> None:
    """Deploy the process files; on a database with no cases, load the demo (staff, team, cases).

    Demo staff sign in with POLKU_DEMO_PASSWORD, or a password generated into var/demo_password and
    shown by `say` only when generated; later starts say where it is.
    """
    from polku.demo import TEAM, demo_password, load_demo, sign_in_note

    resources = collect_dir(settings.bpmn_dir)
    if not resources:
        return
    engine.deploy(resources, name="bpmn/", source=str(settings.bpmn_dir))
    var = VAR if var_dir is None else var_dir
    if engine.cases(limit=1):
        if _demo_loaded(engine, TEAM[0]):
            say(_later_note(var))
        return
    from casework.errors import CaseworkError
    from workers.services import Services

    password = demo_password(var)
    try:
        load_demo(engine, Services.of(engine, settings.secret_key, settings.mail, settings.base_url),
                  password.password)
    except (EngineError, CaseworkError):
        log.exception("demo data could not be loaded")
        if not _demo_loaded(engine, TEAM[0]):
            return  # no demo accounts: nothing to sign in with
    say(sign_in_note(password))


def _demo_loaded(engine: Any, team_id: str) -> bool:
    from casework.teams import Team

    with engine.db.read() as session:
        return session.get(Team, team_id) is not None


def _later_note(var: Path) -> str:
    """A later start names where the demo password is, never the password itself."""
    from polku.demo import DEMO_USERS, PASSWORD_FILE, PASSWORD_VARIABLE, DemoPassword, sign_in_note

    if os.environ.get(PASSWORD_VARIABLE) or not (var / PASSWORD_FILE).exists():
        where = PASSWORD_VARIABLE if os.environ.get(PASSWORD_VARIABLE) else "the password set when the demo loaded"
        return f"Demo staff sign in with {where}: {', '.join(DEMO_USERS)}"
    return sign_in_note(DemoPassword("", var / PASSWORD_FILE, False))


def check_staffing(engine: Any, settings: Settings) -> None:
    """One staffing check: each standing alarm gets its one team lead task (casework.staffing); errors are logged."""
    from datetime import timedelta

    from casework.staffing import raise_alarm_tasks

    try:
        result = raise_alarm_tasks(engine, engine.clock(), inform_within=timedelta(days=settings.inform_client_days))
    except Exception:  # noqa: BLE001 - a failed check must not stop the scheduler; the next one tries again
        log.exception("the staffing check failed")
        return
    if result.raised or result.cleared:
        log.info("staffing check: %d alarm task(s) raised, %d withdrawn, %d alarm(s) standing",
                 len(result.raised), result.cleared, result.standing)


def check_letters(engine: Any, settings: Settings) -> None:
    """One letter check: each letter not delivered within POLKU_LETTER_DELIVERY_DAYS is one case manager task
    (casework.letter.undelivered), withdrawn once the letter is delivered; errors are logged."""
    from datetime import timedelta

    from casework.letter.undelivered import raise_letter_tasks

    try:
        result = raise_letter_tasks(engine, engine.clock(), within=timedelta(days=settings.letter_delivery_days))
    except Exception:  # noqa: BLE001 - a failed check must not stop the scheduler; the next one tries again
        log.exception("the letter delivery check failed")
        return
    if result.raised or result.withdrawn:
        log.info("letter check: %d task(s) raised, %d withdrawn", len(result.raised), result.withdrawn)


def start_staffing_checks(engine: Any, settings: Settings) -> Any:
    """Run `check_staffing` and `check_letters` now and every POLKU_STAFFING_CHECK_MINUTES on a background APScheduler.

    It lives here, in the composition root, because it joins casework (the alarms) and the engine (the
    task's case); the engine's own scheduler knows no casework. Several schedulers may run it at once:
    casework.staffing records each alarm once. Stop it with `.shutdown()`. It also refreshes the management
    view's summary tables every POLKU_SUMMARY_REFRESH_SECONDS (casework.step_summary; safe to run concurrently).
    """
    from datetime import UTC, datetime

    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(check_staffing, "interval", minutes=settings.staffing_check_minutes, args=[engine, settings],
                      id="polku-staffing-check", max_instances=1, coalesce=True, next_run_time=datetime.now(UTC))
    scheduler.add_job(check_letters, "interval", minutes=settings.staffing_check_minutes, args=[engine, settings],
                      id="polku-letter-check", max_instances=1, coalesce=True, next_run_time=datetime.now(UTC))
    scheduler.add_job(refresh_summary, "interval", seconds=settings.summary_refresh_seconds, args=[engine],
                      id="polku-summary-refresh", max_instances=1, coalesce=True, next_run_time=datetime.now(UTC))
    scheduler.start()
    return scheduler


def refresh_summary(engine: Any) -> None:
    """Recompute the management view's summary tables (casework.step_summary); safe beside other schedulers."""
    from casework.step_summary import refresh_summary as refresh

    try:
        done = refresh(engine)
    except Exception:  # a failed round is retried at the next interval; the page shows how old its figures are
        log.exception("summary refresh failed")
        return
    log.info("summary refresh: %d waits, %d durations counted in %d ms", done.waiting, done.counted, done.took_ms)


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
                    services=Services.of(engine, settings.secret_key, settings.mail, settings.base_url))
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

    mailer = Mailer(Services.of(engine, settings.secret_key, settings.mail, settings.base_url))
    start_mail_background(mailer)
    _mailers.append(mailer)
    return mailer


def stop_mailers(timeout_s: float = 35.0) -> None:
    """Stop the mailers start_mailer started and wait for a send in progress (one SMTP time-out at most)."""
    while _mailers:
        mailer = _mailers.pop()
        mailer.stop()
        mailer.stopped.wait(timeout_s)
