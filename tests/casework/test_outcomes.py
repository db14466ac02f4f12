"""casework.outcomes: whether the case manager model works, from evaluation records with known figures.

Every figure is checked against data built here (the demo has few closed cases): continuity of the case manager,
knowing them, the paired rating change (unpaired cases left out), goals reached, services started within their
due date, destinations and feedback; then the suppression of small numbers at 4 against 5.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from casework.case_manager import Assignment, AssignmentReason
from casework.client import register_client
from casework.client_case import CaseStatus, ClosureReason, open_case
from casework.evaluation import (
    ClosureEvaluation,
    FeedbackResponse,
    FollowUpReview,
    GoalProgress,
    KnowsCaseManager,
    ReviewDecision,
    ReviewGoal,
    ReviewService,
)
from casework.identity_code import IdentityCodeKeys, fictitious_code
from casework.outcomes import (
    Cohort,
    Continuity,
    Feedback,
    Goals,
    Knows,
    Outcomes,
    Period,
    RatingChange,
    Services,
    comment_case_ids,
    outcomes,
    public,
    services_on_time,
    starting_rating,
)
from casework.plan import ItemKind, PlanItem, PlanVersion, ServiceType
from casework.referral import ReferralSource
from casework.service_referral import ReferralAnswer, ServiceReferral, ServiceStatus
from casework.small_numbers import HIDDEN, SUPPRESSED, shown, shown_cells
from casework.stalls import ALL_VERSIONS, LATEST, Scope
from casework.teams import add_team
from casework.users import Role, add_user
from engine.runtime import Engine
from tests.conftest import TestClock
from tests.diagrams import chain, process

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # day 0
PERIOD = Period.of_dates(date(2026, 1, 1), date(2026, 6, 30))  # days -4 .. 176
NOW = T0 + timedelta(days=200)
OUTCOME_PROCESS = ('<bpmn:startEvent id="start"/><bpmn:userTask id="work" name="Work"/><bpmn:endEvent id="end"/>'
                   + chain("start", "work", "end"))
_numbers = itertools.count(1)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def due(n: int) -> date:
    return day(n).date()


@dataclass
class Service:
    due_day: int
    provider: str
    status: ServiceStatus | None = None  # the referral's status (None: never referred)
    status_day: float | None = None
    started_answer_day: float | None = None  # the partner's "started" answer
    reviewed_started_day: float | None = None  # a review found it started


@dataclass
class Spec:
    """One case as the test needs it; days are relative to T0."""

    team: str = "north"
    source: ReferralSource | None = ReferralSource.EMPLOYMENT_SERVICES
    decided: float | None = None  # the coordinator decision "needs a case manager"
    needs_case_manager: bool = True
    assignments: list[tuple[float, float | None]] = field(default_factory=list)
    start_ratings: dict[str, Any] | None = None  # the first plan's starting_situation (None: no plan)
    later_ratings: dict[str, Any] | None = None  # a second plan version's starting_situation
    goals: list[str] = field(default_factory=list)
    goal_reviews: list[tuple[float, dict[str, GoalProgress], int]] = field(default_factory=list)  # day, progress, plan
    knows: list[tuple[float, KnowsCaseManager]] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    closed: float | None = None
    closure_reason: ClosureReason | None = None
    destination: ClosureReason | None = None  # with closure ratings: a closure evaluation
    closure_ratings: tuple[int, int, int, int] | None = None
    feedback: tuple[FeedbackResponse, int | None, int | None, int | None, str] | None = None


def deploy(engine: Engine) -> None:
    engine.deploy({"outcome.bpmn": process("outcome", OUTCOME_PROCESS)})


def build(engine: Engine, clock: TestClock, keys: IdentityCodeKeys, spec: Spec) -> str:
    """The case with everything the spec says, written as the workers would have written it."""
    n = next(_numbers)
    clock.now = day(-60)
    case_id = engine.start("outcome", f"OUT-{n}")
    with engine.db.transaction() as s:
        client = register_client(s, keys, name=f"Testi Asiakas {n}", identity_code=fictitious_code(
            date(1980, 1, 1) + timedelta(days=n), 900 + n % 99), at=clock(),
            municipality="Espoo" if spec.team == "north" else "Vantaa")
        record = open_case(s, case_id, client.id, day(-60))
        record.team_id = spec.team
        record.referral_source = spec.source
        if spec.decided is not None:
            record.needs_case_manager, record.decided_at = spec.needs_case_manager, day(spec.decided)
        for start, end in spec.assignments:
            s.add(Assignment(case_id=case_id, client_id=client.id, user_id="cm", user_name="Case Manager",
                             from_at=day(start), to_at=day(end) if end is not None else None,
                             reason=AssignmentReason.INITIAL))
        _plans(s, case_id, spec)
        for at, answer in spec.knows:
            _review(s, case_id, at, answer)
        if spec.closed is not None:
            record.status, record.closed_at = CaseStatus.CLOSED, day(spec.closed)
            record.closure_reason = spec.closure_reason or spec.destination
        if spec.closure_ratings is not None:
            physical, psychological, social, cognitive = spec.closure_ratings
            response, knew, got, heard, comments = spec.feedback or (FeedbackResponse.DECLINED, None, None, None, "")
            s.add(ClosureEvaluation(case_id=case_id, recorded_at=day(spec.closed or 0), recorded_by="cm",
                                    physical_rating=physical, psychological_rating=psychological,
                                    social_rating=social, cognitive_rating=cognitive,
                                    destination=spec.destination or ClosureReason.EMPLOYMENT,
                                    feedback_response=response, feedback_knew_whom_to_contact=knew,
                                    feedback_got_services=got, feedback_was_heard=heard, feedback_comments=comments))
    return case_id


def _review(s: Session, case_id: str, at: float, answer: KnowsCaseManager = KnowsCaseManager.NOT_ASKED
            ) -> FollowUpReview:
    review = FollowUpReview(case_id=case_id, reviewed_at=day(at), reviewed_by="cm", physical_rating=1,
                            psychological_rating=1, social_rating=1, cognitive_rating=1, knows_case_manager=answer,
                            decision=ReviewDecision.CONTINUE)
    s.add(review)
    s.flush()
    return review


def _plans(s: Session, case_id: str, spec: Spec) -> None:
    if spec.start_ratings is None and not spec.goals and not spec.services:
        return
    versions = [spec.start_ratings or {}] + ([spec.later_ratings] if spec.later_ratings is not None else [])
    items: list[dict[str, PlanItem]] = []
    for number, situation in enumerate(versions, 1):
        plan = PlanVersion(case_id=case_id, version=number, follow_up_months=3, starting_situation=situation,
                           created_by="cm", created_at=day(-50 + number))
        s.add(plan)
        s.flush()
        mine: dict[str, PlanItem] = {}
        for position, text in enumerate(spec.goals):
            mine[text] = PlanItem(plan_version_id=plan.id, position=position, text=text, responsible="cm",
                                  kind=ItemKind.MAIN_GOAL if position == 0 else ItemKind.GOAL, due=due(150))
        for position, service in enumerate(spec.services, len(spec.goals)):
            mine[service.provider] = PlanItem(plan_version_id=plan.id, position=position, kind=ItemKind.SERVICE,
                                              text="", responsible="partner", due=due(service.due_day),
                                              service_type=ServiceType.HEALTH_CHECK,
                                              provider_organisation=service.provider)
        s.add_all(mine.values())
        s.flush()
        items.append(mine)
    for service in spec.services:
        item = items[0][service.provider]  # referred from the plan that first had it; later versions carry it
        if service.status is not None:
            s.add(ServiceReferral(plan_item_id=item.id, case_id=case_id, attempts=1, referral_id=f"r-{item.id}",
                                  referred_at=day(service.due_day - 20), status=service.status,
                                  status_at=day(service.status_day) if service.status_day is not None else None))
            s.flush()
        if service.started_answer_day is not None:
            s.add(ReferralAnswer(plan_item_id=item.id, referral_id=f"r-{item.id}", answer=ServiceStatus.STARTED,
                                 answered_by="partner", answered_at=day(service.started_answer_day)))
        if service.reviewed_started_day is not None:
            review = _review(s, case_id, service.reviewed_started_day)
            s.add(ReviewService(review_id=review.id, plan_item_id=items[-1][service.provider].id,
                                status=ServiceStatus.STARTED))
    for at, progress, version in spec.goal_reviews:
        review = _review(s, case_id, at)
        s.add_all([ReviewGoal(review_id=review.id, plan_item_id=items[version - 1][text].id, progress=p)
                   for text, p in progress.items()])
    s.flush()


R = GoalProgress
K = KnowsCaseManager
DAY_BEFORE = (PERIOD.start - T0).total_seconds() / 86400  # the period's first moment, in days after T0
SPECS: dict[str, Spec] = {
    # named all the time; asked twice, the latest answer counts; a goal carried to plan v2 counts once
    "A": Spec(decided=0, assignments=[(0, None)], knows=[(20, K.YES), (60, K.NO)],
              start_ratings={"physicalRating": 1}, later_ratings={"physicalRating": 3}, goals=["Työ", "Kunto"],
              goal_reviews=[(20, {"Työ": R.ONGOING, "Kunto": R.REACHED}, 1), (60, {"Työ": R.REACHED}, 2)],
              services=[Service(30, "on time by answer", ServiceStatus.STARTED, 25, started_answer_day=25),
                        Service(30, "late by answer", ServiceStatus.DONE, 50, started_answer_day=35),
                        Service(190, "due after the period", ServiceStatus.REQUESTED, 150)]),
    # two days without a case manager between two assignments; "not asked" answers are passed over
    "B": Spec(decided=0, assignments=[(0, 10), (12, None)], knows=[(30, K.NOT_ASKED), (40, K.YES), (70, K.NOT_ASKED)],
              goals=["Opiskelu"], goal_reviews=[(30, {"Opiskelu": R.DROPPED}, 1), (200, {"Opiskelu": R.REACHED}, 1)],
              services=[Service(40, "on time by status", ServiceStatus.DONE, 38),
                        Service(40, "on time by review", None, reviewed_started_day=39)]),
    # closed in the period: named until closure; only ever "not asked"; paired ratings
    "C": Spec(decided=5, assignments=[(5, 50)], closed=50, knows=[(10, K.NOT_ASKED)], source=ReferralSource.SELF,
              start_ratings={"physicalRating": 2, "psychologicalRating": 3, "socialRating": 1, "cognitiveRating": 1},
              goals=["Kuntoutus"], goal_reviews=[(-10, {"Kuntoutus": R.REACHED}, 1)],
              services=[Service(45, "refused", ServiceStatus.REFUSED, 30), Service(45, "unanswered",
                                                                                ServiceStatus.REQUESTED, 25)],
              destination=ClosureReason.EMPLOYMENT, closure_ratings=(1, 3, 2, 0),
              feedback=(FeedbackResponse.ANSWERED, 5, 4, 5, "Hyvä palvelu")),
    # decided before the period; the first case manager left before it and the next came on day 10
    "D": Spec(decided=-40, assignments=[(-40, -20), (10, None)], knows=[(-20, K.YES)]),
    # ratings at referral partly under the short key, partly missing (social left out as unpaired)
    "G": Spec(decided=1, assignments=[(1, 60)], closed=60,
              start_ratings={"physicalRating": "3", "psychological": 2, "cognitiveRating": 0}, goals=["X"],
              destination=ClosureReason.EDUCATION, closure_ratings=(1, 1, 1, 0),
              feedback=(FeedbackResponse.PAPER, 3, 3, 4, "apua sain")),
    # no plan, so no rating at referral: unpaired in every dimension
    "H": Spec(decided=2, assignments=[(2, 70)], closed=70, destination=ClosureReason.EMPLOYMENT,
              closure_ratings=(0, 0, 0, 0), feedback=(FeedbackResponse.DECLINED, None, None, None, "")),
    "I": Spec(decided=3, assignments=[(3, 80)], closed=80, destination=ClosureReason.EMPLOYMENT,
              start_ratings={"physicalRating": 1, "psychologicalRating": 1, "socialRating": 0, "cognitiveRating": 0},
              later_ratings={"physicalRating": 3}, closure_ratings=(1, 1, 0, 0),
              feedback=(FeedbackResponse.ANSWERED, 4, 4, 5, "  ")),
    # the coordinator decided no case manager was needed: only a destination
    "J": Spec(decided=0, needs_case_manager=False, closed=20, closure_reason=ClosureReason.BASIC_SERVICES),
    # closed before the period: nothing of it counts
    "F": Spec(decided=-50, assignments=[(-50, -10)], closed=-10, destination=ClosureReason.MOVED_AWAY,
              closure_ratings=(0, 0, 0, 0), feedback=(FeedbackResponse.ANSWERED, 1, 1, 1, "ennen jaksoa")),
    # another team's case, closed in the period
    "S": Spec(team="south", decided=0, assignments=[(0, 30)], closed=30, destination=ClosureReason.MOVED_AWAY,
              closure_ratings=(3, 3, 3, 3), start_ratings={"physicalRating": 0},
              feedback=(FeedbackResponse.NOT_REACHED, None, None, None, "")),
}


@pytest.fixture
def world(engine: Engine, clock: TestClock, keys: IdentityCodeKeys) -> dict[str, str]:
    with engine.db.transaction() as s:
        add_team(s, "north", "North", clock())
        add_team(s, "south", "South", clock())
        add_user(s, "cm", "Case Manager", [Role.CASE_MANAGER], clock())
    deploy(engine)
    ids = {name: build(engine, clock, keys, spec) for name, spec in SPECS.items()}
    clock.now = NOW
    return ids


NORTH = Cohort(PERIOD, Scope(frozenset({"north"})))


def test_the_period_is_helsinki_days_both_included() -> None:
    assert PERIOD.start == datetime(2025, 12, 31, 22, 0, tzinfo=UTC)
    assert PERIOD.end == datetime(2026, 6, 30, 21, 0, tzinfo=UTC)  # summer time
    assert (PERIOD.first_day, PERIOD.last_day) == (date(2026, 1, 1), date(2026, 6, 30))
    assert day(0) in PERIOD and PERIOD.end not in PERIOD


def test_every_figure_from_known_data(engine: Engine, world: dict[str, str]) -> None:
    with engine.db.read() as s:
        found = outcomes(s, NORTH, NOW)
    # A, B, C, D, G, H, I needed a case manager in the period (J did not; F closed before; S is south).
    # Gaps: B two days; D from the period's start to day 10.
    d_gap = 10 - DAY_BEFORE
    assert (found.continuity.cases, found.continuity.always_named, found.continuity.with_gap) == (7, 5, 2)
    assert found.continuity.seconds_without == pytest.approx((2 + d_gap) * 86400)
    assert found.continuity.days_without == round(2 + d_gap, 1) == 16.5
    # A's latest answer is no, B's latest asked answer yes, C never asked; D's answer was before the period
    assert found.knows == Knows(asked=2, yes=1, no=1, not_asked=1)
    ratings = {r.dimension: r for r in found.ratings}
    # closed in the period with a closure evaluation: C, G, H, I; H has no plan (unpaired); the first plan's
    # ratings count (A and I have a second version with other ones)
    assert ratings["physical"].pairs == ((2, 1), (3, 1), (1, 1)) or sorted(ratings["physical"].pairs) == [
        (1, 1), (2, 1), (3, 1)]
    assert (ratings["physical"].paired, ratings["physical"].unpaired) == (3, 1)
    assert ratings["physical"].mean_change == pytest.approx(-1.0)
    assert (ratings["physical"].improved, ratings["physical"].same, ratings["physical"].worse) == (2, 1, 0)
    assert sorted(ratings["psychological"].pairs) == [(1, 1), (2, 1), (3, 3)]  # G's under the short key
    assert ratings["psychological"].mean_change == pytest.approx(-1 / 3)
    assert (ratings["social"].paired, ratings["social"].unpaired) == (2, 2)  # G and H unpaired
    assert sorted(ratings["social"].pairs) == [(0, 0), (1, 2)]
    assert (ratings["social"].improved, ratings["social"].same, ratings["social"].worse) == (0, 1, 1)
    assert sorted(ratings["cognitive"].pairs) == [(0, 0), (0, 0), (1, 0)]
    # goals: A's Työ (reached at its last review, on plan v2) and Kunto (reached), B's Opiskelu (dropped: the
    # later "reached" is after the period); C's goal was last reviewed before the period, G's never
    assert found.goals.progress == {R.NOT_STARTED: 0, R.ONGOING: 0, R.REACHED: 2, R.DROPPED: 1}
    # services due in the period: on time by the partner's answer, by the referral's status, by a review; one
    # late; one refused; one unanswered past due; one due after the period is not counted
    assert found.services == Services(on_time=3, late=1, not_started=1, ended_unstarted=1, not_due_yet=0)
    assert {k: v for k, v in found.destinations.items() if v} == {
        ClosureReason.EMPLOYMENT: 3, ClosureReason.EDUCATION: 1, ClosureReason.BASIC_SERVICES: 1}
    assert found.closed == 5
    fb = found.feedback
    assert fb.responses == {FeedbackResponse.ANSWERED: 2, FeedbackResponse.PAPER: 1, FeedbackResponse.DECLINED: 1,
                            FeedbackResponse.NOT_REACHED: 0}
    assert fb.scores["knew_whom_to_contact"] == {1: 0, 2: 0, 3: 1, 4: 1, 5: 1}
    assert fb.scores["was_heard"] == {1: 0, 2: 0, 3: 0, 4: 1, 5: 2}
    assert fb.comments == ("apua sain", "Hyvä palvelu")  # alphabetical, blank ones left out
    assert set(fb.comment_case_ids) == {world["C"], world["G"]}


def test_services_ahead_of_their_due_date_are_apart(engine: Engine, world: dict[str, str]) -> None:
    with engine.db.read() as s:
        early = services_on_time(s, NORTH, day(44))
    # day 44: C's two services (due day 45) are not due yet, whatever their referral says
    assert early == Services(on_time=3, late=1, not_started=0, ended_unstarted=0, not_due_yet=2)


def test_the_filters_choose_the_cases(engine: Engine, world: dict[str, str]) -> None:
    with engine.db.read() as s:
        south = outcomes(s, Cohort(PERIOD, Scope(frozenset({"south"}))), NOW)
        everyone = outcomes(s, Cohort(PERIOD), NOW)
        self_referred = outcomes(s, Cohort(PERIOD, referral_source=ReferralSource.SELF), NOW)
        vantaa = outcomes(s, Cohort(PERIOD, Scope(None, "vantaa")), NOW)
        early = outcomes(s, Cohort(Period.of_dates(date(2026, 1, 1), date(2026, 1, 31))), NOW)
    assert south.closed == 1 and south.destinations[ClosureReason.MOVED_AWAY] == 1
    assert {r.dimension: (r.pairs, r.unpaired) for r in south.ratings}["physical"] == (((0, 3),), 0)
    assert everyone.closed == 6 and everyone.continuity.cases == 8
    assert self_referred.closed == 1 and self_referred.destinations[ClosureReason.EMPLOYMENT] == 1
    assert vantaa.closed == 1  # the municipality at referral
    # January: J (day 20) closed; C (day 50) not yet
    assert early.closed == 1 and early.destinations[ClosureReason.BASIC_SERVICES] == 1


def test_the_process_version_filter(engine: Engine, clock: TestClock, keys: IdentityCodeKeys,
                                    world: dict[str, str]) -> None:
    engine.deploy({"outcome.bpmn": process("outcome", OUTCOME_PROCESS.replace('name="Work"', 'name="Work 2"'))})
    build(engine, clock, keys, Spec(decided=0, assignments=[(0, 40)], closed=40,
                                    destination=ClosureReason.EDUCATION, closure_ratings=(0, 0, 0, 0)))
    with engine.db.read() as s:
        newest = outcomes(s, Cohort(PERIOD, version=LATEST), NOW)
        first = outcomes(s, Cohort(PERIOD, version="outcome:1"), NOW)
        every = outcomes(s, Cohort(PERIOD, version=ALL_VERSIONS), NOW)
    assert newest.closed == 1 and newest.destinations[ClosureReason.EDUCATION] == 1
    assert first.closed == 6 and every.closed == 7


def test_starting_ratings_are_read_leniently() -> None:
    assert starting_rating({"physicalRating": 2}, "physical") == 2
    assert starting_rating({"physicalRating": "3"}, "physical") == 3
    assert starting_rating({"physical": 1}, "physical") == 1
    assert starting_rating({"physicalRating": ""}, "physical") is None
    assert starting_rating({"physicalRating": 7}, "physical") is None  # not on the 0-3 scale
    assert starting_rating({"physicalRating": True}, "physical") is None
    assert starting_rating({}, "physical") is None and starting_rating(None, "physical") is None


# -- suppression -------------------------------------------------------------------------------------------------
def test_a_count_below_five_is_suppressed_and_five_is_shown() -> None:
    assert shown(4) == SUPPRESSED == "< 5" and shown(1) == SUPPRESSED
    assert shown(0) == 0  # a zero identifies no one
    assert shown(5) == 5
    # a single small cell would follow from the total: the next smallest goes too
    assert shown_cells([4, 10, 12]) == [SUPPRESSED, HIDDEN, 12]  # hidden, not "< 5": it is ten
    assert shown_cells([5, 10, 12]) == [5, 10, 12]
    assert shown_cells([4, 3, 12]) == [SUPPRESSED, SUPPRESSED, 12]
    assert shown_cells([2, 2]) == [SUPPRESSED, SUPPRESSED]  # a total below five hides everything
    assert shown_cells([4, 0]) == [SUPPRESSED, SUPPRESSED]  # ... its zeros too
    assert shown_cells([4, 0, 10, 12]) == [SUPPRESSED, 0, HIDDEN, 12]  # the next smallest is never a zero


def crafted(n: int, comments: int = 0) -> Outcomes:
    """Outcomes with `n` in every cell that matters (the other side of each split at ten)."""
    pairs = ((2, 1),) * n + ((1, 1),) * 10 + ((1, 2),) * 10
    return Outcomes(
        PERIOD, Continuity(n + 10, 10, n, n * 86400.0), Knows(n + 10, n, 10, n),
        [RatingChange("physical", pairs, n)], Goals({R.REACHED: n, R.ONGOING: 10, R.NOT_STARTED: 10, R.DROPPED: 10}),
        Services(n, 10, 10, 10, n), {**dict.fromkeys(ClosureReason, 0), ClosureReason.EMPLOYMENT: n,
                                     ClosureReason.EDUCATION: 10, ClosureReason.MOVED_AWAY: 10},
        Feedback({FeedbackResponse.ANSWERED: n, FeedbackResponse.PAPER: 0, FeedbackResponse.DECLINED: 10,
                  FeedbackResponse.NOT_REACHED: 10},
                 {"knew_whom_to_contact": {1: 0, 2: 0, 3: 0, 4: 0, 5: n}},
                 tuple(f"teksti {i}" for i in range(comments)), tuple(f"case-{i}" for i in range(comments))))


def test_suppression_at_four_and_five_everywhere() -> None:
    four, five = public(crafted(4, comments=4)), public(crafted(5, comments=5))
    # four: the count, the cell beside it (it would follow from the total) and every share of them
    assert four["caseManager"] == {"cases": 14, "alwaysNamed": HIDDEN, "withGap": SUPPRESSED,
                                   "alwaysNamedShare": HIDDEN, "daysWithout": HIDDEN}
    assert five["caseManager"] == {"cases": 15, "alwaysNamed": 10, "withGap": 5, "alwaysNamedShare": 0.667,
                                   "daysWithout": 5.0}
    assert four["knowsCaseManager"] == {"asked": 14, "yes": SUPPRESSED, "no": HIDDEN, "notAsked": SUPPRESSED,
                                        "yesShare": SUPPRESSED}
    assert five["knowsCaseManager"] == {"asked": 15, "yes": 5, "no": 10, "notAsked": 5, "yesShare": 0.333}
    r4, r5 = four["ratings"][0], five["ratings"][0]
    assert (r4["paired"], r4["unpaired"], r4["improved"], r4["improvedShare"]) == (24, SUPPRESSED, SUPPRESSED,
                                                                                   SUPPRESSED)
    assert r4["same"] == HIDDEN and r4["sameShare"] == HIDDEN and r4["worse"] == 10  # the next smallest goes too
    assert r4["meanChange"] == pytest.approx(round((-4 + 10) / 24, 2))  # 24 pairs behind it
    assert (r5["paired"], r5["unpaired"], r5["improved"], r5["same"], r5["worse"]) == (25, 5, 5, 10, 10)
    assert r5["improvedShare"] == 0.2 and r5["meanChange"] == pytest.approx(round((-5 + 10) / 25, 2))
    assert four["goals"]["reached"] == SUPPRESSED and four["goals"]["reachedShare"] == SUPPRESSED
    assert five["goals"]["reached"] == 5 and five["goals"]["reachedShare"] == pytest.approx(5 / 35, abs=1e-3)
    assert four["services"]["onTime"] == SUPPRESSED and four["services"]["onTimeShare"] == SUPPRESSED
    assert four["services"]["late"] == HIDDEN and four["goals"]["not_started"] == HIDDEN
    assert four["services"]["notDueYet"] == SUPPRESSED and five["services"]["notDueYet"] == 5
    assert five["services"]["onTime"] == 5 and five["services"]["onTimeShare"] == pytest.approx(5 / 35, abs=1e-3)
    d4 = {d["destination"]: d["cases"] for d in four["destinations"]}
    d5 = {d["destination"]: d["cases"] for d in five["destinations"]}
    assert d4["employment"] == SUPPRESSED and d4["vocational_rehabilitation"] == 0
    assert d5["employment"] == 5 and d5["education"] == 10 and d5["pension_process"] == 0
    # feedback: the scores and the free texts, which need five answered questionnaires behind them
    q4, q5 = four["feedback"]["questions"][0], five["feedback"]["questions"][0]
    assert q4["answers"] == SUPPRESSED and q4["mean"] == HIDDEN and q4["scores"]["5"] == SUPPRESSED
    assert q5["answers"] == 5 and q5["mean"] == 5.0 and q5["scores"]["5"] == 5 and q5["scores"]["1"] == 0
    assert four["feedback"]["comments"] == [] and not four["feedback"]["commentsShown"]
    assert five["feedback"]["comments"] == [f"teksti {i}" for i in range(5)] and five["feedback"]["commentsShown"]
    assert comment_case_ids(crafted(4, 4)) == [] and len(comment_case_ids(crafted(5, 5))) == 5


def test_the_public_figures_of_the_known_data_hide_small_groups(engine: Engine, world: dict[str, str]) -> None:
    with engine.db.read() as s:
        found = outcomes(s, NORTH, NOW)
    figures = public(found)
    assert figures["caseManager"]["cases"] == 7 and figures["caseManager"]["withGap"] == SUPPRESSED
    assert figures["caseManager"]["daysWithout"] == HIDDEN  # two clients' days: "< 5" would read as the days
    assert figures["closed"] == 5 and figures["feedback"]["comments"] == []  # three questionnaires answered
    assert comment_case_ids(found) == []
    unsuppressed = public(found, limit=0)
    assert unsuppressed["caseManager"]["daysWithout"] == 16.5
    assert unsuppressed["feedback"]["comments"] == ["apua sain", "Hyvä palvelu"]
    assert replace(found.continuity, seconds_without=0).days_without == 0
