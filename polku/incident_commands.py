"""`polku incidents` and `polku incident retry|resolve`: an operator's view and repairs of failed jobs and timers."""

from __future__ import annotations

import getpass
import json
from datetime import datetime
from typing import Any

import click

from engine.errors import EngineError


def _engine() -> Any:
    from polku.cli import make_engine
    from polku.settings import Settings

    return make_engine(Settings.from_env())


def _actor(by: str | None) -> str:
    if by:
        return by
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (e.g. a bare container)
        raise click.ClickException("cannot tell who you are: say it with --by NAME") from None


def _moment(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise click.ClickException(f"--at is not an ISO 8601 time: {text!r} (e.g. 2026-03-01T08:00+02:00)") from None


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--all", "show_all", is_flag=True, help="Resolved incidents too (who repaired them, how and why).")
def incidents(as_json: bool, show_all: bool) -> None:
    """List open incidents: failed jobs and timers that wait for someone to repair them."""
    rows = _engine().incidents(open_only=not show_all)
    if as_json:
        click.echo(json.dumps([r.as_json() for r in rows], indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no open incidents" if not show_all else "no incidents")
        return
    for r in rows:
        state = "open" if r.open else f"{r.resolution} by {r.resolved_by or '?'}: {r.note or '-'}"
        click.echo(f"{r.id}  {r.kind:<11}  {r.created_at.isoformat(timespec='seconds')}  case {r.case_id}"
                   f"  ({r.business_key or '-'})  at {r.element_id or '-'}  {state}\n    {r.message}")


@click.group()
def incident() -> None:
    """Repair an incident: retry its job or re-arm its timer, or resolve it without a retry."""


@incident.command("retry")
@click.argument("incident_id", type=int)
@click.option("--note", required=True, help="Why: recorded with the incident.")
@click.option("--retries", type=click.IntRange(min=1), default=None,
              help="A failed job's retries (default: the engine's retry strategy, 3).")
@click.option("--at", "at_text", default=None, help="Not before this ISO 8601 time (without a zone: UTC).")
@click.option("--vars", "vars_json", default=None, help="Variables set on the job's or timer's task first (JSON).")
@click.option("--by", default=None, help="Who repairs it (default: your user name).")
def incident_retry(incident_id: int, note: str, retries: int | None, at_text: str | None, vars_json: str | None,
                   by: str | None) -> None:
    """Retry a failed job or re-arm a failed timer, optionally with variables set first (one transaction)."""
    from polku.cli import parse_vars

    variables = parse_vars(vars_json)
    at = _moment(at_text)
    actor = _actor(by)
    try:
        record = _engine().retry_incident(incident_id, actor, note, retries, at, variables)
    except EngineError as err:
        raise click.ClickException(str(err)) from err
    what = "timer re-armed" if record.resolution == "rearmed" else "job retried"
    click.echo(f"incident {record.id}: {what} by {actor}")


@incident.command("resolve")
@click.argument("incident_id", type=int)
@click.option("--note", required=True, help="Why no retry is needed: recorded with the incident.")
@click.option("--by", default=None, help="Who resolves it (default: your user name).")
def incident_resolve(incident_id: int, note: str, by: str | None) -> None:
    """Close an incident without a retry. A failed job stays at 0 retries and is not run again; a timer that still
    waits cannot be resolved (re-arm it, or cancel the case)."""
    actor = _actor(by)
    try:
        record = _engine().resolve_incident(incident_id, actor, note)
    except EngineError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"incident {record.id}: resolved by {actor}")
