"""Lead times of the case path for managers (`/manage/flow`): how long each stretch takes, the weekly inflow and
outflow, and how cases ended.

A stretch counts in the period in which it *ended* (a decision made in March counts in March, however long ago
the referral came): the figures of a period then add up to what the team finished in it, and a later period
never changes an earlier one. The stretches:

- referral → decision: `client_case.opened_at` → `decided_at`;
- decision → first plan: `decided_at` → the plan's version 1 `created_at`;
- plan → first service started: the first plan → the first time any of the case's services started (a partner's
  answer "started", or the referral's status set to started);
- referral → closure: `opened_at` → `closed_at`;
- decision → first case manager: `decided_at` → the first assignment's `from_at` (cases that need one);
- without a case manager at a change: per change of case manager, the gap between one assignment's end and the
  next one's start (zero when the handover was seamless).

Each has its count, median and 90th percentile: PostgreSQL's `percentile_cont` (linear interpolation) in the
database, the same formula in Python on SQLite (`casework.stalls.percentile_cont`). With fewer than
`MIN_CASES` cases the percentiles are withheld (a median of two cases says little, and may point at a person).
Counts of closure reasons and destinations from 1 to `MIN_CASES - 1` are likewise suppressed to "< 5".
Aggregates only: no case ids leave this module.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal_column, select, union_all
from sqlalchemy.orm import Session

from casework.case_manager import Assignment
from casework.client_case import ClientCase
from casework.evaluation import ClosureEvaluation
from casework.finnish_time import HELSINKI, finnish_day
from casework.plan import PlanVersion
from casework.referral import ReferralSource
from casework.service_referral import ReferralAnswer, ServiceReferral, ServiceStatus
from casework.small_numbers import MIN_CELL, is_small
from casework.stalls import EVERYTHING, Scope, percentile_cont
from engine.clock import aware
from engine.models import Case, Definition

MIN_CASES = MIN_CELL  # fewer cases than this: no percentiles, and counts shown as "< 5" (casework.small_numbers)

MAX_PERIOD_DAYS = 3 * 366


class Stretch(enum.Enum):
    REFERRAL_TO_DECISION = "referral_to_decision"
    DECISION_TO_PLAN = "decision_to_plan"
    PLAN_TO_SERVICE = "plan_to_service"
    REFERRAL_TO_CLOSURE = "referral_to_closure"
    DECISION_TO_CASE_MANAGER = "decision_to_case_manager"
    WITHOUT_CASE_MANAGER = "without_case_manager"


@dataclass(frozen=True)
class Period:
    """Whole days in Helsinki time, `first` to `last` inclusive."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, time(), HELSINKI)

    @property
    def end(self) -> datetime:  # exclusive
        return datetime.combine(self.last + timedelta(days=1), time(), HELSINKI)

    @classmethod
    def default(cls, today: date) -> Period:
        """The last 12 whole weeks and this week so far: a quarter's trend, weeks starting on Monday."""
        monday = today - timedelta(days=today.weekday())
        return cls(monday - timedelta(weeks=12), today)


@dataclass(frozen=True)
class FlowFilter:
    """Which cases the figures cover: the scope (teams, municipality), the referral source and the process
    version the case runs on (None: any)."""

    period: Period
    scope: Scope = EVERYTHING
    source: ReferralSource | None = None
    definition_ids: frozenset[int] | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """Conditions on ClientCase."""
        out = self.scope.conditions()
        if self.source is not None:
            out.append(ClientCase.referral_source == self.source)
        if self.definition_ids is not None:
            out.append(ClientCase.case_id.in_(select(Case.id).where(
                Case.definition_id.in_(sorted(self.definition_ids)))))
        return out

    def within(self, column: Any) -> ColumnElement[bool]:
        return and_(column >= self.period.start, column < self.period.end)


@dataclass(frozen=True)
class LeadTime:
    stretch: Stretch
    count: int
    p50: timedelta | None  # None: fewer than MIN_CASES cases (or none)
    p90: timedelta | None

    @property
    def few(self) -> bool:
        return self.count < MIN_CASES


@dataclass(frozen=True)
class Week:
    monday: date
    opened: int
    closed: int

    @property
    def iso(self) -> tuple[int, int]:
        year, week, _ = self.monday.isocalendar()
        return year, week


@dataclass(frozen=True)
class Count:
    """A count that may be suppressed: `shown` is None when 1 to MIN_CASES - 1 (say "< 5")."""

    key: str
    count: int

    @property
    def shown(self) -> int | None:
        return suppressed(self.count)


def suppressed(count: int) -> int | None:
    return None if is_small(count) else count


# -- version choices -------------------------------------------------------------------------------------------
def case_versions(session: Session) -> list[tuple[int, str, int, str]]:
    """The (definition id, key, version, name) that client cases run on, newest first within a key."""
    used = select(Case.definition_id).join(ClientCase, ClientCase.case_id == Case.id).distinct()
    rows = session.execute(select(Definition.id, Definition.key, Definition.version, Definition.name)
                           .where(Definition.id.in_(used))
                           .order_by(Definition.key, Definition.version.desc())).all()
    return [(row[0], row[1], row[2], row[3] or row[1]) for row in rows]


def definitions_for(session: Session, choice: str | None) -> frozenset[int] | None:
    """`key:version` as the definition ids it means; anything else (empty, `all`): None, every version."""
    text = (choice or "").strip()
    key, _, number = text.rpartition(":")
    if not key or not number.isdigit():
        return None
    ids = session.scalars(select(Definition.id).where(Definition.key == key, Definition.version == int(number)))
    return frozenset(ids)


# -- the stretches -----------------------------------------------------------------------------------------------
def _pairs(stretch: Stretch, chosen: FlowFilter) -> Any:
    """(start, end) per stretch ended in the period, for cases that pass the filter."""
    conditions = chosen.conditions()
    if stretch is Stretch.REFERRAL_TO_DECISION:
        return select(ClientCase.opened_at.label("start"), ClientCase.decided_at.label("end")).where(
            ClientCase.decided_at.is_not(None), chosen.within(ClientCase.decided_at), *conditions)
    if stretch is Stretch.REFERRAL_TO_CLOSURE:
        return select(ClientCase.opened_at.label("start"), ClientCase.closed_at.label("end")).where(
            ClientCase.closed_at.is_not(None), chosen.within(ClientCase.closed_at), *conditions)
    if stretch is Stretch.DECISION_TO_PLAN:
        return (select(ClientCase.decided_at.label("start"), PlanVersion.created_at.label("end"))
                .join(PlanVersion, and_(PlanVersion.case_id == ClientCase.case_id, PlanVersion.version == 1))
                .where(ClientCase.decided_at.is_not(None), chosen.within(PlanVersion.created_at), *conditions))
    if stretch is Stretch.PLAN_TO_SERVICE:
        started = union_all(
            select(ServiceReferral.case_id.label("case_id"), ReferralAnswer.answered_at.label("at"))
            .join(ReferralAnswer, ReferralAnswer.plan_item_id == ServiceReferral.plan_item_id)
            .where(ReferralAnswer.answer == ServiceStatus.STARTED),
            select(ServiceReferral.case_id.label("case_id"), ServiceReferral.status_at.label("at"))
            .where(ServiceReferral.status == ServiceStatus.STARTED, ServiceReferral.status_at.is_not(None)),
        ).subquery()
        first = (select(started.c.case_id, func.min(started.c.at).label("at"))
                 .group_by(started.c.case_id).subquery())
        return (select(PlanVersion.created_at.label("start"), first.c.at.label("end"))
                .select_from(ClientCase)
                .join(PlanVersion, and_(PlanVersion.case_id == ClientCase.case_id, PlanVersion.version == 1))
                .join(first, first.c.case_id == ClientCase.case_id)
                .where(first.c.at >= chosen.period.start, first.c.at < chosen.period.end, *conditions))
    if stretch is Stretch.DECISION_TO_CASE_MANAGER:
        first_named = (select(Assignment.case_id, func.min(Assignment.from_at).label("at"))
                       .group_by(Assignment.case_id).subquery())
        return (select(ClientCase.decided_at.label("start"), first_named.c.at.label("end"))
                .join(first_named, first_named.c.case_id == ClientCase.case_id)
                .where(ClientCase.decided_at.is_not(None), ClientCase.needs_case_manager.is_(True),
                       first_named.c.at >= chosen.period.start, first_named.c.at < chosen.period.end, *conditions))
    # WITHOUT_CASE_MANAGER: the gap before each assignment after the first
    previous = func.lag(Assignment.to_at).over(partition_by=Assignment.case_id,
                                               order_by=(Assignment.from_at, Assignment.id))
    chain = select(Assignment.case_id, previous.label("previous_end"), Assignment.from_at).subquery()
    return (select(chain.c.previous_end.label("start"), chain.c.from_at.label("end"))
            .join(ClientCase, ClientCase.case_id == chain.c.case_id)
            .where(chain.c.previous_end.is_not(None), chain.c.from_at >= chosen.period.start,
                   chain.c.from_at < chosen.period.end, *conditions))


def _when(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite: an aggregate or window over a subquery comes back as its stored text
        value = datetime.fromisoformat(value)
    result = aware(value)
    assert result is not None
    return result


def _seconds(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=round(max(0.0, value)))


def lead_time(session: Session, stretch: Stretch, chosen: FlowFilter) -> LeadTime:
    """One stretch's count, median and 90th percentile (withheld under MIN_CASES cases)."""
    pairs = _pairs(stretch, chosen).subquery()
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import array

        seconds = func.greatest(literal_column("0"), func.extract("epoch", pairs.c.end - pairs.c.start))
        count, percentiles = session.execute(select(func.count(), func.percentile_cont(array([0.5, 0.9]))
                                                    .within_group(seconds)).select_from(pairs)).one()
        count = int(count)
        if count < MIN_CASES or percentiles is None:
            return LeadTime(stretch, count, None, None)
        return LeadTime(stretch, count, _seconds(float(percentiles[0])), _seconds(float(percentiles[1])))
    durations = [max(0.0, (_when(end) - _when(start)).total_seconds())
                 for start, end in session.execute(select(pairs.c.start, pairs.c.end)).all()]
    if len(durations) < MIN_CASES:
        return LeadTime(stretch, len(durations), None, None)
    return LeadTime(stretch, len(durations), _seconds(percentile_cont(durations, 0.5)),
                    _seconds(percentile_cont(durations, 0.9)))


def lead_times(session: Session, chosen: FlowFilter) -> list[LeadTime]:
    """Every stretch, in the order of the case path."""
    return [lead_time(session, stretch, chosen) for stretch in Stretch]


# -- inflow and outflow ------------------------------------------------------------------------------------------
def _monday(value: datetime) -> date:
    day = finnish_day(value)
    return day - timedelta(days=day.weekday())


def weekly_flow(session: Session, chosen: FlowFilter) -> list[Week]:
    """Cases opened and closed per week (Monday to Sunday, Helsinki time) of the period, oldest first; the first
    and last week count only their days inside the period."""
    conditions = chosen.conditions()
    first = chosen.period.first - timedelta(days=chosen.period.first.weekday())
    weeks: dict[date, list[int]] = {}
    monday = first
    while monday <= chosen.period.last:
        weeks[monday] = [0, 0]
        monday += timedelta(weeks=1)
    for (opened,) in session.execute(select(ClientCase.opened_at).where(chosen.within(ClientCase.opened_at),
                                                                         *conditions)):
        weeks.setdefault(_monday(_when(opened)), [0, 0])[0] += 1
    for (closed,) in session.execute(select(ClientCase.closed_at).where(ClientCase.closed_at.is_not(None),
                                                                        chosen.within(ClientCase.closed_at),
                                                                        *conditions)):
        weeks.setdefault(_monday(_when(closed)), [0, 0])[1] += 1
    return [Week(day, counts[0], counts[1]) for day, counts in sorted(weeks.items())]


# -- how cases ended ---------------------------------------------------------------------------------------------
NAMED = "named"
NOT_NAMED = "not_named"


@dataclass(frozen=True)
class Endings:
    closed: int
    reasons: list[Count]  # client_case.closure_reason, the most first
    destinations: list[Count]  # closure_evaluation.destination
    next_responsible: list[Count]  # named / not named (a free text: only whether one was named is counted)


def _counts(rows: Sequence[Any]) -> list[Count]:
    out = [Count(key.value if isinstance(key, enum.Enum) else str(key), int(count)) for key, count in rows
           if key is not None]
    return sorted(out, key=lambda c: (-c.count, c.key))


def endings(session: Session, chosen: FlowFilter) -> Endings:
    """The closure reasons, destinations and handovers of the cases closed in the period."""
    closed_here = [ClientCase.closed_at.is_not(None), chosen.within(ClientCase.closed_at), *chosen.conditions()]
    total = int(session.scalar(select(func.count()).select_from(ClientCase).where(*closed_here)) or 0)
    reasons = session.execute(select(ClientCase.closure_reason, func.count()).where(*closed_here)
                              .group_by(ClientCase.closure_reason)).all()
    destinations = session.execute(select(ClosureEvaluation.destination, func.count())
                                   .join(ClientCase, ClientCase.case_id == ClosureEvaluation.case_id)
                                   .where(*closed_here).group_by(ClosureEvaluation.destination)).all()
    has_next = and_(ClientCase.next_responsible.is_not(None), func.trim(ClientCase.next_responsible) != "")
    named = int(session.scalar(select(func.count()).select_from(ClientCase).where(*closed_here, has_next)) or 0)
    return Endings(total, _counts(reasons), _counts(destinations),
                   [Count(NAMED, named), Count(NOT_NAMED, total - named)])

