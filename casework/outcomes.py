"""Whether the case manager model works (`/manage/outcomes`): aggregates from the evaluation records.

Every figure is counted for a period and the managers' filters (teams, municipality, referral source, process
version), and each has its own cohort, stated here and on the page:

- **Named case manager all the time**: the cases that needed a case manager (coordinator decision "yes") at some
  time in the period; for each, the time from the decision (or the period's start) to closure (or the period's
  end, or now) is compared with its assignments. A case with no uncovered moment had a named case manager all
  the time (a deactivated person still counts as named: the alarms chase that); the uncovered time, summed over
  the cases, is the days without one.
- **Knew their case manager**: per client, the *latest* follow-up review in the period at which they were asked
  (reviews that record "not asked" are left out): the answer now matters more than the first one. Clients with
  reviews in the period but never asked are counted apart.
- **Work ability ratings, referral to closure** (cases closed in the period): the rating at referral is the
  needs mapping's, which the first plan version keeps in `starting_situation` (`physicalRating`...; the worker
  copies the needs mapping's form variables, which later reviews overwrite in the process, so the process
  variables no longer hold them); the first review is not used, as services have already run by then. The rating
  at closure is the closure evaluation's. Paired: a dimension counts only for cases with both ratings; the rest
  are counted as unpaired and left out. The scale is need (0 none – 3 severe): a lower rating is an improvement,
  and the mean change is closure minus referral (negative: less need).
- **Goals reached**: a goal (of any plan version; the same text in a later version is the same goal) counts in
  the period when its last review up to the period's end was in the period; reached at that review or not.
- **Services started within their due date**: the planned services (a service carried over to a later plan
  version is the same service) whose start due date falls in the period and has passed; started = the earliest
  evidence (the partner's "started" or "done" answer, else the referral's status time, or a review that found it
  started or done), on or before the due date (Helsinki date). Services still ahead of their due date are
  counted apart and not in the share.
- **Destinations and client feedback**: the cases closed in the period (the closure evaluation's destination, else
  the case's closure reason); feedback per question 1–5 from the answered questionnaires (on paper too).

Small numbers are suppressed (`public`, with `casework.small_numbers`): any count from 1 to MIN_CELL - 1 shows as
"< 5", and so does every share derived from it; a zero is shown (it identifies no one: "nobody was without a case
manager" is the figure the model is judged by), except in a table whose total is itself from 1 to MIN_CELL - 1,
where every cell is suppressed. Within a table whose total is shown, a single suppressed cell could be worked out
from the total, so the next smallest shown cell (never a zero) is hidden as well: it shows as HIDDEN, not "< 5",
which would be untrue of it (and so do the shares of a hidden cell). A mean or a sum of days is no count: "< 5"
would read as its value, so when the count behind it is suppressed it shows as HIDDEN.
The clients' free texts are shown only when at least MIN_CELL questionnaires were answered in the group, without
names or case numbers, in alphabetical order; showing them is an access to client data (a client wrote them, and
they may name people or health matters): the caller logs it with the case ids of the texts
(`Feedback.comment_case_ids`).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from casework.case_manager import Assignment
from casework.client_case import CaseStatus, ClientCase, ClosureReason
from casework.evaluation import (
    DIMENSIONS,
    ClosureEvaluation,
    FeedbackResponse,
    FollowUpReview,
    GoalProgress,
    KnowsCaseManager,
    ReviewGoal,
    ReviewService,
)
from casework.finnish_time import HELSINKI, finnish_day
from casework.plan import ItemKind, PlanItem, PlanVersion, same_service
from casework.referral import ReferralSource
from casework.service_referral import ReferralAnswer, ServiceReferral, ServiceStatus
from casework.small_numbers import (
    MIN_CELL,
    SUPPRESSED,
    shown,
    shown_cells,
    shown_share,
    suppressed_mean,
)
from casework.staff import Staff
from casework.stalls import ALL_VERSIONS, EVERYTHING, LATEST, Scope
from casework.users import Role
from engine.clock import aware
from engine.models import Case, Definition

QUESTIONS = ("knew_whom_to_contact", "got_services", "was_heard")  # the closure questionnaire, scored 1-5
SCORES = (1, 2, 3, 4, 5)
STARTED = (ServiceStatus.STARTED, ServiceStatus.DONE)
ENDED_UNSTARTED = (ServiceStatus.REFUSED, ServiceStatus.NOT_AVAILABLE, ServiceStatus.NO_CONSENT,
                   ServiceStatus.DROPPED)
ANSWERED = (FeedbackResponse.ANSWERED, FeedbackResponse.PAPER)



def may_read_free_texts(staff: Staff) -> bool:
    """The clients' own words at closure are for the people who run the service: managers and team leads."""
    return staff.has(Role.MANAGER, Role.TEAM_LEAD)


# -- the cohort ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    """A half-open span of time [start, end), aware UTC; built from Helsinki dates by `of_dates`."""

    start: datetime
    end: datetime

    @classmethod
    def of_dates(cls, first: date, last: date) -> Period:
        """From the start of `first` to the end of `last`, Helsinki time (both days included)."""
        return cls(datetime.combine(first, time(), HELSINKI).astimezone(UTC),
                   datetime.combine(last + timedelta(days=1), time(), HELSINKI).astimezone(UTC))

    @property
    def first_day(self) -> date:
        return finnish_day(self.start)

    @property
    def last_day(self) -> date:
        return (self.end.astimezone(HELSINKI) - timedelta(microseconds=1)).date()

    def __contains__(self, at: datetime) -> bool:
        return self.start <= at < self.end


@dataclass(frozen=True)
class Cohort:
    """Which cases count: the period, the managers' scope, the referral source and the process version."""

    period: Period
    scope: Scope = EVERYTHING
    referral_source: ReferralSource | None = None
    version: str = ALL_VERSIONS  # all, latest (each process's newest version) or key:version

    def conditions(self) -> list[ColumnElement[bool]]:
        """Conditions on ClientCase."""
        out = list(self.scope.conditions())
        if self.referral_source is not None:
            out.append(ClientCase.referral_source == self.referral_source)
        version = _version_condition(self.version)
        if version is not None:
            out.append(version)
        return out

    def case_ids(self) -> Select[Any]:
        return select(ClientCase.case_id).where(*self.conditions())


def _version_condition(version: str) -> ColumnElement[bool] | None:
    if version == ALL_VERSIONS:
        return None
    on_version = select(Case.id).join(Definition, Definition.id == Case.definition_id)
    if version == LATEST:
        newer = aliased(Definition)
        newest = select(func.max(newer.version)).where(newer.key == Definition.key).scalar_subquery()
        return ClientCase.case_id.in_(on_version.where(Definition.version == newest))
    key, _, number = version.rpartition(":")
    if not key or not number.isdigit():
        return None
    return ClientCase.case_id.in_(on_version.where(Definition.key == key, Definition.version == int(number)))


# -- the raw figures -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Continuity:
    cases: int = 0
    always_named: int = 0
    with_gap: int = 0
    seconds_without: float = 0.0

    @property
    def days_without(self) -> float:
        return round(self.seconds_without / 86400, 1)


@dataclass(frozen=True)
class Knows:
    asked: int = 0
    yes: int = 0
    no: int = 0
    not_asked: int = 0


@dataclass(frozen=True)
class RatingChange:
    dimension: str
    pairs: tuple[tuple[int, int], ...] = ()  # (at referral, at closure)
    unpaired: int = 0  # closed cases with a closure evaluation but no rating at referral

    @property
    def paired(self) -> int:
        return len(self.pairs)

    @property
    def improved(self) -> int:
        return sum(1 for before, after in self.pairs if after < before)

    @property
    def same(self) -> int:
        return sum(1 for before, after in self.pairs if after == before)

    @property
    def worse(self) -> int:
        return sum(1 for before, after in self.pairs if after > before)

    @property
    def mean_change(self) -> float | None:
        return sum(after - before for before, after in self.pairs) / len(self.pairs) if self.pairs else None


@dataclass(frozen=True)
class Goals:
    progress: dict[GoalProgress, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.progress.values())


@dataclass(frozen=True)
class Services:
    on_time: int = 0
    late: int = 0
    not_started: int = 0  # past due, not started, not ended
    ended_unstarted: int = 0  # refused, not available, no consent or dropped before starting
    not_due_yet: int = 0

    @property
    def due(self) -> int:
        return self.on_time + self.late + self.not_started + self.ended_unstarted


@dataclass(frozen=True)
class Feedback:
    responses: dict[FeedbackResponse, int] = field(default_factory=dict)
    scores: dict[str, dict[int, int]] = field(default_factory=dict)  # question -> score -> count
    comments: tuple[str, ...] = ()  # alphabetical: nothing of the order of closures is left
    comment_case_ids: tuple[str, ...] = ()

    @property
    def answered(self) -> int:
        return sum(self.responses.get(r, 0) for r in ANSWERED)


@dataclass(frozen=True)
class Outcomes:
    period: Period
    continuity: Continuity
    knows: Knows
    ratings: list[RatingChange]
    goals: Goals
    services: Services
    destinations: dict[ClosureReason, int]
    feedback: Feedback

    @property
    def closed(self) -> int:
        return sum(self.destinations.values())


def _clip(start: datetime, end: datetime, spans: Iterable[tuple[datetime, datetime | None]]) -> float:
    """Seconds of [start, end) that no span covers."""
    covered = 0.0
    reach = start
    for span_start, span_end in sorted((s, e) for s, e in spans):
        s = max(span_start, reach)
        e = min(span_end or end, end)
        if e > s:
            covered += (e - s).total_seconds()
            reach = e
    return (end - start).total_seconds() - covered


def continuity(session: Session, cohort: Cohort, now: datetime) -> Continuity:
    """The cases that needed a case manager in the period, and the time in it none was named."""
    period = cohort.period
    cases = (select(ClientCase.case_id, ClientCase.decided_at, ClientCase.closed_at)
             .where(ClientCase.needs_case_manager.is_(True), ClientCase.decided_at.is_not(None),
                    ClientCase.decided_at < period.end,
                    or_(ClientCase.closed_at.is_(None), ClientCase.closed_at > period.start), *cohort.conditions()))
    spans: dict[str, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    ids = select(cases.subquery().c.case_id)
    for case_id, from_at, to_at in session.execute(select(Assignment.case_id, Assignment.from_at, Assignment.to_at)
                                                   .where(Assignment.case_id.in_(ids))):
        spans[case_id].append((aware(from_at), aware(to_at)))
    counted = named = 0
    seconds = 0.0
    for case_id, decided_at, closed_at in session.execute(cases):
        if decided_at is None:  # the query leaves these out; the type does not know
            continue
        start = max(aware(decided_at), period.start)
        end = min(aware(closed_at) or period.end, period.end, now)
        if end <= start:
            continue
        counted += 1
        gap = _clip(start, end, spans.get(case_id, []))
        if gap <= 0:
            named += 1
        seconds += max(gap, 0.0)
    return Continuity(counted, named, counted - named, seconds)


def knows_case_manager(session: Session, cohort: Cohort) -> Knows:
    """Per client, the latest answer in the period to whether they know their case manager."""
    period = cohort.period
    rows = session.execute(select(FollowUpReview.case_id, FollowUpReview.knows_case_manager)
                           .where(FollowUpReview.reviewed_at >= period.start, FollowUpReview.reviewed_at < period.end,
                                  FollowUpReview.case_id.in_(cohort.case_ids()))
                           .order_by(FollowUpReview.reviewed_at, FollowUpReview.id))
    latest: dict[str, KnowsCaseManager] = {}
    for case_id, answer in rows:
        if answer is not KnowsCaseManager.NOT_ASKED or case_id not in latest:
            latest[case_id] = answer
    counts = Counter(latest.values())
    yes, no = counts[KnowsCaseManager.YES], counts[KnowsCaseManager.NO]
    return Knows(yes + no, yes, no, counts[KnowsCaseManager.NOT_ASKED])


def _closed_in(cohort: Cohort) -> list[ColumnElement[bool]]:
    return [ClientCase.status == CaseStatus.CLOSED, ClientCase.closed_at >= cohort.period.start,
            ClientCase.closed_at < cohort.period.end, *cohort.conditions()]


def starting_rating(situation: dict[str, Any] | None, dimension: str) -> int | None:
    """The needs mapping's rating of a dimension as the first plan kept it (`physicalRating`, or `physical`)."""
    if not isinstance(situation, dict):
        return None
    for name in (f"{dimension}Rating", dimension):
        value = situation.get(name)
        if isinstance(value, bool) or value in (None, ""):
            continue
        try:
            number = int(str(value).strip())
        except ValueError:
            continue
        if 0 <= number <= 3:
            return number
    return None


def rating_changes(session: Session, cohort: Cohort) -> list[RatingChange]:
    """Per dimension, the paired (referral, closure) ratings of the cases closed in the period."""
    closed = select(ClientCase.case_id).where(*_closed_in(cohort))
    closures = {row.case_id: row for row in session.scalars(select(ClosureEvaluation)
                                                             .where(ClosureEvaluation.case_id.in_(closed)))}
    first = (select(PlanVersion.case_id, func.min(PlanVersion.version).label("first"))
             .where(PlanVersion.case_id.in_(closed)).group_by(PlanVersion.case_id).subquery())
    situations: dict[str, dict[str, Any]] = {
        case_id: situation for case_id, situation in session.execute(
            select(PlanVersion.case_id, PlanVersion.starting_situation)
            .join(first, and_(first.c.case_id == PlanVersion.case_id, first.c.first == PlanVersion.version)))}
    out = []
    for dimension in DIMENSIONS:
        pairs: list[tuple[int, int]] = []
        unpaired = 0
        for case_id in sorted(closures):
            before = starting_rating(situations.get(case_id), dimension)
            after = getattr(closures[case_id], f"{dimension}_rating")
            if before is None or after is None:
                unpaired += 1
            else:
                pairs.append((before, int(after)))
        out.append(RatingChange(dimension, tuple(pairs), unpaired))
    return out


def goals_reached(session: Session, cohort: Cohort) -> Goals:
    """Each goal's progress at its last review up to the period's end, for the goals last reviewed in it."""
    rows = session.execute(
        select(PlanVersion.case_id, PlanItem.text, FollowUpReview.reviewed_at, FollowUpReview.id, ReviewGoal.progress)
        .join(PlanItem, PlanItem.id == ReviewGoal.plan_item_id)
        .join(PlanVersion, PlanVersion.id == PlanItem.plan_version_id)
        .join(FollowUpReview, FollowUpReview.id == ReviewGoal.review_id)
        .where(PlanItem.kind.in_([ItemKind.MAIN_GOAL, ItemKind.GOAL]), FollowUpReview.reviewed_at < cohort.period.end,
               PlanVersion.case_id.in_(cohort.case_ids())))
    last: dict[tuple[str, str], tuple[datetime, int, GoalProgress]] = {}
    for case_id, text, reviewed_at, review_id, progress in rows:
        key = (case_id, " ".join(text.split()).casefold())
        seen = (aware(reviewed_at), review_id, progress)
        if key not in last or seen[:2] > last[key][:2]:
            last[key] = seen
    counts = Counter(progress for at, _, progress in last.values() if at >= cohort.period.start)
    return Goals({p: counts[p] for p in GoalProgress})


def services_on_time(session: Session, cohort: Cohort, now: datetime) -> Services:
    """The planned services due in the period: started on or before their start due date, late, or not at all."""
    items = session.execute(
        select(PlanVersion.case_id, PlanVersion.version, PlanItem)
        .join(PlanVersion, PlanVersion.id == PlanItem.plan_version_id)
        .where(PlanItem.kind == ItemKind.SERVICE, PlanVersion.case_id.in_(cohort.case_ids()))
        .order_by(PlanVersion.case_id, PlanVersion.version, PlanItem.position)).all()
    groups: dict[tuple[str, tuple[object, ...]], list[PlanItem]] = defaultdict(list)
    for case_id, _version, item in items:
        groups[(case_id, same_service(item))].append(item)
    item_ids = [item.id for _, _, item in items]
    referrals = {r.plan_item_id: r for r in session.scalars(select(ServiceReferral)
                                                            .where(ServiceReferral.plan_item_id.in_(item_ids)))}
    evidence: dict[int, datetime] = {}

    def seen(item_id: int, at: datetime | None) -> None:
        if at is not None and (item_id not in evidence or aware(at) < evidence[item_id]):
            evidence[item_id] = aware(at)

    for item_id, at in session.execute(select(ReferralAnswer.plan_item_id, ReferralAnswer.answered_at)
                                       .where(ReferralAnswer.plan_item_id.in_(list(referrals)),
                                              ReferralAnswer.answer.in_(STARTED))):
        seen(item_id, at)
    for row in referrals.values():
        if row.status in STARTED:
            seen(row.plan_item_id, row.status_at)
    for item_id, at in session.execute(select(ReviewService.plan_item_id, FollowUpReview.reviewed_at)
                                       .join(FollowUpReview, FollowUpReview.id == ReviewService.review_id)
                                       .where(ReviewService.plan_item_id.in_(item_ids),
                                              ReviewService.status.in_(STARTED))):
        seen(item_id, at)
    today = finnish_day(now)
    first, last = cohort.period.first_day, cohort.period.last_day
    counts: Counter[str] = Counter()
    for group in groups.values():
        referral = next((referrals[i.id] for i in group if i.id in referrals), None)
        due = next(i.due for i in group if referral is None or i.id == referral.plan_item_id)
        if not first <= due <= last:
            continue
        started = min((evidence[i.id] for i in group if i.id in evidence), default=None)
        if started is not None:
            counts["on_time" if finnish_day(started) <= due else "late"] += 1
        elif due >= today:
            counts["not_due_yet"] += 1
        elif referral is not None and referral.status in ENDED_UNSTARTED:
            counts["ended_unstarted"] += 1
        else:
            counts["not_started"] += 1
    return Services(counts["on_time"], counts["late"], counts["not_started"], counts["ended_unstarted"],
                    counts["not_due_yet"])


def destinations(session: Session, cohort: Cohort) -> dict[ClosureReason, int]:
    """Where the clients of the cases closed in the period went (every reason, zero or not)."""
    rows = session.execute(select(ClosureEvaluation.destination, ClientCase.closure_reason)
                           .select_from(ClientCase)
                           .outerjoin(ClosureEvaluation, ClosureEvaluation.case_id == ClientCase.case_id)
                           .where(*_closed_in(cohort)))
    counts = Counter(evaluated or reason for evaluated, reason in rows if (evaluated or reason) is not None)
    return {reason: counts[reason] for reason in ClosureReason}


def feedback(session: Session, cohort: Cohort) -> Feedback:
    """The closure questionnaires of the cases closed in the period: responses, scores, free texts."""
    rows = session.scalars(select(ClosureEvaluation).join(ClientCase, ClientCase.case_id == ClosureEvaluation.case_id)
                           .where(*_closed_in(cohort)))
    responses: Counter[FeedbackResponse] = Counter()
    scores: dict[str, Counter[int]] = {q: Counter() for q in QUESTIONS}
    comments: list[tuple[str, str]] = []
    for row in rows:
        responses[row.feedback_response] += 1
        if row.feedback_response not in ANSWERED:
            continue
        for question in QUESTIONS:
            score = getattr(row, f"feedback_{question}")
            if score is not None:
                scores[question][int(score)] += 1
        if (row.feedback_comments or "").strip():
            comments.append((row.feedback_comments.strip(), row.case_id))
    comments.sort(key=lambda c: (c[0].casefold(), c[0]))
    return Feedback({r: responses[r] for r in FeedbackResponse},
                    {q: {s: scores[q][s] for s in SCORES} for q in QUESTIONS},
                    tuple(text for text, _ in comments), tuple(sorted({case_id for _, case_id in comments})))


def outcomes(session: Session, cohort: Cohort, now: datetime) -> Outcomes:
    """Every figure of the outcomes page, unsuppressed (`public` makes them fit to show)."""
    return Outcomes(cohort.period, continuity(session, cohort, now), knows_case_manager(session, cohort),
                    rating_changes(session, cohort), goals_reached(session, cohort),
                    services_on_time(session, cohort, now), destinations(session, cohort), feedback(session, cohort))


def public(found: Outcomes, limit: int = MIN_CELL) -> dict[str, Any]:
    """The figures fit to show (page, CSV and JSON alike): every count, share and mean suppressed as the module
    says. Free texts are included only when `limit` answered questionnaires back them."""
    c = found.continuity
    c_total = shown(c.cases, limit)
    named, gap = shown_cells([c.always_named, c.with_gap], limit) if c_total != SUPPRESSED else [SUPPRESSED] * 2
    k = found.knows
    k_total = shown(k.asked, limit)
    yes, no = shown_cells([k.yes, k.no], limit) if k_total != SUPPRESSED else [SUPPRESSED] * 2
    ratings = []
    for r in found.ratings:
        paired = shown(r.paired, limit)
        improved, same, worse = (shown_cells([r.improved, r.same, r.worse], limit) if paired != SUPPRESSED
                                 else [SUPPRESSED] * 3)
        mean = r.mean_change
        ratings.append({"dimension": r.dimension, "paired": paired, "unpaired": shown(r.unpaired, limit),
                        "meanChange": suppressed_mean(mean, paired),
                        "improved": improved, "same": same, "worse": worse,
                        "improvedShare": shown_share(improved, paired, r.improved, r.paired),
                        "sameShare": shown_share(same, paired, r.same, r.paired),
                        "worseShare": shown_share(worse, paired, r.worse, r.paired)})
    g = found.goals
    g_total = shown(g.total, limit)
    g_cells = dict(zip(GoalProgress, shown_cells([g.progress.get(p, 0) for p in GoalProgress], limit), strict=True))
    s = found.services
    s_total = shown(s.due, limit)
    on_time, late, not_started, ended = shown_cells([s.on_time, s.late, s.not_started, s.ended_unstarted], limit)
    closed = shown(found.closed, limit)
    d_cells = dict(zip(found.destinations, shown_cells(list(found.destinations.values()), limit), strict=True))
    f = found.feedback
    evaluated = sum(f.responses.values())
    r_cells = dict(zip(f.responses, shown_cells(list(f.responses.values()), limit), strict=True))
    questions = []
    for question in QUESTIONS:
        counts = [f.scores.get(question, {}).get(score, 0) for score in SCORES]
        answers = sum(counts)
        total = shown(answers, limit)
        cells = shown_cells(counts, limit)
        mean = sum(score * n for score, n in zip(SCORES, counts, strict=True)) / answers if answers else None
        questions.append({"question": question, "answers": total,
                          "scores": {str(score): cell for score, cell in zip(SCORES, cells, strict=True)},
                          "mean": suppressed_mean(mean, total)})
    texts_shown = f.answered >= limit
    return {
        "period": {"from": found.period.first_day.isoformat(), "to": found.period.last_day.isoformat()},
        "caseManager": {"cases": c_total, "alwaysNamed": named, "withGap": gap,
                        "alwaysNamedShare": shown_share(named, c_total, c.always_named, c.cases),
                        "daysWithout": suppressed_mean(c.days_without, gap)},
        "knowsCaseManager": {"asked": k_total, "yes": yes, "no": no, "notAsked": shown(k.not_asked, limit),
                             "yesShare": shown_share(yes, k_total, k.yes, k.asked)},
        "ratings": ratings,
        "goals": {"goals": g_total, **{p.value: g_cells[p] for p in GoalProgress},
                  "reachedShare": shown_share(g_cells[GoalProgress.REACHED], g_total,
                                              g.progress.get(GoalProgress.REACHED, 0), g.total)},
        "services": {"due": s_total, "onTime": on_time, "late": late, "notStarted": not_started,
                     "endedUnstarted": ended, "notDueYet": shown(s.not_due_yet, limit),
                     "onTimeShare": shown_share(on_time, s_total, s.on_time, s.due)},
        "closed": closed,
        "destinations": [{"destination": reason.value, "cases": d_cells[reason],
                          "share": shown_share(d_cells[reason], closed, n, found.closed)}
                         for reason, n in found.destinations.items()],
        "feedback": {"evaluated": shown(evaluated, limit),
                     "responses": {r.value: r_cells[r] for r in FeedbackResponse},
                     "questions": questions,
                     "commentsShown": texts_shown,
                     "comments": list(f.comments) if texts_shown else []},
    }


def comment_case_ids(found: Outcomes, limit: int = MIN_CELL) -> list[str]:
    """The cases whose free texts `public` shows: the access the caller logs (empty when none are shown)."""
    return list(found.feedback.comment_case_ids) if found.feedback.answered >= limit else []
