"""The case history as an event log for process mining: XES (IEEE 1849-2016) and CSV, with no personal data.

Managers' analysts load it into their own tools (ProM, Disco, Celonis, pm4py). What goes out:

- **One trace per client case** (a case with a casework record: staffing alarms and other engine cases hold no
  client's path). Its name is a pseudonym: HMAC-SHA256 of the engine case id under a key derived from the app's
  secret with its own label (`pseudonym_key`), so the same case has the same pseudonym in every export, and
  nobody without the key can link it back to the case, its number or its client.
- **Events from the engine's history** (`history_event`, one row per element instance): the element's name in
  the diagram the case ran on as `concept:name` (its id when unnamed) and the id as `elementId`; a `start`
  event at `started_at` and a `complete` (or `ate_abort`, when the engine cancelled the step) at `ended_at`;
  `time:timestamp` as ISO 8601 with its zone; `org:role` the role of whoever completed the step: `case_manager`
  (the case's named case manager at that moment), else the person's role (`coordinator`, `team_lead`...),
  `worker` for an external task worker, `system` for the engine itself and for a step still open. Never a
  person's id or name. Gateways are left out: they route, they are no activities.
- **Nothing else**: no names, identity codes, case numbers (business keys), free texts or variable values.
- **Called instances**: the service coordination process runs inside its caller's case (one called instance
  per planned service, in parallel). Its steps are part of the case's trace, marked `process` =
  `service_coordination`: the client's path is one case, and the engine's history does not record which of
  the parallel called instances a step belonged to, so a trace per called instance could not be built
  faithfully. The `process` filter keeps the main process's steps, the called process's steps, or both.
- **Period**: the cases active at some time in the period (started before its end, not ended before its
  start), each with its whole history, so no trace is cut in the middle.

Both formats stream: the cases are read in chunks of `CHUNK` with a short read transaction each, so an export
of 2,000,000 history rows never sits in memory nor holds one snapshot open while a slow client downloads.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from itertools import groupby
from typing import Any
from xml.sax.saxutils import quoteattr

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from casework.case_manager import Assignment
from casework.client_case import ClientCase
from casework.stalls import EVERYTHING, Scope, deployment_processes
from casework.users import Role, StaffRole
from engine.clock import aware
from engine.models import Case, Definition, HistoryEvent

PSEUDONYM_LABEL = b"polku event log pseudonym v1"
CHUNK = 500  # cases per read: about 50,000 history rows at county scale
XES_NS = "http://www.xes-standard.org/"
EXTENSIONS = (("Concept", "concept", "http://www.xes-standard.org/concept.xesext"),
              ("Time", "time", "http://www.xes-standard.org/time.xesext"),
              ("Lifecycle", "lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
              ("Organizational", "org", "http://www.xes-standard.org/org.xesext"))
CSV_COLUMNS = ["case", "activity", "start", "end", "resource_role", "element_id", "process"]
SYSTEM = "system"
WORKER = "worker"
CASE_MANAGER = "case_manager"
# The role a step's performer is shown under when they hold several (the case's case manager comes first).
ROLE_ORDER = (Role.COORDINATOR, Role.CASE_MANAGER, Role.TEAM_LEAD, Role.MANAGER, Role.PROCESS_OWNER, Role.ADMIN,
              Role.PARTNER)
MACHINE_ROLES = frozenset({Role.WORKER, Role.INTEGRATION})
AUTOMATIC_TYPES = frozenset({"ExternalTask", "ServiceTask", "SendTask", "BusinessRuleTask", "ScriptTask"})


class ProcessChoice(enum.Enum):
    """Which steps go into the log: the case's own process, the called service coordination, or both."""

    MAIN = "main"
    CALLED = "service_coordination"
    BOTH = "both"


@dataclass(frozen=True)
class EventLogFilter:
    """Which cases and steps an export holds; `start`/`end` bound the period (end exclusive), None: open."""

    scope: Scope = EVERYTHING
    start: datetime | None = None
    end: datetime | None = None
    process: ProcessChoice = ProcessChoice.BOTH


# -- pseudonyms ----------------------------------------------------------------------------------------------
def pseudonym_key(secret: str | bytes) -> bytes:
    """The pseudonyms' key, derived from the app's secret under its own label (as polku.settings derives the
    session key), so knowing a pseudonym says nothing about the other keys and vice versa."""
    raw = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(raw, PSEUDONYM_LABEL, hashlib.sha256).digest()


def pseudonym(key: bytes, case_id: str) -> str:
    """The case's name in the log: stable under one key, not reversible without it (128 bits of HMAC-SHA256)."""
    return hmac.new(key, case_id.encode(), hashlib.sha256).hexdigest()[:32]


# -- which cases ---------------------------------------------------------------------------------------------
def exported_cases(session: Session, chosen: EventLogFilter) -> list[str]:
    """The engine case ids of the client cases the export holds, in id order (random: it reveals nothing)."""
    query = select(Case.id).join(ClientCase, ClientCase.case_id == Case.id).where(*chosen.scope.conditions())
    if chosen.end is not None:
        query = query.where(Case.created_at < chosen.end)
    if chosen.start is not None:
        query = query.where(or_(Case.ended_at.is_(None), Case.ended_at >= chosen.start))
    return list(session.scalars(query.order_by(Case.id)))


# -- the element instances -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    """One element instance of a case (a history row) as the log shows it: no person, no data."""

    activity: str
    element_id: str
    element_type: str
    process: str
    start: datetime
    end: datetime | None
    completed: bool  # False: the engine cancelled it (an interrupting event, the case cancelled...)
    role: str
    start_key: tuple[Any, ...] = ()  # sorts the events of one instant in the engine's order (see _ranks)
    end_key: tuple[Any, ...] = ()


def _ranks(rows: Sequence[Any]) -> dict[int, tuple[tuple[Any, ...], tuple[Any, ...]]]:
    """Sort keys of each row's start and end event, for the events that share one instant (one transaction).

    Known of a transaction: the order the engine completed steps in (`ended_seq`), and the order it opened them
    (row ids, the task tree's order). So the steps that began and ended in it, and the completions of steps
    begun earlier, go by completion order; a step that opened in it and stays open goes just before the next
    step (by id) that began and ended in it: a call activity opens before its called process's start event.
    """
    instant: dict[datetime, list[Any]] = {}
    for row in rows:
        if row.ended_at is not None and row.ended_at == row.started_at:
            instant.setdefault(aware(row.started_at), []).append(row)
    out: dict[int, tuple[tuple[Any, ...], tuple[Any, ...]]] = {}
    for row in rows:
        start, seq = aware(row.started_at), float(row.ended_seq or 0.0)
        if row.ended_at is not None and row.ended_at == row.started_at:
            first: tuple[Any, ...] = (start, seq, 0, row.id, 0)
        else:
            peers = instant.get(start, [])
            after = next((p for p in peers if p.id > row.id), None)
            if after is not None:
                first = (start, float(after.ended_seq or 0.0), -1, row.id, 0)
            elif peers:
                first = (start, float(peers[-1].ended_seq or 0.0), 1, row.id, 0)
            else:
                first = (start, float("inf"), 0, row.id, 0)
        out[row.id] = (first, (aware(row.ended_at), seq, 0, row.id, 1))
    return out


@dataclass
class _Context:
    """What a chunk needs besides the history: each definition's elements by process, staff roles."""

    roles: dict[str, frozenset[Role]]
    definitions: dict[int, Definition]
    elements: dict[int, dict[str, str]] = field(default_factory=dict)  # definition id -> element id -> process

    def process_of(self, session: Session, definition_id: int, element_id: str) -> str:
        if definition_id not in self.elements:
            definition = self.definitions.get(definition_id)
            owner: dict[str, str] = {}
            if definition is not None:
                processes = deployment_processes(session, definition.deployment_id)
                own = definition.key
                for process_id in sorted(processes, key=lambda p: (p != own, p)):  # the case's own process first
                    for element in processes[process_id]:
                        owner.setdefault(element, process_id)
            self.elements[definition_id] = owner
        definition = self.definitions.get(definition_id)
        return self.elements[definition_id].get(element_id, definition.key if definition else "?")


def _role(ctx: _Context, actor: str | None, element_type: str, at: datetime | None,
          managers: Sequence[tuple[str, datetime, datetime | None]]) -> str:
    """The role of whoever completed a step, never who they are."""
    if actor is None or at is None:
        return SYSTEM
    if any(user == actor and since <= at and (until is None or at < until) for user, since, until in managers):
        return CASE_MANAGER
    roles = ctx.roles.get(actor)
    if roles is None:  # not a staff account: the id an external task worker fetched the job under
        return WORKER if element_type in AUTOMATIC_TYPES else "staff"
    for role in ROLE_ORDER:
        if role in roles:
            return role.value
    return WORKER if roles & MACHINE_ROLES else "staff"


def _steps_of(session: Session, ctx: _Context, definition_id: int, rows: Sequence[Any],
              managers: Sequence[tuple[str, datetime, datetime | None]], process: ProcessChoice) -> list[Step]:
    rows = sorted(rows, key=lambda r: r.id)
    ranks = _ranks(rows)
    out = []
    for row in rows:
        if row.element_type.endswith("Gateway"):
            continue
        owner = ctx.process_of(session, definition_id, row.element_id)
        definition = ctx.definitions.get(definition_id)
        main = definition is None or owner == definition.key
        if (process is ProcessChoice.MAIN and not main) or (process is ProcessChoice.CALLED and main):
            continue
        start = aware(row.started_at)
        end = aware(row.ended_at)
        out.append(Step(row.element_name or row.element_id, row.element_id, row.element_type, owner, start, end,
                        row.state == "completed", _role(ctx, row.actor, row.element_type, end, managers),
                        *ranks[row.id]))
    return out


def case_steps(db_read: Callable[[], Any], case_ids: Sequence[str], process: ProcessChoice = ProcessChoice.BOTH,
               chunk: int = CHUNK) -> Iterator[tuple[str, list[Step]]]:
    """(case id, its steps in start order) for each case, reading `chunk` cases per short read transaction
    (`db_read` is `engine.db.read`)."""
    with db_read() as session:
        roles: dict[str, set[Role]] = {}
        for user_id, role in session.execute(select(StaffRole.user_id, StaffRole.role)).all():
            roles.setdefault(user_id, set()).add(role)
        ctx = _Context({u: frozenset(r) for u, r in roles.items()},
                       {d.id: d for d in session.scalars(select(Definition))})
    for first in range(0, len(case_ids), chunk):
        ids = list(case_ids[first:first + chunk])
        with db_read() as session:
            definitions = dict(session.execute(select(Case.id, Case.definition_id).where(Case.id.in_(ids))).all())
            managers: dict[str, list[tuple[str, datetime, datetime | None]]] = {}
            for case_id, user_id, since, until in session.execute(
                    select(Assignment.case_id, Assignment.user_id, Assignment.from_at, Assignment.to_at)
                    .where(Assignment.case_id.in_(ids))).all():
                managers.setdefault(case_id, []).append((user_id, aware(since), aware(until)))
            rows = session.execute(
                select(HistoryEvent.id, HistoryEvent.case_id, HistoryEvent.element_id, HistoryEvent.element_name,
                       HistoryEvent.element_type, HistoryEvent.state, HistoryEvent.started_at, HistoryEvent.ended_at,
                       HistoryEvent.ended_seq, HistoryEvent.actor)
                .where(HistoryEvent.case_id.in_(ids)).order_by(HistoryEvent.case_id, HistoryEvent.id)).all()
            found: dict[str, list[Step]] = {}
            for case_id, group in groupby(rows, key=lambda r: r.case_id):
                found[case_id] = _steps_of(session, ctx, definitions[case_id], list(group), managers.get(case_id, ()),
                                           process)
        for case_id in ids:
            steps = sorted(found.get(case_id, []), key=lambda step: step.start_key)
            if steps:
                yield case_id, steps


# -- XES -----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Event:
    step: Step
    transition: str  # start | complete | ate_abort
    at: datetime
    key: tuple[Any, ...]


def _events(steps: Iterable[Step]) -> list[_Event]:
    """A start event per step and, once it ended, a complete (or ate_abort) event, in time order."""
    out = []
    for step in steps:
        out.append(_Event(step, "start", step.start, step.start_key))
        if step.end is not None:
            out.append(_Event(step, "complete" if step.completed else "ate_abort", step.end, step.end_key))
    return sorted(out, key=lambda e: e.key)


def _time(value: datetime, zone: tzinfo) -> str:
    return value.astimezone(zone).isoformat(timespec="milliseconds")


def _string(key: str, value: str) -> str:
    return f"<string key={quoteattr(key)} value={quoteattr(value)}/>"


def xes_header(chosen: EventLogFilter, exported_at: datetime, zone: tzinfo = UTC) -> str:
    """The log element's opening: extensions, global attributes, classifiers and the log's own attributes."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n',
             f'<log xes.version="1849-2016" xes.features="nested-attributes" xmlns="{XES_NS}">\n']
    parts += [f"  <extension name={quoteattr(n)} prefix={quoteattr(p)} uri={quoteattr(u)}/>\n"
              for n, p, u in EXTENSIONS]
    parts.append('  <global scope="trace">\n    ' + _string("concept:name", "__INVALID__") + "\n  </global>\n")
    parts.append('  <global scope="event">\n    '
                 + "\n    ".join([_string("concept:name", "__INVALID__"),
                                  '<date key="time:timestamp" value="1970-01-01T00:00:00.000+00:00"/>',
                                  _string("lifecycle:transition", "complete"), _string("org:role", SYSTEM),
                                  _string("elementId", "__INVALID__"), _string("elementType", "__INVALID__"),
                                  _string("process", "__INVALID__")])
                 + "\n  </global>\n")
    # classifier names are NCNames in the standard's schema: no spaces
    parts.append('  <classifier name="Activity" scope="event" keys="concept:name"/>\n')
    parts.append('  <classifier name="ActivityTransition" scope="event" keys="concept:name lifecycle:transition"/>\n')
    parts.append('  <classifier name="Step" scope="event" keys="process elementId"/>\n')
    parts.append("  " + _string("concept:name", "Polku case history") + "\n")
    parts.append("  " + _string("lifecycle:model", "standard") + "\n")
    parts.append("  " + _string("source", "Polku (pseudonymised: no personal data)") + "\n")
    parts.append(f'  <date key="exportedAt" value={quoteattr(_time(exported_at, zone))}/>\n')
    parts.append("  " + _string("process", chosen.process.value) + "\n")
    if chosen.start is not None:
        parts.append(f'  <date key="periodStart" value={quoteattr(_time(chosen.start, zone))}/>\n')
    if chosen.end is not None:
        parts.append(f'  <date key="periodEnd" value={quoteattr(_time(chosen.end, zone))}/>\n')
    return "".join(parts)


@lru_cache(maxsize=8192)
def _step_attributes(activity: str, role: str, element_id: str, element_type: str, process: str) -> str:
    """The attributes an event shares with every other event of the same step and role, escaped once (the
    escaping took most of an export's time when done per event)."""
    return "\n      ".join([_string("concept:name", activity), _string("org:role", role),
                             _string("elementId", element_id), _string("elementType", element_type),
                             _string("process", process)])


TRANSITIONS = {t: _string("lifecycle:transition", t) for t in ("start", "complete", "ate_abort")}


def xes_trace(name: str, steps: Iterable[Step], zone: tzinfo = UTC) -> str:
    """One case's trace: its pseudonym and its events in time order."""
    parts = ["  <trace>\n    ", _string("concept:name", name), "\n"]
    for event in _events(steps):
        step = event.step
        shared = _step_attributes(step.activity, step.role, step.element_id, step.element_type, step.process)
        # an ISO 8601 time needs no escaping
        parts.append(f'    <event>\n      {shared}\n      {TRANSITIONS[event.transition]}'
                     f'\n      <date key="time:timestamp" value="{_time(event.at, zone)}"/>\n    </event>\n')
    parts.append("  </trace>\n")
    return "".join(parts)


def xes_stream(db_read: Callable[[], Any], key: bytes, case_ids: Sequence[str], chosen: EventLogFilter,
               exported_at: datetime, zone: tzinfo = UTC, chunk: int = CHUNK) -> Iterator[bytes]:
    """The XES document in pieces (one per case after the header), for a streamed response."""
    yield xes_header(chosen, exported_at, zone).encode()
    for case_id, steps in case_steps(db_read, case_ids, chosen.process, chunk):
        yield xes_trace(pseudonym(key, case_id), steps, zone).encode()
    yield b"</log>\n"


# -- CSV -----------------------------------------------------------------------------------------------------
def _csv_line(values: Sequence[str], delimiter: str) -> str:
    out = []
    for value in values:
        if any(c in value for c in (delimiter, '"', "\n", "\r")):
            value = '"' + value.replace('"', '""') + '"'
        out.append(value)
    return delimiter.join(out) + "\r\n"


def csv_stream(db_read: Callable[[], Any], key: bytes, case_ids: Sequence[str], chosen: EventLogFilter,
               zone: tzinfo = UTC, delimiter: str = ";", chunk: int = CHUNK) -> Iterator[bytes]:
    """One row per element instance (case, activity, start, end, resource role, element id, process), UTF-8
    with a byte order mark so that Excel opens it as UTF-8; a step still open has no end."""
    yield ("\ufeff" + _csv_line(CSV_COLUMNS, delimiter)).encode()
    for case_id, steps in case_steps(db_read, case_ids, chosen.process, chunk):
        name = pseudonym(key, case_id)
        yield "".join(_csv_line([name, s.activity, _time(s.start, zone), _time(s.end, zone) if s.end else "",
                                 s.role, s.element_id, s.process], delimiter) for s in steps).encode()
