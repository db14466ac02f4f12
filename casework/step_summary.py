"""Summary tables of the management view (`/manage`), refreshed by the scheduler, so a page reads a few hundred
summary rows instead of scanning the waits and the history per request.

`refresh(session, now)` (every POLKU_SUMMARY_REFRESH_SECONDS, polku.embedded's scheduler job; several schedulers
may run it at once) does, in ONE transaction that first locks the `summary_state` row (SELECT ... FOR UPDATE on
PostgreSQL; SQLite's single writer, BEGIN IMMEDIATE, does the same), so concurrent refreshes run one after the
other and readers see either the old snapshot or the new one, never half of each:

1. `waiting_item`: a snapshot of where active cases wait now, one narrow row per wait (case, process key,
   version, element, kind, team, municipality, referral source, site variant, since, due), read from the
   engine's projection tables exactly as casework.stalls counts them (the accompanying waits, boundary events
   and event subprocess starts, left out), and `waiting_step`, its per-step totals for the unfiltered view.
   The page groups waiting_item by step with the filters as WHERE conditions; ages (now - since) and overdue
   (due < now) are computed at read time, so they are current even when the snapshot's counts are a minute
   old.
2. `step_duration`: how long completed element instances (tasks and catch events, state `completed`) took,
   per step, day of completion (Helsinki), team, municipality, referral source and site variant, as a
   histogram of log-scale buckets: bucket b holds durations in [2^(b/4), 2^((b+1)/4)) seconds (bucket -1:
   under a second), four buckets per doubling. It is added to incrementally from `history_event` by a
   watermark (the highest history id counted): a row still open when seen is remembered in
   `step_duration_pending` and counted once, when it has ended; a row is counted exactly once. Only rows
   started at least SETTLE before the refresh are read, so a case transaction still in flight (whose id
   may be lower than a committed one's) is not skipped past.

   A period's median / p90 per step is read from the histogram: the bucket where the cumulative count
   reaches the rank (nearest rank), reported as the bucket's geometric middle 2^((b + 1/2)/4) s. The true
   value lies in the same bucket, so the figure is within +-9.1 % (2^(1/8) - 1) of it (`BUCKET_ERROR`).

   Attribution: a duration counts under the case's current team, municipality and referral source at the
   time of the refresh that counted it (a later team change does not move counted history). The catch
   events behind an event-based gateway have no open row of their own while the gateway waits, so their
   duration is short; the gateway's own wait is not a step of the table.

`summary_state` holds when the figures were computed (shown as "figures as of"), the watermark and how long
the refresh took. Aggregates hold no personal data; `waiting_item` holds case ids (no names), as the
projection tables do.
"""

from __future__ import annotations

import math
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, Index, Integer, String, UniqueConstraint, delete, exists, func, insert, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from casework.client_case import ClientCase
from casework.finnish_time import finnish_day
from casework.models import CaseworkBase, UtcDateTime
from engine.clock import aware
from engine.models import Case, CaseStatus, Definition, Deployment, HistoryEvent

STATE = "manage"  # the one summary_state row
BUCKETS_PER_DOUBLING = 4
BUCKET_ERROR = 2 ** (1 / (2 * BUCKETS_PER_DOUBLING)) - 1  # 0.0905: a figure from the histogram is within this share
SETTLE = timedelta(minutes=5)  # a case transaction lasts less: rows started earlier are committed or never will be
BATCH = 500_000  # history rows counted per refresh at most (a first refresh of a big history catches up in turns)
MAIN_VARIANT = ""  # the site variant of the main model (bpmn/), as the column stores it
_SITE = re.compile(r"sites[/\\]([^/\\]+)")


class WaitingItem(CaseworkBase):
    """One wait of an active case at the last refresh (see the module docstring)."""

    __tablename__ = "waiting_item"
    __table_args__ = (Index("ix_waiting_item_step", "process_key", "version", "element_id"),
                      Index("ix_waiting_item_team", "team_id"), Index("ix_waiting_item_due", "due"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(String(36))
    process_key: Mapped[str] = mapped_column(String(200))
    version: Mapped[int | None] = mapped_column(Integer)
    element_id: Mapped[str] = mapped_column(String(200))
    element_name: Mapped[str | None] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(10))  # task | job | timer | message
    team_id: Mapped[str | None] = mapped_column(String(100))
    municipality: Mapped[str | None] = mapped_column(String(100))
    referral_source: Mapped[str | None] = mapped_column(String(40))
    site_variant: Mapped[str] = mapped_column(String(100), default=MAIN_VARIANT)
    since: Mapped[datetime] = mapped_column(UtcDateTime)
    due: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WaitingStep(CaseworkBase):
    """The unfiltered figures of one step at the last refresh (every case, every team): the manager's default
    view reads these few rows instead of grouping the whole snapshot. The start times' percentiles give the
    ages' (age p90 = now - since_p10, exact: a shift); `overdue` is as of the refresh, and the page adds the
    tasks whose due date has passed since (waiting_item's index on due)."""

    __tablename__ = "waiting_step"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200))
    version: Mapped[int | None] = mapped_column(Integer)
    element_id: Mapped[str] = mapped_column(String(200))
    element_name: Mapped[str | None] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(10))
    waiting: Mapped[int] = mapped_column(Integer)
    cases: Mapped[int] = mapped_column(Integer)
    since_p50: Mapped[datetime] = mapped_column(UtcDateTime)
    since_p10: Mapped[datetime] = mapped_column(UtcDateTime)
    oldest: Mapped[datetime] = mapped_column(UtcDateTime)
    overdue: Mapped[int] = mapped_column(Integer)


class StepDuration(CaseworkBase):
    """How many completed element instances of a step, ended on `day`, took a duration in `bucket`."""

    __tablename__ = "step_duration"
    __table_args__ = (UniqueConstraint("process_key", "version", "element_id", "day", "team_id", "municipality",
                                       "referral_source", "site_variant", "bucket", name="uq_step_duration"),
                      Index("ix_step_duration_day", "day"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    process_key: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)  # 0: not known
    element_id: Mapped[str] = mapped_column(String(200))
    day: Mapped[date] = mapped_column(Date)
    team_id: Mapped[str] = mapped_column(String(100))  # '' for none: the unique key needs no NULLs
    municipality: Mapped[str] = mapped_column(String(100))
    referral_source: Mapped[str] = mapped_column(String(40))
    site_variant: Mapped[str] = mapped_column(String(100))
    bucket: Mapped[int] = mapped_column(Integer)
    count: Mapped[int] = mapped_column(Integer)


class StepDurationPending(CaseworkBase):
    """A history row at or below the watermark that was still open when read: counted once it has ended."""

    __tablename__ = "step_duration_pending"
    history_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class SummaryState(CaseworkBase):
    """When the summary was last refreshed, up to which history id durations are counted, and how long it took."""

    __tablename__ = "summary_state"
    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    refreshed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    watermark: Mapped[int] = mapped_column(Integer, default=0)
    took_ms: Mapped[int | None] = mapped_column(Integer)


# -- buckets --------------------------------------------------------------------------------------------------
def bucket_of(seconds: float) -> int:
    """The log-scale bucket of a duration: floor(4 * log2(seconds)); -1 for under a second."""
    if seconds < 1:
        return -1
    return math.floor(BUCKETS_PER_DOUBLING * math.log2(seconds) + 1e-9)


def bucket_value(bucket: int) -> float:
    """The duration a bucket stands for: its geometric middle (0 for under a second)."""
    if bucket < 0:
        return 0.0
    return float(2 ** ((bucket + 0.5) / BUCKETS_PER_DOUBLING))


def histogram_percentile(counts: Mapping[int, int], fraction: float) -> float:
    """The nearest-rank percentile of a histogram {bucket: count}, as its bucket's middle (within BUCKET_ERROR)."""
    total = sum(counts.values())
    if total == 0:
        return 0.0
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for bucket in sorted(counts):
        seen += counts[bucket]
        if seen >= rank:
            return bucket_value(bucket)
    return bucket_value(max(counts))


# -- site variants --------------------------------------------------------------------------------------------
def site_variant_of(source: str | None) -> str:
    """The site variant a deployment came from: `bpmn/sites/SITE` deployed (polku.site_variants) is SITE; the main
    model (bpmn/) and deployments from elsewhere are the main variant ('')."""
    found = _SITE.search(source or "")
    return found.group(1) if found else MAIN_VARIANT


def deployment_variants(session: Session) -> dict[int, str]:
    """deployment id -> site variant."""
    return {d: site_variant_of(s) for d, s in session.execute(select(Deployment.id, Deployment.source)).all()}


def site_variants(session: Session) -> list[str]:
    """The site variants deployed (the main model first as '')."""
    found = set(deployment_variants(session).values())
    return sorted(found, key=lambda v: (v != MAIN_VARIANT, v))


def variant_definitions(session: Session, variant: str) -> list[int]:
    """The definition ids deployed from a site variant (the filter on cases)."""
    variants = deployment_variants(session)
    return [i for i, d in session.execute(select(Definition.id, Definition.deployment_id)).all()
            if variants.get(d, MAIN_VARIANT) == variant]


# -- the refresh ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Refreshed:
    at: datetime
    waiting: int  # waits in the snapshot
    counted: int  # element instances added to the histogram by this refresh
    watermark: int
    caught_up: bool  # False: history remains past the watermark (BATCH); the next refresh goes on
    took_ms: int


def _lock_state(session: Session) -> SummaryState:
    """The summary_state row, locked for this transaction (created the first time, by whichever refresh wins)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        session.execute(pg_insert(SummaryState).values(name=STATE, watermark=0).on_conflict_do_nothing())
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        session.execute(sqlite_insert(SummaryState).values(name=STATE, watermark=0).on_conflict_do_nothing())
    state = session.scalars(select(SummaryState).where(SummaryState.name == STATE).with_for_update()
                            .execution_options(populate_existing=True)).one()
    return state


def _case_facts(session: Session) -> tuple[Any, dict[int, str]]:
    from casework.stalls import _StepMap

    steps = _StepMap(session)
    variants = deployment_variants(session)
    by_definition = {d.id: variants.get(d.deployment_id, MAIN_VARIANT) for d in steps.definitions.values()}
    return steps, by_definition


def _source(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def _replace_waiting(session: Session, now: datetime, steps: Any, variants: dict[int, str]) -> int:
    from casework.stalls import _aware, _waits

    waits = _waits()
    query = (select(Case.definition_id, waits.c.case_id, waits.c.element_id, waits.c.kind, waits.c.since,
                    waits.c.due, ClientCase.team_id, ClientCase.municipality, ClientCase.referral_source)
             .join(Case, Case.id == waits.c.case_id).where(Case.status == CaseStatus.ACTIVE)
             .outerjoin(ClientCase, ClientCase.case_id == waits.c.case_id))
    rows: list[dict[str, Any]] = []
    for definition_id, case_id, element_id, kind, since, due, team, municipality, source in session.execute(query):
        key, element = steps.step(definition_id, element_id)
        if element is not None and element.accompanying:
            continue
        rows.append({"case_id": case_id, "process_key": key.process_key, "version": key.version,
                     "element_id": element_id, "element_name": element.name if element else None, "kind": kind,
                     "team_id": team, "municipality": municipality, "referral_source": _source(source),
                     "site_variant": variants.get(definition_id, MAIN_VARIANT), "since": _aware(since),
                     "due": _aware(due) if due is not None else None})
    session.execute(delete(WaitingItem))
    session.execute(delete(WaitingStep))
    if rows:
        session.execute(insert(WaitingItem), rows)
        session.execute(insert(WaitingStep), _totals(rows, now))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE waiting_item"))  # the table was replaced: plan the page's GROUP BY for it
    return len(rows)


def _totals(rows: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Per step, over every wait: counts and the start times' percentiles (percentile_cont, as PostgreSQL's)."""
    from casework.stalls import percentile_cont

    groups: dict[tuple[str, int | None, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["process_key"], row["version"], row["element_id"])].append(row)
    out = []
    for (key, version, element_id), members in groups.items():
        starts = [m["since"].timestamp() for m in members]
        out.append({"process_key": key, "version": version, "element_id": element_id,
                    "element_name": next((m["element_name"] for m in members if m["element_name"]), None),
                    "kind": min(m["kind"] for m in members), "waiting": len(members),
                    "cases": len({m["case_id"] for m in members}),
                    "since_p50": datetime.fromtimestamp(percentile_cont(starts, 0.5), UTC),
                    "since_p10": datetime.fromtimestamp(percentile_cont(starts, 0.1), UTC),
                    "oldest": min(m["since"] for m in members),
                    "overdue": sum(1 for m in members if m["kind"] == "task" and m["due"] is not None
                                   and m["due"] < now)})
    return out


def _counts(element_type: str) -> bool:
    """Tasks (user, service, receive...) and catch events: the steps where a case spends time."""
    return (element_type.endswith("Task") and "Sub" not in element_type) or element_type.endswith("CatchEvent")


def _history(session: Session, where: Any) -> Any:
    return (select(HistoryEvent.id, Case.definition_id, HistoryEvent.element_id, HistoryEvent.element_type,
                   HistoryEvent.state, HistoryEvent.started_at, HistoryEvent.ended_at, ClientCase.team_id,
                   ClientCase.municipality, ClientCase.referral_source)
            .join(Case, Case.id == HistoryEvent.case_id)
            .outerjoin(ClientCase, ClientCase.case_id == HistoryEvent.case_id).where(where))


def _count_durations(session: Session, state: SummaryState, now: datetime, steps: Any, variants: dict[int, str],
                     settle: timedelta, batch: int) -> tuple[int, bool]:
    """Add the element instances ended since the last refresh to the histogram; returns (counted, caught up)."""
    histogram: dict[tuple[Any, ...], int] = defaultdict(int)
    counted = 0
    step_cache: dict[tuple[int, str], tuple[str, int, bool]] = {}

    def add(row: Any) -> None:
        nonlocal counted
        _id, definition_id, element_id, element_type, status, started, ended, team, municipality, source = row
        if status != "completed" or not _counts(element_type or ""):
            return
        cached = step_cache.get((definition_id, element_id))
        if cached is None:
            key, element = steps.step(definition_id, element_id)
            cached = (key.process_key, key.version or 0, element is not None and element.accompanying)
            step_cache[(definition_id, element_id)] = cached
        if cached[2]:
            return
        start, end = aware(started), aware(ended)
        assert start is not None and end is not None
        day = finnish_day(end)
        histogram[(cached[0], cached[1], element_id, day, team or "", municipality or "", _source(source) or "",
                   variants.get(definition_id, MAIN_VARIANT), bucket_of((end - start).total_seconds()))] += 1
        counted += 1

    # the rows left open at earlier refreshes that have ended since
    pending = select(StepDurationPending.history_id)
    ended_ids: list[int] = []
    for row in session.execute(_history(session, HistoryEvent.id.in_(pending)).where(
            HistoryEvent.ended_at.is_not(None))):
        add(row)
        ended_ids.append(row[0])
    for n in range(0, len(ended_ids), 1000):
        session.execute(delete(StepDurationPending).where(StepDurationPending.history_id.in_(ended_ids[n:n + 1000])))
    # pending rows whose history row is gone (pruned) go too
    session.execute(delete(StepDurationPending).where(
        ~exists().where(HistoryEvent.id == StepDurationPending.history_id)))

    # the rows past the watermark, in id order, up to the first one too new to be sure of (SETTLE)
    settled_before = now - settle
    watermark = state.watermark
    still_open: list[int] = []
    caught_up = True
    query = _history(session, HistoryEvent.id > watermark).order_by(HistoryEvent.id).limit(batch + 1)
    result = session.execute(query.execution_options(yield_per=10_000))
    for n, row in enumerate(result):
        if n >= batch:
            caught_up = False
            break
        started = aware(row[5])
        if started is not None and started > settled_before:
            break
        if row[6] is None:
            still_open.append(row[0])
        else:
            add(row)
        watermark = row[0]
    result.close()
    if still_open:
        session.execute(insert(StepDurationPending), [{"history_id": i} for i in still_open])
    state.watermark = watermark
    _merge_histogram(session, histogram)
    return counted, caught_up


def _merge_histogram(session: Session, histogram: Mapping[tuple[Any, ...], int]) -> None:
    """Add the counts to the histogram rows (INSERT ... ON CONFLICT DO UPDATE count = count + new)."""
    if not histogram:
        return
    names = ("process_key", "version", "element_id", "day", "team_id", "municipality", "referral_source",
             "site_variant", "bucket")
    rows = [{**dict(zip(names, key, strict=True)), "count": count} for key, count in histogram.items()]
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert  # type: ignore[assignment]
    statement = dialect_insert(StepDuration)
    statement = statement.on_conflict_do_update(index_elements=list(names),
                                                set_={"count": StepDuration.count + statement.excluded["count"]})
    for n in range(0, len(rows), 5000):
        session.execute(statement, rows[n:n + 5000])


def refresh(session: Session, now: datetime, settle: timedelta = SETTLE, batch: int = BATCH) -> Refreshed:
    """Replace the waiting snapshot and add newly ended element instances to the histogram (one transaction)."""
    began = time.monotonic()
    state = _lock_state(session)
    steps, variants = _case_facts(session)
    waiting = _replace_waiting(session, now, steps, variants)
    counted, caught_up = _count_durations(session, state, now, steps, variants, settle, batch)
    took = int((time.monotonic() - began) * 1000)
    state.refreshed_at = now
    state.took_ms = took
    session.flush()
    return Refreshed(now, waiting, counted, state.watermark, caught_up, took)


def refresh_summary(engine: Any) -> Refreshed:
    """The scheduler's job: one refresh in its own write transaction, at the engine's clock."""
    with engine.db.transaction() as session:
        return refresh(session, engine.clock())


def refreshed_at(session: Session) -> datetime | None:
    """When the figures were last computed (None: never; the page then asks for a refresh)."""
    return aware(session.scalar(select(SummaryState.refreshed_at).where(SummaryState.name == STATE)))


# -- reading ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StepDurations:
    """The completed instances of a step in a period: how many, and their median and p90 (within BUCKET_ERROR)."""

    process_key: str
    version: int | None
    element_id: str
    count: int
    p50: timedelta
    p90: timedelta


def period_durations(session: Session, first_day: date, last_day: date, conditions: Iterable[Any] = ()
                     ) -> dict[tuple[str, int | None, str], StepDurations]:
    """Per (process key, version, element id): the durations of the instances ended between the two days
    (inclusive, Helsinki), from the histogram; `conditions` on StepDuration (the filters)."""
    query = (select(StepDuration.process_key, StepDuration.version, StepDuration.element_id, StepDuration.bucket,
                    func.sum(StepDuration.count))
             .where(StepDuration.day >= first_day, StepDuration.day <= last_day, *conditions)
             .group_by(StepDuration.process_key, StepDuration.version, StepDuration.element_id, StepDuration.bucket))
    buckets: dict[tuple[str, int | None, str], dict[int, int]] = defaultdict(dict)
    for key, version, element_id, bucket, count in session.execute(query):
        buckets[(key, version or None, element_id)][int(bucket)] = int(count)
    return {step: StepDurations(step[0], step[1], step[2], sum(counts.values()),
                                timedelta(seconds=round(histogram_percentile(counts, 0.5))),
                                timedelta(seconds=round(histogram_percentile(counts, 0.9))))
            for step, counts in buckets.items()}
