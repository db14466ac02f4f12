"""The evaluation data: reviews kept one per review, closure ratings and feedback, each validated before it counts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import pytest

from casework.client_case import ClosureReason
from casework.errors import Refused
from casework.evaluation import (
    Feedback,
    FeedbackResponse,
    GoalProgress,
    InvalidEvaluation,
    KnowsCaseManager,
    Ratings,
    ReviewDecision,
    ReviewInput,
    closure_evaluation,
    record_closure_evaluation,
    record_review,
    reviews_of_case,
)
from casework.handover import close_case
from casework.network_meeting import meetings_of_case, record_consultation, record_network_meeting
from casework.plan import Goal, ItemKind, PlanDraft, PlannedService, ServiceType, save_plan
from casework.service_referral import ServiceStatus
from engine.db import Database
from tests.conftest import TestClock

RATINGS = Ratings(2, 1, 1, 0)


def with_plan(db: Database, clock: TestClock, case_id: str) -> dict[str, int]:
    """The case gets a plan with a main goal, an intermediate goal and one service; returns their item ids."""
    draft = PlanDraft(goals=[Goal("Osa-aikatyö", date(2026, 12, 31), "asiakasvastaava", main=True),
                             Goal("Terveystarkastus tehty", date(2026, 3, 1), "terveysasema")],
                      services=[PlannedService(ServiceType.HEALTH_CHECK, "Terveysasema", "Testi Hoitaja",
                                               date(2026, 2, 1))])
    with db.transaction() as s:
        plan = save_plan(s, case_id, draft, by="aino", at=clock())
        ids = {"main": 0, "goal": 0, "service": 0}
        for item in plan.items:
            name = {ItemKind.MAIN_GOAL: "main", ItemKind.GOAL: "goal", ItemKind.SERVICE: "service"}[item.kind]
            ids[name] = item.id
        return ids


def review(**changes: Any) -> ReviewInput:
    return replace(ReviewInput(RATINGS, KnowsCaseManager.YES, ReviewDecision.CONTINUE), **changes)


def test_each_review_is_kept_and_a_repeated_job_records_it_once(
        db: Database, clock: TestClock, new_case: Callable[..., str]) -> None:
    case_id = new_case()
    ids = with_plan(db, clock, case_id)
    with db.transaction() as s:
        first = record_review(s, case_id, review(goals={ids["main"]: GoalProgress.ONGOING},
                                                 services={ids["service"]: ServiceStatus.ACCEPTED},
                                                 next_review_date=date(2026, 3, 1)),
                              by="aino", at=clock(), key="job:1")
        again = record_review(s, case_id, review(), by="aino", at=clock(), key="job:1")
        assert again.id == first.id
    clock.advance(days=60)
    with db.transaction() as s:
        record_review(s, case_id, review(ratings=Ratings(1, 1, 0, 0), knows_case_manager=KnowsCaseManager.NOT_ASKED,
                                         goals={ids["main"]: GoalProgress.REACHED, ids["goal"]: GoalProgress.DROPPED}),
                      by="bertta", at=clock(), key="job:2")
    with db.transaction() as s:
        kept = reviews_of_case(s, case_id)
        assert [r.reviewed_by for r in kept] == ["aino", "bertta"]
        assert [(r.physical_rating, r.knows_case_manager) for r in kept] == [
            (2, KnowsCaseManager.YES), (1, KnowsCaseManager.NOT_ASKED)]
        assert [{g.plan_item_id: g.progress for g in r.goals} for r in kept] == [
            {ids["main"]: GoalProgress.ONGOING}, {ids["main"]: GoalProgress.REACHED, ids["goal"]: GoalProgress.DROPPED}]
        assert [(s_.plan_item_id, s_.status) for s_ in kept[0].services] == [(ids["service"], ServiceStatus.ACCEPTED)]
        assert kept[0].next_review_date == date(2026, 3, 1) and kept[0].plan_version == 1


def test_a_review_that_cannot_count_is_refused_with_every_problem_named(
        db: Database, clock: TestClock, new_case: Callable[..., str]) -> None:
    case_id, other = new_case(), new_case()
    ids = with_plan(db, clock, case_id)
    foreign = with_plan(db, clock, other)
    today = clock().date()
    bad = review(ratings=Ratings(4, 1, -1, 0), next_review_date=today,
                 goals={ids["service"]: GoalProgress.ONGOING, foreign["main"]: GoalProgress.REACHED},
                 services={ids["main"]: ServiceStatus.DONE})
    with pytest.raises(InvalidEvaluation) as err, db.transaction() as s:
        record_review(s, case_id, bad, by="aino", at=clock())
    assert err.value.problems == [
        "physical rating must be 0-3, got 4",
        "social rating must be 0-3, got -1",
        f"the next review date must be after the review ({today.isoformat()})",
        f"goal {ids['service']} is not a goal of this case's plan",
        f"goal {foreign['main']} is not a goal of this case's plan",
        f"service {ids['main']} is not a planned service of this case",
    ]
    with pytest.raises(InvalidEvaluation, match="within 6 months"), db.transaction() as s:
        record_review(s, case_id, review(next_review_date=today + timedelta(days=200)), by="aino", at=clock())
    with db.transaction() as s:
        assert reviews_of_case(s, case_id) == []


@pytest.mark.parametrize(("feedback", "problem"), [
    (Feedback(FeedbackResponse.ANSWERED, 5, None, 4), "feedback: 'got the services needed' needs a score 1-5"),
    (Feedback(FeedbackResponse.PAPER, 5, 6, 4), "feedback: 'got the services needed' must be 1-5, got 6"),
    (Feedback(FeedbackResponse.DECLINED, 3, None, None), "feedback was declined: 'knew whom to contact' must be left "
                                                          "empty"),
    (Feedback(FeedbackResponse.NOT_REACHED, comments="hyvä"), "feedback was not_reached: the free text must be left "
                                                              "empty"),
])
def test_feedback_is_answered_in_full_or_not_at_all(db: Database, clock: TestClock, new_case: Callable[..., str],
                                                    feedback: Feedback, problem: str) -> None:
    case_id = new_case()
    with pytest.raises(InvalidEvaluation) as err, db.transaction() as s:
        record_closure_evaluation(s, case_id, RATINGS, ClosureReason.EMPLOYMENT, feedback, by="aino", at=clock())
    assert err.value.problems == [problem]
    with db.transaction() as s:
        assert closure_evaluation(s, case_id) is None


def test_the_closure_evaluation_keeps_ratings_destination_and_feedback_until_the_case_closes(
        db: Database, clock: TestClock, new_case: Callable[..., str]) -> None:
    case_id = new_case()
    with db.transaction() as s:
        record_closure_evaluation(s, case_id, Ratings(3, 3, 3, 3), ClosureReason.EDUCATION,
                                  Feedback(FeedbackResponse.DECLINED), by="aino", at=clock())
        record_closure_evaluation(s, case_id, RATINGS, ClosureReason.EMPLOYMENT,  # corrected before closing
                                  Feedback(FeedbackResponse.PAPER, 4, 5, 3, " Kiitos avusta. "), by="aino",
                                  at=clock(), next_responsible="Työllisyyspalvelut")
        close_case(s, case_id, ClosureReason.EMPLOYMENT, clock(), next_responsible="Työllisyyspalvelut")
    with db.transaction() as s:
        row = closure_evaluation(s, case_id)
        assert row is not None
        assert (row.physical_rating, row.psychological_rating, row.social_rating, row.cognitive_rating) == (2, 1, 1, 0)
        assert row.destination is ClosureReason.EMPLOYMENT and row.next_responsible == "Työllisyyspalvelut"
        assert (row.feedback_response, row.feedback_knew_whom_to_contact, row.feedback_got_services,
                row.feedback_was_heard, row.feedback_comments) == (FeedbackResponse.PAPER, 4, 5, 3, "Kiitos avusta.")
    with pytest.raises(Refused), db.transaction() as s:
        record_closure_evaluation(s, case_id, RATINGS, ClosureReason.EMPLOYMENT,
                                  Feedback(FeedbackResponse.DECLINED), by="aino", at=clock())


def test_a_network_meeting_needs_participants_and_what_was_agreed(
        db: Database, clock: TestClock, new_case: Callable[..., str]) -> None:
    case_id = new_case()
    with pytest.raises(InvalidEvaluation) as err, db.transaction() as s:
        record_network_meeting(s, case_id, clock().date() + timedelta(days=1), [" ", ""], "  ", by="aino", at=clock())
    assert err.value.problems == ["a network meeting needs at least one participant",
                                  "record what was agreed in the meeting",
                                  "a meeting is recorded once held: its date cannot be in the future"]
    with db.transaction() as s:
        record_network_meeting(s, case_id, clock().date(), ["Testi Hoitaja, Terveysasema", " "], "Arvio ensin",
                               by="aino", at=clock(), key="job:9")
        record_network_meeting(s, case_id, clock().date(), ["toinen"], "toinen", by="aino", at=clock(), key="job:9")
        assert [m.participants for m in meetings_of_case(s, case_id)] == [["Testi Hoitaja, Terveysasema"]]
        with pytest.raises(InvalidEvaluation):
            record_consultation(s, case_id, " ", "bertta", clock())
