"""Where cases wait now, per BPMN step: for team leads and managers (`/manage`).

`step_stalls` (the steps table, also webapp/manage/heatmap.py's source) reads the scheduler's snapshot,
casework.step_summary.WaitingItem, once it has been refreshed; the live count below (`live_step_stalls`) is what
the refresh's snapshot matches and the fallback before the first refresh. `waiting_cases` (the drill-down) is
always live.

Counted from the engine's projection tables, which the case transaction keeps (engine/projections.py), never
from the history: open user tasks, jobs waiting for a worker, timers and message subscriptions (at an
event-based gateway the catch events behind it wait, one row each). A called process runs inside its caller's
case, so its waits count under the called process's own steps (the element is looked up in the diagram files
deployed with the case's definition).

Per step: how many wait now, their age (now minus when the wait began) at p50 / p90 / max, and how many human
tasks are past their due date (a timer's due date is when it fires, not a deadline). The age of a wait is the
task's or job's `created_at`; a timer or message row has no time of its own, so its open history row gives it
(the element's own row, or for the catch events of an event-based gateway the gateway's open row).
Percentiles are PostgreSQL's `percentile_cont` (linear interpolation); SQLite has none, so there the same
formula runs in Python over the step's ages.

A step is keyed by (process key, version, element id); the version is the called process's own version for
a called instance's steps. Aggregates hold no personal data; `waiting_cases` (the drill-down) lists case
numbers, which the caller logs as an access.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from lxml import etree
from sqlalchemy import ColumnElement, Select, and_, case, func, literal, null, or_, select, text, union_all
from sqlalchemy.orm import Session

from casework.client_case import CaseStatus as ClientCaseStatus
from casework.client_case import ClientCase
from casework.staff import Staff
from casework.teams import Team
from casework.users import Role
from engine.clock import aware
from engine.models import (
    Case,
    CaseStatus,
    Definition,
    Deployment,
    HistoryEvent,
    Job,
    MessageSubscription,
    Resource,
    Task,
    TaskStatus,
    Timer,
)

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
GATEWAY_TYPE = "EventBasedGateway"  # history_event.element_type of an event-based gateway (the spec's class name)
ALL_TEAMS = "all"
MY_TEAMS = "mine"
LATEST = "latest"
ALL_VERSIONS = "all"
KINDS = ("task", "job", "timer", "message")


# -- who sees which cases -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scope:
    """Which cases the figures count: the teams' cases (None: every case, also those without a casework
    record, such as a staffing alarm's), optionally of one municipality, referral source (a ReferralSource
    value) and site variant (casework.step_summary.site_variant_of; '' the main model)."""

    team_ids: frozenset[str] | None = None
    municipality: str | None = None
    referral_source: str | None = None
    site_variant: str | None = None

    @property
    def needs_client_case(self) -> bool:
        return (self.team_ids is not None or bool(self.municipality) or bool(self.referral_source)
                or self.site_variant is not None)

    def conditions(self) -> list[ColumnElement[bool]]:
        """Conditions on ClientCase (the caller joins it when `needs_client_case`)."""
        out: list[ColumnElement[bool]] = []
        if self.team_ids is not None:
            out.append(ClientCase.team_id.in_(sorted(self.team_ids)))
        if self.municipality:
            out.append(func.lower(ClientCase.municipality) == self.municipality.lower())
        if self.referral_source:
            out.append(ClientCase.referral_source == _referral_source(self.referral_source))
        if self.site_variant is not None:
            out.append(ClientCase.case_id.in_(select(Case.id).join(Definition, Definition.id == Case.definition_id)
                                              .join(Deployment, Deployment.id == Definition.deployment_id)
                                              .where(_variant_clause(self.site_variant))))
        return out

    def summary_conditions(self, model: Any) -> list[ColumnElement[bool]]:
        """The same on a summary table (casework.step_summary: WaitingItem, StepDuration), whose rows carry the
        case's team, municipality, referral source and site variant."""
        out: list[ColumnElement[bool]] = []
        if self.team_ids is not None:
            out.append(model.team_id.in_(sorted(self.team_ids)))
        if self.municipality:
            out.append(func.lower(model.municipality) == self.municipality.lower())
        if self.referral_source:
            out.append(model.referral_source == self.referral_source)
        if self.site_variant is not None:
            out.append(model.site_variant == self.site_variant)
        return out


def _referral_source(value: str) -> Any:
    from casework.referral import ReferralSource

    try:
        return ReferralSource(value)
    except ValueError:
        return None


def _variant_clause(variant: str) -> ColumnElement[bool]:
    """Deployments of a site variant by their source path (as casework.step_summary.site_variant_of reads it)."""
    if not variant:
        return or_(Deployment.source.is_(None), ~Deployment.source.like("%sites/%"))
    return or_(Deployment.source.like(f"%sites/{variant}"), Deployment.source.like(f"%sites/{variant}/%"))


EVERYTHING = Scope()


def may_manage(staff: Staff) -> bool:
    """Only managers and team leads see the management views (`/manage`, its exports and JSON)."""
    return staff.has(Role.MANAGER, Role.TEAM_LEAD)


def team_choices(session: Session, staff: Staff) -> list[tuple[str, str]]:
    """The teams the person may filter by, (id, name): a manager every team, a team lead the teams they lead."""
    query = select(Team.id, Team.name).order_by(Team.name, Team.id)
    if not staff.has(Role.MANAGER):
        query = query.where(Team.id.in_(sorted(staff.leads)))
    return [(team_id, name) for team_id, name in session.execute(query).all()]


def default_team(staff: Staff) -> str:
    """A team lead starts from their own teams' cases; a manager without teams to lead from every case."""
    return MY_TEAMS if staff.leads or not staff.has(Role.MANAGER) else ALL_TEAMS


def scope_for(session: Session, staff: Staff, team: str | None, municipality: str | None,
              referral_source: str | None = None, site_variant: str | None = None) -> tuple[Scope, str]:
    """The scope the filters ask for, within what the person may see, and the team choice in force.

    A manager sees everything; a team lead (not also a manager) only the teams they lead: any other team
    asked for falls back to their own teams.
    """
    choice = (team or "").strip() or default_team(staff)
    muni = (municipality or "").strip() or None
    source = (referral_source or "").strip() or None
    if choice == ALL_TEAMS and staff.has(Role.MANAGER):
        return Scope(None, muni, source, site_variant), ALL_TEAMS
    if choice not in (MY_TEAMS, ALL_TEAMS) and choice in {t for t, _ in team_choices(session, staff)}:
        return Scope(frozenset({choice}), muni, source, site_variant), choice
    return Scope(frozenset(staff.leads), muni, source, site_variant), MY_TEAMS


def municipality_choices(session: Session) -> list[str]:
    """The municipalities of open cases (a place name is no personal data)."""
    query = (select(ClientCase.municipality).where(ClientCase.status == ClientCaseStatus.OPEN,
                                                   ClientCase.municipality.is_not(None))
             .distinct().order_by(ClientCase.municipality))
    return [m for m in session.scalars(query) if m]


# -- diagrams: which process an element belongs to, and its name ---------------------------------------------
_NAMES: dict[str, dict[str, dict[str, Element]]] = {}  # resource hash -> process id -> element id -> element
_MAX_NAMES = 256
# Waits that only accompany another wait of the same case: a boundary event sits on the activity the case waits
# at, and an event subprocess's start listens for as long as the case runs. Counting them would count the case
# twice (or at every step at once), so the steps table leaves them out.
ACCOMPANYING = frozenset({"boundaryEvent"})


@dataclass(frozen=True)
class Element:
    name: str | None
    tag: str  # the BPMN element's local name: userTask, intermediateCatchEvent, startEvent...
    in_subprocess: bool = False  # inside a (event) subprocess of the process

    @property
    def accompanying(self) -> bool:
        return self.tag in ACCOMPANYING or (self.tag == "startEvent" and self.in_subprocess)


def _process_names(content: bytes) -> dict[str, dict[str, Element]]:
    try:
        root = etree.fromstring(content, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return {}
    out: dict[str, dict[str, Element]] = {}
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        elements: dict[str, Element] = {}
        for node in process.iter():
            if isinstance(node.tag, str) and node is not process and node.get("id"):
                parent = node.getparent()
                nested = parent is not None and parent is not process and etree.QName(parent).localname == "subProcess"
                elements[str(node.get("id"))] = Element(node.get("name"), etree.QName(node).localname, nested)
        out[str(process.get("id"))] = elements
    return out


def deployment_processes(session: Session, deployment_id: int) -> dict[str, dict[str, Element]]:
    """The processes of a deployment's diagram files: process id -> element id -> element (parsed once per file)."""
    rows = session.execute(select(Resource.id, Resource.hash).where(Resource.deployment_id == deployment_id,
                                                                     Resource.name.like("%.bpmn"))
                           .order_by(Resource.id)).all()
    out: dict[str, dict[str, Element]] = {}
    for resource_id, digest in rows:
        parsed = _NAMES.get(digest)
        if parsed is None:
            content = session.scalar(select(Resource.content).where(Resource.id == resource_id)) or b""
            parsed = _process_names(bytes(content))
            if len(_NAMES) >= _MAX_NAMES:
                _NAMES.clear()
            _NAMES[digest] = parsed
        for process_id, elements in parsed.items():
            out.setdefault(process_id, elements)
    return out


@dataclass(frozen=True)
class StepKey:
    """A step of a process version: the element of a process key's version."""

    process_key: str
    version: int | None
    element_id: str


class _StepMap:
    """Maps (definition id of the case, element id) to the step and its name, reading each deployment once."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.definitions = {d.id: d for d in session.scalars(select(Definition))}
        self.by_deployment: dict[tuple[int, str], int] = {(d.deployment_id, d.key): d.version
                                                          for d in self.definitions.values()}
        self._processes: dict[int, dict[str, dict[str, Element]]] = {}

    def processes(self, deployment_id: int) -> dict[str, dict[str, Element]]:
        if deployment_id not in self._processes:
            self._processes[deployment_id] = deployment_processes(self.session, deployment_id)
        return self._processes[deployment_id]

    def step(self, definition_id: int, element_id: str) -> tuple[StepKey, Element | None]:
        definition = self.definitions.get(definition_id)
        if definition is None:
            return StepKey("?", None, element_id), None
        processes = self.processes(definition.deployment_id)
        own = processes.get(definition.key, {})
        if element_id in own:
            return StepKey(definition.key, definition.version, element_id), own[element_id]
        for process_id in sorted(processes):  # a called process deployed with the case's definition
            if process_id != definition.key and element_id in processes[process_id]:
                version = self.by_deployment.get((definition.deployment_id, process_id))
                if version is None:  # deployed before or after: its newest version
                    versions = [d.version for d in self.definitions.values() if d.key == process_id]
                    version = max(versions) if versions else None
                return StepKey(process_id, version, element_id), processes[process_id][element_id]
        return StepKey(definition.key, definition.version, element_id), None

    @staticmethod
    def latest_of(session: Session) -> dict[str, int]:
        """process key -> its newest version, without loading the definitions."""
        rows = session.execute(select(Definition.key, func.max(Definition.version)).group_by(Definition.key))
        return {key: int(number) for key, number in rows}

    def latest_versions(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in self.definitions.values():
            out[d.key] = max(out.get(d.key, 0), d.version)
        return out


def process_versions(session: Session) -> list[tuple[str, int, str]]:
    """Every deployed (process key, version, name), newest version first within a key (the version selector)."""
    rows = session.execute(select(Definition.key, Definition.version, Definition.name)
                           .order_by(Definition.key, Definition.version.desc())).all()
    return [(key, version, name) for key, version, name in rows]


def version_filter(choice: str | None, latest: dict[str, int]) -> tuple[str, Any]:
    """The version selector's value as a predicate on StepKey: `latest` (default: the newest version of each
    process), `all`, or `key:version` (that version's steps only; a called process has versions of its own)."""
    text = (choice or "").strip() or LATEST
    if text == ALL_VERSIONS:
        return ALL_VERSIONS, lambda step: True
    if ":" in text:
        key, _, number = text.rpartition(":")
        if number.isdigit():
            wanted = (key, int(number))
            return text, lambda step: (step.process_key, step.version) == wanted
    return LATEST, lambda step: step.version is None or step.version == latest.get(step.process_key)


# -- the waits ----------------------------------------------------------------------------------------------
def _since_from_history(row_id: Any, case_id: Any) -> Any:
    """When a timer or message wait began: its own open history row, else the open row of the event-based
    gateway it waits behind (the catch events have no row of their own while the gateway waits)."""
    own = (select(HistoryEvent.started_at).where(HistoryEvent.task_id == row_id)
           .order_by(HistoryEvent.id.desc()).limit(1).scalar_subquery())
    gateway = (select(func.max(HistoryEvent.started_at))
               .where(HistoryEvent.case_id == case_id, HistoryEvent.ended_at.is_(None),
                      HistoryEvent.element_type == GATEWAY_TYPE).scalar_subquery())
    return func.coalesce(own, gateway, Case.updated_at)


def _waits(element_id: str | None = None) -> Any:
    """Every wait of every case as (case_id, element_id, kind, since, due): one UNION ALL subquery."""
    task = select(Task.case_id.label("case_id"), Task.element_id.label("element_id"),
                  literal("task").label("kind"), Task.created_at.label("since"), Task.due.label("due")
                  ).where(Task.status == TaskStatus.OPEN)
    job = select(Job.case_id, Job.element_id, literal("job"), Job.created_at, null())
    timer = (select(Timer.case_id, Timer.element_id, literal("timer"), _since_from_history(Timer.id, Timer.case_id),
                    Timer.due_at).join(Case, Case.id == Timer.case_id))
    message = (select(MessageSubscription.case_id, MessageSubscription.element_id, literal("message"),
                      _since_from_history(MessageSubscription.id, MessageSubscription.case_id), null())
               .join(Case, Case.id == MessageSubscription.case_id))
    parts: list[Any] = [task, job, timer, message]
    if element_id is not None:
        parts = [task.where(Task.element_id == element_id), job.where(Job.element_id == element_id),
                 timer.where(Timer.element_id == element_id),
                 message.where(MessageSubscription.element_id == element_id)]
    return union_all(*parts).subquery("waits")


def _scoped(query: Select[Any], waits: Any, scope: Scope) -> Select[Any]:
    query = query.join(Case, Case.id == waits.c.case_id).where(Case.status == CaseStatus.ACTIVE)
    if scope.needs_client_case:
        query = query.join(ClientCase, ClientCase.case_id == waits.c.case_id).where(*scope.conditions())
    return query


@dataclass(frozen=True)
class StepStall:
    """One step where cases wait now: how many, how long (p50 / p90 / max age) and how many are overdue."""

    process_key: str
    version: int | None
    element_id: str
    name: str | None
    kind: str  # task | job | timer | message (the first of them when a step has several)
    waiting: int  # waits: a case waits once per called instance (one per service it coordinates)
    age_p50: timedelta
    age_p90: timedelta
    age_max: timedelta
    overdue: int
    cases: int = 0  # distinct cases among the waits

    @property
    def key(self) -> StepKey:
        return StepKey(self.process_key, self.version, self.element_id)


def percentile_cont(values: Sequence[float], fraction: float) -> float:
    """PostgreSQL's percentile_cont: linear interpolation between the two nearest ranks of the sorted values."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _epoch(column: Any) -> Any:
    return func.extract("epoch", column)


@dataclass
class _Group:
    definition_id: int
    element_id: str
    kind: str
    waiting: int
    oldest: datetime
    overdue: int
    cases: int
    p50: float = 0.0  # age in seconds
    p90: float = 0.0
    ages: list[float] = field(default_factory=list)


def step_stalls(session: Session, now: datetime, scope: Scope = EVERYTHING, version: str | None = None
                ) -> list[StepStall]:
    """Per step, the waits of active cases in `scope`, the most waiting first (then the oldest).

    Read from the scheduler's snapshot (casework.step_summary.WaitingItem: the waits as of its last refresh,
    their ages and overdue counts as of `now`); before the first refresh, computed live (`live_step_stalls`).
    """
    from casework.step_summary import refreshed_at

    if refreshed_at(session) is None:
        return live_step_stalls(session, now, scope, version)
    return summary_step_stalls(session, now, scope, version)


def summary_step_stalls(session: Session, now: datetime, scope: Scope = EVERYTHING, version: str | None = None
                        ) -> list[StepStall]:
    """step_stalls from the snapshot: one GROUP BY over the narrow waiting_item table, the filters as WHERE; for
    every case unfiltered, the per-step totals the refresh computed (waiting_step)."""
    from casework.step_summary import WaitingItem as W

    if scope == EVERYTHING:
        return _total_step_stalls(session, now, version)
    overdue = func.sum(case((and_(W.kind == "task", W.due < now), 1), else_=0))
    columns: list[Any] = [W.process_key, W.version, W.element_id, func.max(W.element_name), func.min(W.kind),
                          func.count(), func.min(W.since), overdue, func.count(W.case_id.distinct())]
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        from sqlalchemy.dialects.postgresql import array

        columns.append(func.percentile_cont(array([0.5, 0.1])).within_group(_epoch(W.since)))
    conditions = scope.summary_conditions(W)
    if version and ":" in version and version != ALL_VERSIONS:
        key, _, number = version.rpartition(":")
        if number.isdigit():
            conditions += [W.process_key == key, W.version == int(number)]
    query = select(*columns).where(*conditions).group_by(W.process_key, W.version, W.element_id)
    latest = _StepMap.latest_of(session)
    _, wanted = version_filter(version, latest)
    rows = [row for row in session.execute(query).all() if wanted(StepKey(row[0], row[1], row[2]))]
    ages: dict[tuple[str, int | None, str], list[float]] = {}
    if not postgres and rows:
        for process_key, ver, element, since in session.execute(
                select(W.process_key, W.version, W.element_id, W.since).where(*conditions)):
            ages.setdefault((process_key, ver, element), []).append(max(0.0, (now - _aware(since)).total_seconds()))
    out = []
    for row in rows:
        if postgres:
            p50_since, p10_since = row[9]
            p50 = max(0.0, now.timestamp() - float(p50_since))
            p90 = max(0.0, now.timestamp() - float(p10_since))
        else:
            found = ages.get((row[0], row[1], row[2]), [])
            p50, p90 = percentile_cont(found, 0.5), percentile_cont(found, 0.9)
        out.append(StepStall(row[0], row[1], row[2], row[3], row[4], int(row[5]), timedelta(seconds=round(p50)),
                             timedelta(seconds=round(p90)), max(timedelta(0), now - _aware(row[6])), int(row[7] or 0),
                             int(row[8])))
    return sorted(out, key=lambda s: (-s.waiting, -s.age_max, s.process_key, s.element_id))


def _total_step_stalls(session: Session, now: datetime, version: str | None) -> list[StepStall]:
    """The unfiltered figures from waiting_step; overdue = overdue at the refresh + tasks due since then."""
    from casework.step_summary import WaitingItem as W
    from casework.step_summary import WaitingStep as T
    from casework.step_summary import refreshed_at

    at = refreshed_at(session) or now
    became = {(k, v, e): int(n) for k, v, e, n in session.execute(
        select(W.process_key, W.version, W.element_id, func.count())
        .where(W.kind == "task", W.due >= at, W.due < now).group_by(W.process_key, W.version, W.element_id))}
    _, wanted = version_filter(version, _StepMap.latest_of(session))
    out = []
    for t in session.scalars(select(T)):
        if not wanted(StepKey(t.process_key, t.version, t.element_id)):
            continue
        out.append(StepStall(t.process_key, t.version, t.element_id, t.element_name, t.kind, t.waiting,
                             max(timedelta(0), timedelta(seconds=round((now - t.since_p50).total_seconds()))),
                             max(timedelta(0), timedelta(seconds=round((now - t.since_p10).total_seconds()))),
                             max(timedelta(0), now - t.oldest),
                             t.overdue + became.get((t.process_key, t.version, t.element_id), 0), t.cases))
    return sorted(out, key=lambda s: (-s.waiting, -s.age_max, s.process_key, s.element_id))


def live_step_stalls(session: Session, now: datetime, scope: Scope = EVERYTHING, version: str | None = None
                     ) -> list[StepStall]:
    """Per step, the waits of active cases in `scope` now, computed from the projection tables (a scan: the
    summary's fallback before its first refresh)."""
    waits = _waits()
    overdue = func.sum(case((and_(waits.c.kind == "task", waits.c.due < now), 1), else_=0))
    columns: list[Any] = [Case.definition_id, waits.c.element_id, func.min(waits.c.kind), func.count(),
                          func.min(waits.c.since), overdue, func.count(waits.c.case_id.distinct())]
    postgres = session.get_bind().dialect.name == "postgresql"
    if postgres:
        # ages' percentiles from the percentiles of the start times: age p90 is now minus the start time's p10;
        # both from one sort of the group
        from sqlalchemy.dialects.postgresql import array

        columns.append(func.percentile_cont(array([0.5, 0.1])).within_group(_epoch(waits.c.since)))
        # The planner's cost estimate of the history look-ups makes PostgreSQL JIT-compile the statement, which
        # took longer (0.5 s) than running it; this transaction only reads, so JIT goes off for it alone.
        session.execute(text("SET LOCAL jit = off"))
    query = _scoped(select(*columns), waits, scope).group_by(Case.definition_id, waits.c.element_id)
    groups: dict[tuple[int, str], _Group] = {}
    for row in session.execute(query).all():
        group = _Group(row[0], row[1], row[2], int(row[3]), _aware(row[4]), int(row[5] or 0), int(row[6]))
        if postgres:
            p50, p10 = row[7]
            group.p50 = max(0.0, now.timestamp() - float(p50))
            group.p90 = max(0.0, now.timestamp() - float(p10))
        groups[(row[0], row[1])] = group
    if not postgres and groups:
        ages = _scoped(select(Case.definition_id, waits.c.element_id, waits.c.since), waits, scope)
        for definition_id, element_id, since in session.execute(ages).all():
            groups[(definition_id, element_id)].ages.append(max(0.0, (now - _aware(since)).total_seconds()))
        for group in groups.values():
            group.p50 = percentile_cont(group.ages, 0.5)
            group.p90 = percentile_cont(group.ages, 0.9)
    steps = _StepMap(session)
    _, wanted = version_filter(version, steps.latest_versions())
    out = []
    for group in groups.values():
        key, element = steps.step(group.definition_id, group.element_id)
        if not wanted(key) or (element is not None and element.accompanying):
            continue
        out.append(StepStall(key.process_key, key.version, key.element_id, element.name if element else None,
                             group.kind, group.waiting,
                             timedelta(seconds=round(group.p50)), timedelta(seconds=round(group.p90)),
                             max(timedelta(0), now - group.oldest), group.overdue, group.cases))
    return _merge(out)


def _merge(stalls: Iterable[StepStall]) -> list[StepStall]:
    """Rows of one step from several case definitions (a called process deployed once, called from two
    versions) become one row; their percentiles cannot be merged exactly, so the larger is kept."""
    merged: dict[StepKey, StepStall] = {}
    for stall in stalls:
        seen = merged.get(stall.key)
        if seen is None:
            merged[stall.key] = stall
            continue
        merged[stall.key] = StepStall(stall.process_key, stall.version, stall.element_id, seen.name or stall.name,
                                      seen.kind, seen.waiting + stall.waiting, max(seen.age_p50, stall.age_p50),
                                      max(seen.age_p90, stall.age_p90), max(seen.age_max, stall.age_max),
                                      seen.overdue + stall.overdue, seen.cases + stall.cases)
    return sorted(merged.values(), key=lambda s: (-s.waiting, -s.age_max, s.process_key, s.element_id))


def _aware(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite: an aggregate over a UNION may come back as its stored text
        value = datetime.fromisoformat(value)
    result = aware(value)
    assert result is not None
    return result


@dataclass(frozen=True)
class WaitingCase:
    """One case waiting at a step (the drill-down): its number, since when, its due date, whether overdue."""

    case_id: str
    business_key: str | None
    kind: str
    since: datetime
    due: datetime | None
    overdue: bool


def waiting_cases(session: Session, now: datetime, scope: Scope, process_key: str, element_id: str,
                  version: str | None = None) -> list[WaitingCase]:
    """The cases in `scope` waiting at the step now, the longest waiting first (`version` as in step_stalls;
    a specific `key:version` of this process, else its latest)."""
    waits = _waits(element_id)
    query = _scoped(select(Case.definition_id, waits.c.case_id, Case.business_key, waits.c.kind, waits.c.since,
                           waits.c.due), waits, scope)
    steps = _StepMap(session)
    _, wanted = version_filter(version, steps.latest_versions())
    out = []
    for definition_id, case_id, business_key, kind, since, due in session.execute(query).all():
        key, _ = steps.step(definition_id, element_id)
        if key.process_key != process_key or not wanted(key):
            continue
        due_at = _aware(due) if due is not None else None
        out.append(WaitingCase(case_id, business_key, kind, _aware(since), due_at,
                               kind == "task" and due_at is not None and due_at < now))
    return sorted(out, key=lambda w: (w.since, w.business_key or "", w.case_id))


def step_name(session: Session, process_key: str, element_id: str) -> str | None:
    """The step's name in the newest diagram of its process that has it (the drill-down's heading)."""
    deployments = session.scalars(select(Definition.deployment_id).where(Definition.key == process_key)
                                  .order_by(Definition.version.desc())).all()
    for deployment_id in deployments:
        elements = deployment_processes(session, deployment_id).get(process_key, {})
        if element_id in elements:
            return elements[element_id].name
    return None


def known_step(session: Session, process_key: str, element_id: str) -> bool:
    """Whether some deployed version of the process has this element (else the drill-down is a 404)."""
    deployments = session.scalars(select(Definition.deployment_id).where(Definition.key == process_key)).all()
    return any(element_id in deployment_processes(session, d).get(process_key, {}) for d in set(deployments))

