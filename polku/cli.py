"""The `polku` command: the composition root above engine, casework, workers and webapp."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import click

from engine.errors import EngineError, ValidationFailed
from polku import resources
from polku.settings import Settings


def collect(paths: tuple[str, ...]) -> dict[str, bytes]:
    try:
        files = resources.collect(paths)
    except FileNotFoundError as err:
        raise click.ClickException(str(err)) from err
    if not files:
        raise click.ClickException("no BPMN, DMN or form files given")
    return files


def parse_vars(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise click.ClickException(f"--vars is not valid JSON: {err.msg} at position {err.pos}") from err
    if not isinstance(value, dict):
        raise click.ClickException("--vars must be a JSON object")
    return value


def make_engine(settings: Settings) -> Any:
    from engine.camunda import limits
    from engine.db import Database
    from engine.runtime import Engine
    from polku.migrate import upgrade

    limits.configure(settings.limits)
    upgrade(settings.database_url)
    return Engine(Database(settings.database_url))


@click.group()
def cli() -> None:
    """Polku: case management for work ability support."""


def main() -> None:
    """Entry point: bad input ends with a one-line message, never a traceback (POLKU_DEBUG=1 shows it)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        cli(standalone_mode=True)
    except (EngineError, OSError, ValueError) as err:
        if os.environ.get("POLKU_DEBUG"):
            raise
        click.echo(f"Error: {err}", err=True)
        sys.exit(1)
    except SQLAlchemyError as err:  # a bad POLKU_DATABASE_URL, an unreachable server, a file that is no database
        if os.environ.get("POLKU_DEBUG"):
            raise
        reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0]
        click.echo(f"Error: cannot use the database (POLKU_DATABASE_URL): {reason}", err=True)
        sys.exit(1)


@cli.command()
@click.argument("paths", nargs=-1, required=True)
def validate(paths: tuple[str, ...]) -> None:
    """Check that the files deploy; print FILE: ELEMENT_ID: reason per problem."""
    from engine.camunda import limits
    from engine.definitions import DefinitionStore
    from polku.settings import engine_limits

    limits.configure(engine_limits(dict(os.environ)))
    try:
        parsed = DefinitionStore.validate(collect(paths))
    except ValidationFailed as err:
        for problem in err.problems:
            click.echo(problem.line())
        sys.exit(1)
    for warning in parsed.warnings:
        click.echo(f"warning: {warning.line()}", err=True)
    click.echo(f"ok: {len(parsed.processes)} process(es): {', '.join(sorted(parsed.processes))}")


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--name", default="cli", help="Deployment name.")
def deploy(paths: tuple[str, ...], name: str) -> None:
    """Deploy the files as new versions (identical content is a no-op)."""
    engine = make_engine(Settings.from_env())
    try:
        result = engine.deploy(collect(paths), name=name, source="polku deploy")
    except ValidationFailed as err:
        for problem in err.problems:
            click.echo(problem.line(), err=True)
        sys.exit(1)
    for key, version, created in result.definitions:
        click.echo(f"{key} v{version}{'' if created else ' (unchanged)'}")


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the schema migrations."""
    from polku.migrate import upgrade

    settings = Settings.from_env()
    upgrade(settings.database_url)
    click.echo("database is up to date")


@cli.command()
@click.argument("key")
@click.option("--business-key", default=None)
@click.option("--vars", "vars_json", default=None, help="Variables as a JSON object.")
def start(key: str, business_key: str | None, vars_json: str | None) -> None:
    """Start a case of the latest version of KEY and print its id."""
    settings = Settings.from_env()
    engine = make_engine(settings)
    try:
        variables = received(engine, settings, parse_vars(vars_json))
        click.echo(engine.start(key, business_key, variables, actor="cli"))
    except EngineError as err:
        raise click.ClickException(str(err)) from err


def received(engine: Any, settings: Settings, variables: dict[str, Any]) -> dict[str, Any]:
    """A referral's identity code goes to the client record (casework/referral.py), never into the case."""
    from casework.errors import CaseworkError
    from casework.identity_code import IdentityCodeKeys
    from casework.referral import carries_identity_code, receive_referral

    if not carries_identity_code(variables):
        return variables
    try:
        with engine.db.transaction() as session:
            return receive_referral(session, IdentityCodeKeys(settings.secret_key), variables, engine.clock())
    except CaseworkError as err:
        raise click.ClickException(f"cannot receive the referral: {err}") from err


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def cases(as_json: bool) -> None:
    """List cases with their status, version and what they wait for."""
    engine = make_engine(Settings.from_env())
    rows = engine.cases()
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for case in rows:
        waits = ", ".join(f"{w['kind']}:{w['id']}" for w in case["waiting"]) or "-"
        click.echo(f"{case['id']}  {case['key']} v{case['version']}  {case['status']:<9}  {waits}")


@cli.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--process", default=None, help="Process id to start (default: the only main one).")
@click.option("--vars", "vars_json", default=None, help="Variables as a JSON object.")
@click.option("--drive", is_flag=True, help="Complete tasks and jobs and fire timers until done.")
@click.option("--max-steps", default=200, show_default=True)
def simulate(files: tuple[str, ...], process: str | None, vars_json: str | None, drive: bool, max_steps: int) -> None:
    """Dry-run a process in a throw-away database and print one JSON object."""
    from engine.simulate import simulate as run

    resources = collect(files)
    variables = parse_vars(vars_json)
    try:
        result = run(resources, process, variables, drive, max_steps)
    except ValidationFailed as err:
        for problem in err.problems:
            click.echo(problem.line(), err=True)
        sys.exit(2)
    except EngineError as err:
        raise click.ClickException(str(err)) from err
    click.echo(json.dumps(result, ensure_ascii=False, default=str))
    sys.exit(0 if result["status"] in ("completed", "waiting") else 1)


@cli.command()
@click.option("--interval", default=1.0, show_default=True, type=click.FloatRange(min=0, min_open=True),
              help="Seconds between rounds; each round fires everything due before it sleeps.")
def scheduler(interval: float) -> None:
    """Fire due timers, release expired job locks and raise staffing alarm tasks until SIGTERM or SIGINT.

    Several may run at once: a timer fires once, an alarm gets one task.
    """
    import logging

    from engine.scheduler import run_forever

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # APScheduler logs each run and warns of each run skipped while a long round drains; Spiff logs each
    # task's state change: all expected, and thousands of lines a minute
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    logging.getLogger("spiff").setLevel(logging.WARNING)
    from polku.embedded import start_staffing_checks

    settings = Settings.from_env()
    engine = make_engine(settings)
    checks = start_staffing_checks(engine, settings)  # staffing alarms become team lead tasks
    try:
        run_forever(engine, interval)
    finally:
        checks.shutdown(wait=False)


@cli.command()
@click.option("--topics", default=None, help="Comma-separated topics (default: every registered topic).")
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--batch", default=10, show_default=True, type=click.IntRange(min=1), help="Jobs fetched at once.")
@click.option("--grace", default=30.0, show_default=True, type=click.FloatRange(min=0),
              help="Seconds to let running handlers finish after SIGTERM/SIGINT.")
@click.option("--no-mail", is_flag=True, help="Do not send the outbox's mail from this process.")
def worker(topics: str | None, concurrency: int, batch: int, grace: float, no_mail: bool) -> None:
    """Run the job handlers until SIGTERM or SIGINT (handler modules from POLKU_HANDLER_MODULES too)."""
    import logging
    import signal

    from workers.builtins import load
    from workers.runner import Runner
    from workers.services import Services

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = Settings.from_env()
    registry = load(settings.handler_modules)
    chosen = [t.strip() for t in topics.split(",") if t.strip()] if topics else None
    try:
        engine = make_engine(settings)
        runner = Runner(engine, registry, topics=chosen, concurrency=concurrency, batch=batch, grace_s=grace,
                        services=Services.of(engine, settings.secret_key, settings.mail, settings.base_url))
    except ValueError as err:
        raise click.ClickException(str(err)) from err
    mailer = None
    if settings.mail is not None and not no_mail:
        from workers.mail import Mailer
        from workers.mail import start_background as start_mailer

        mailer = Mailer(Services.of(engine, settings.secret_key, settings.mail, settings.base_url))
        start_mailer(mailer)

    def stop(*_: object) -> None:
        runner.stop()
        if mailer is not None:
            mailer.stop()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stop)
    runner.run()
    if mailer is not None:
        mailer.stop()
        mailer.stopped.wait(grace + 5)


@cli.command()
@click.option("--demo/--no-demo", default=True, help="Deploy bpmn/ and load demo data first.")
@click.option("--scheduler/--no-scheduler", "with_scheduler", default=True,
              help="Fire timers in this process (--no-scheduler when `polku scheduler` runs apart).")
def serve(demo: bool, with_scheduler: bool) -> None:
    """Serve the web app on gunicorn (polku/web_server.py) with the scheduler and the job workers in-process."""
    import logging
    from collections.abc import Callable

    from casework.identity_code import IdentityCodeKeys
    from engine.scheduler import start_background
    from polku import web_server
    from polku.embedded import prepare, start_staffing_checks, start_workers, stop_mailers
    from webapp import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    settings = Settings.from_env()
    engine = make_engine(settings)
    if demo:
        prepare(engine, settings)
    engine.db.dispose()  # each web process opens its own connections after the fork

    def start() -> tuple[Any, Callable[[], None]]:
        """In each web process: the app with the scheduler and workers beside it, and how to stop them."""
        engine = make_engine(settings)
        sched = start_background(engine) if with_scheduler else None
        checks = start_staffing_checks(engine, settings) if with_scheduler else None
        runner = start_workers(engine, settings)
        app = create_app({"ENGINE": engine, "IDENTITY_CODE_KEYS": IdentityCodeKeys(settings.secret_key),
                          **settings.web_config()})

        def stop() -> None:
            if runner is not None:
                runner.stop()
                runner.stopped.wait(runner.grace_s + 1)
            stop_mailers()
            if sched is not None:
                sched.shutdown(wait=False)
            if checks is not None:
                checks.shutdown(wait=False)

        return app, stop

    web_server.run(settings, start, "the scheduler and job workers in-process" if with_scheduler
                   else "the job workers in-process, timers by `polku scheduler`")


@cli.group()
def user() -> None:
    """Staff accounts: passwords and API tokens (for the /engine-rest API)."""


def read_password(confirm: bool = True) -> str:
    """The new password: asked twice on a terminal, else one line of standard input."""
    import getpass

    from casework.users import MIN_PASSWORD_LENGTH

    if sys.stdin.isatty():
        password = getpass.getpass("Password: ")
        if confirm and getpass.getpass("Password again: ") != password:
            raise click.ClickException("the passwords do not match")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.ClickException("no password given (type it, or pipe it in on one line)")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise click.ClickException(f"the password is too short: at least {MIN_PASSWORD_LENGTH} characters")
    return password


def _casework_errors() -> tuple[type[Exception], ...]:
    from casework.errors import CaseworkError

    return (CaseworkError,)


@user.command("add")
@click.argument("name")
@click.option("--role", "roles", multiple=True, required=True,
              help="A role (repeat for several): e.g. coordinator, case_manager, team_lead, worker, partner.")
@click.option("--full-name", default=None, help="Display name (default: NAME).")
@click.option("--email", default=None)
@click.option("--phone", default=None, help="Shown to the client as the case manager's contact.")
@click.option("--team", "teams", multiple=True, help="A team (polku team add) to join; repeat for several.")
@click.option("--title", default=None, help="Job title, e.g. sosiaalityöntekijä (recorded when made case manager).")
@click.option("--unit", default=None, help="Organisation unit: employment_services, health_station, "
              "mental_health_substance_abuse, social_work, work_ability_services or other.")
@click.option("--organisation", default=None, help="A partner's organisation (role partner; default: the "
              "network partner's).")
@click.option("--partner", "partner_id", type=int, default=None, metavar="PARTNER_ID",
              help="The network partner a partner account answers for (required with --role partner).")
def user_add(name: str, roles: tuple[str, ...], full_name: str | None, email: str | None, phone: str | None,
             teams: tuple[str, ...], title: str | None, unit: str | None, organisation: str | None,
             partner_id: int | None) -> None:
    """Add an account; the password is read from standard input.

    An employment services official or a social worker who may be named case manager is an account with
    the role case_manager, a --title and a --unit. A network partner's staff member is an account with the
    role partner and --partner: it sees only the referrals addressed to that partner (with the client's consent).
    """
    from casework.teams import Team, add_member
    from casework.users import Role, StaffUser, Unit, add_user

    known = {r.value: r for r in Role}
    unknown = [r for r in roles if r not in known]
    if unknown:
        raise click.ClickException(f"unknown role {unknown[0]!r}; the roles are: {', '.join(known)}")
    units = {u.value: u for u in Unit}
    if unit is not None and unit not in units:
        raise click.ClickException(f"unknown unit {unit!r}; the units are: {', '.join(units)}")
    if Role.PARTNER.value in roles and partner_id is None:
        raise click.ClickException("a partner account needs --partner PARTNER_ID (the network partner it answers "
                                   "for): without it the account would see no referrals")
    if partner_id is not None and Role.PARTNER.value not in roles:
        raise click.ClickException("--partner is for network partners' accounts (--role partner)")
    engine = make_engine(Settings.from_env())
    with engine.db.read() as session:  # before the password is asked: a typo costs nothing
        if session.get(StaffUser, name) is not None:
            raise click.ClickException(f"user '{name}' already exists")
        missing = [t for t in teams if session.get(Team, t) is None]
        partner_organisation = _partner_organisation(session, partner_id) if partner_id is not None else None
    if missing:
        raise click.ClickException(f"no team {missing[0]!r}; add it with: polku team add {missing[0]} --name NAME")
    password = read_password()
    try:
        with engine.db.transaction() as session:
            if session.get(StaffUser, name) is not None:
                raise click.ClickException(f"user '{name}' already exists")
            account = add_user(session, name, full_name or name, [known[r] for r in roles], engine.clock(),
                               email=email, phone=phone)
            account.title = _text_or_none(title)
            account.unit = units[unit] if unit is not None else None
            account.organisation = _text_or_none(organisation) or partner_organisation
            account.partner_id = partner_id
            account.set_password(password)
            for team_id in teams:
                add_member(session, team_id, name)
    except _casework_errors() as err:
        raise click.ClickException(str(err)) from err
    where = f" in {', '.join(teams)}" if teams else ""
    click.echo(f"added {name} ({', '.join(sorted(roles))}){where}")


def _partner_organisation(session: Any, partner_id: int) -> str:
    """The active network partner's organisation; a ClickException naming the known partners otherwise."""
    from casework.network import NetworkPartner, partners

    found = session.get(NetworkPartner, partner_id)
    if found is None or not found.active:
        known = "; ".join(f"{p.id}: {p.organisation}" for p in partners(session)) or "none registered"
        raise click.ClickException(f"no active network partner {partner_id} (the partners: {known})")
    return str(found.organisation)


def _text_or_none(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


@user.command("passwd")
@click.argument("name")
def user_passwd(name: str) -> None:
    """Set a new password for NAME (read from standard input)."""
    from casework.users import get_user

    password = read_password()
    engine = make_engine(Settings.from_env())
    try:
        with engine.db.transaction() as session:
            get_user(session, name).set_password(password)
    except _casework_errors() as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"password of {name} changed")


@user.command("token")
@click.argument("name")
@click.option("--label", default=None, help="What the token is for, e.g. the worker host.")
def user_token(name: str, label: str | None) -> None:
    """Create an API bearer token for NAME and print it (only this once: it is stored hashed)."""
    from casework.users import issue_token

    engine = make_engine(Settings.from_env())
    try:
        with engine.db.transaction() as session:
            _, token = issue_token(session, name, engine.clock(), label)  # an unknown NAME is a CaseworkError
    except _casework_errors() as err:
        raise click.ClickException(str(err)) from err
    click.echo(token)


@user.command("deactivate")
@click.argument("name")
@click.option("--by", default="polku", show_default=True, help="Who asked (recorded as changeRequestedBy).")
def user_deactivate(name: str, by: str) -> None:
    """Deactivate NAME; each case they manage goes to the case manager change flow (the team lead names someone)."""
    from casework.case_manager import deactivate_and_request_changes

    engine = make_engine(Settings.from_env())
    try:
        case_ids = deactivate_and_request_changes(engine, name, engine.clock(), by=by)
    except _casework_errors() as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"{name} deactivated; {len(case_ids)} case(s) sent to the case manager change flow")
    for case_id in case_ids:
        click.echo(f"  {case_id}")


@user.command("list")
def user_list() -> None:
    """List accounts with their roles, title and unit, teams, whether they have a password, and active tokens."""
    from sqlalchemy import select

    from casework.teams import TeamMember
    from casework.users import all_users, tokens_of

    engine = make_engine(Settings.from_env())
    with engine.db.read() as session:
        memberships: dict[str, list[str]] = {}
        for member in session.scalars(select(TeamMember).order_by(TeamMember.team_id)):
            memberships.setdefault(member.user_id, []).append(member.team_id)
        for account in all_users(session):
            roles = ",".join(sorted(r.value for r in account.roles)) or "-"
            tokens = sum(1 for t in tokens_of(session, account.id) if t.revoked_at is None)
            state = "active" if account.active else "inactive"
            password = "password" if account.password_hash else "no password"
            title = account.title or "-"
            unit = account.unit.value if account.unit else "-"
            teams = ",".join(memberships.get(account.id, [])) or "-"
            partner = f"  partner: {account.partner_id} ({account.organisation or '-'})" if account.partner_id else ""
            click.echo(f"{account.id}  {roles}  {state}  {password}  tokens: {tokens}  title: {title}  "
                       f"unit: {unit}  teams: {teams}{partner}")


@cli.group()
def team() -> None:
    """Teams of staff: the candidate groups of bpmn/ (coordinators, teamLeads, workAbilityTeam) resolve to them."""


@team.command("add")
@click.argument("team_id", metavar="ID")
@click.option("--name", required=True, help="The team's name, e.g. 'Iisalmen työkykytiimi'.")
@click.option("--municipality", default=None)
def team_add(team_id: str, name: str, municipality: str | None) -> None:
    """Add a team answering for the groups of bpmn/: its coordinators for coordinators, its team leads for
    teamLeads, every member for workAbilityTeam. Put people in it with `polku user add --team ID`."""
    from casework.teams import DEFAULT_GROUPS, add_team

    if not team_id.strip() or len(team_id) > 100 or any(c.isspace() or c == "/" for c in team_id):
        raise click.ClickException("a team id is one word of at most 100 characters, e.g. iisalmi-tyokykytiimi")
    if not name.strip():
        raise click.ClickException("give the team a --name")
    engine = make_engine(Settings.from_env())
    try:
        with engine.db.transaction() as session:
            add_team(session, team_id, name.strip(), engine.clock(), municipality=_text_or_none(municipality))
    except _casework_errors() as err:
        raise click.ClickException(str(err)) from err
    groups = ", ".join(f"{g} ({r.value if r else 'all members'})" for g, r in DEFAULT_GROUPS.items())
    click.echo(f"added team {team_id}: answers for {groups}")


@team.command("list")
def team_list() -> None:
    """List teams with their municipality, the groups they answer for and their members."""
    from sqlalchemy import select

    from casework.teams import Team, team_members

    engine = make_engine(Settings.from_env())
    with engine.db.read() as session:
        teams = list(session.scalars(select(Team).order_by(Team.id)))
        if not teams:
            click.echo("no teams; add one with: polku team add ID --name NAME")
        for row in teams:
            groups = ",".join(sorted(g.group + (f"({g.role.value})" if g.role else "") for g in row.groups)) or "-"
            members = ",".join(u.id for u in team_members(session, [row.id], active_only=False)) or "-"
            click.echo(f"{row.id}  {row.name}  municipality: {row.municipality or '-'}  groups: {groups}  "
                       f"members: {members}")


from polku.decide_command import decide  # noqa: E402
from polku.incident_commands import incident, incidents  # noqa: E402  (after make_engine, which they use)

cli.add_command(incidents)
cli.add_command(incident)
cli.add_command(decide)

if __name__ == "__main__":
    main()
