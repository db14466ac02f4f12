"""Follow-up that never stalls, and the data to evaluate the model: the follow-up loop beside the service
coordination, the next review date, early reviews, network meetings and consultations, reviews and closure
kept as records.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta
from sqlalchemy import select

from casework.client_case import CaseStatus, ClosureReason
from casework.evaluation import (
    FeedbackResponse,
    GoalProgress,
    KnowsCaseManager,
    ReviewDecision,
    closure_evaluation,
    reviews_of_case,
)
from casework.network_meeting import consultations_of_case, meetings_of_case
from casework.plan import ItemKind
from casework.service_referral import ServiceStatus
from engine.models import Job
from tests.scenarios.conftest import World
from tests.scenarios.test_work_ability_support import named
from workers.follow_up import next_review_due

MANAGER = "koordinaattori.anna"
HELSINKI = ZoneInfo("Europe/Helsinki")
REVIEW = {"followUpDecision": "continue", "goalProgress": "ongoing", "physicalRating": 2, "psychologicalRating": 2,
          "socialRating": 1, "cognitiveRating": 1, "clientKnowsCaseManager": "yes"}
FEEDBACK = {"feedbackResponse": "answered", "feedbackKnewWhomToContact": 5, "feedbackGotServices": 4,
            "feedbackWasHeard": 4, "feedbackComments": "Sain vihdoin yhden ihmisen, jolta kysyä."}
HANDOVER = {"closureReason": "employment", "nextResponsible": "Työllisyyspalvelut, Kuvitteellinen Virkailija",
            "nextResponsibleContact": "029 000 0000", "continuationPlan": "Työsuhde alkaa",
            "physicalRating": 1, "psychologicalRating": 1, "socialRating": 0, "cognitiveRating": 0, **FEEDBACK}


def planned(world: World, name: str, *partners: str) -> str:
    """A case whose plan names services of `partners`, each with the client's consent."""
    case = named(world, name, MANAGER)
    for partner in partners:
        world.consent(case, partner)
    world.task(case, "make_plan", world.plan(*partners), actor=MANAGER)
    return case


def due(world: World, case: str, element: str = "follow_up_due") -> datetime:
    timers = world.engine.waiting_timers(case, element)
    assert len(timers) == 1, timers
    return timers[0][1]


def goal_ids(world: World, case: str) -> dict[str, int]:
    plan = world.plans(case)[-1]
    return {("main" if i.kind is ItemKind.MAIN_GOAL else i.text): i.id for i in plan.items
            if i.kind in (ItemKind.MAIN_GOAL, ItemKind.GOAL)}


def close(world: World, case: str, **handover: Any) -> None:
    world.fire(case, "follow_up_due")
    world.task(case, "follow_up_review", {**REVIEW, "followUpDecision": "close", "goalProgress": "reached"},
               actor=MANAGER)
    world.task(case, "handover_plan", {**HANDOVER, **handover}, actor=MANAGER)
    if "handover_meeting" in world.open_tasks(case):
        world.task(case, "handover_meeting", {"meetingDate": world.clock.now.date().isoformat(), "meetingHeld": True,
                                              "summaryForClient": "Jatkossa vastuussa työllisyyspalvelut."},
                   actor=MANAGER)


def test_a_partner_who_never_answers_does_not_stop_the_follow_up(world: World) -> None:
    made = world.clock.now
    case = planned(world, "Testi Hiljainen", "health")  # the health centre never answers
    assert world.engine.message_waiters("partnerAnswer", case_id=case) == [case]
    # the follow-up timer runs from the day the plan is made, on the plan's three-month interval
    assert due(world, case) == made + timedelta(days=(date(2026, 4, 5) - date(2026, 1, 5)).days)
    world.fire(case, "follow_up_due")
    assert "follow_up_review" in world.open_tasks(case)
    assert world.engine.message_waiters("partnerAnswer", case_id=case) == [case]  # coordination still waits
    world.task(case, "follow_up_review", REVIEW, actor=MANAGER)
    assert due(world, case) > world.clock.now  # and the next one is scheduled, the partner still silent
    [review] = reviews(world, case)
    [status] = [s.status for s in review.services]
    assert status is ServiceStatus.REQUESTED  # what the review saw of the silent partner


def test_closure_ends_the_open_service_coordinations_with_the_case(world: World) -> None:
    case = planned(world, "Koe Avoin", "health", "employment")
    world.answer(case, "employment")
    close(world, case)
    assert world.status(case) == "completed"
    assert world.engine.open_tasks(case) == [] and world.engine.waiting_timers(case) == []
    assert world.engine.message_waiters("partnerAnswer", case_id=case) == []
    with world.engine.db.read() as session:
        assert session.scalars(select(Job).where(Job.case_id == case)).all() == []
    assert world.client_case_of(case).status is CaseStatus.CLOSED


def variable(world: World, case: str, name: str) -> Any:
    """A process variable as the case page would show it."""
    return world.engine.case(case)["variables"].get(name)


def reviews(world: World, case: str) -> list[Any]:
    with world.engine.db.read() as session:
        return reviews_of_case(session, case)


def test_a_follow_up_cycle_and_closure_store_the_review_and_feedback_records(world: World) -> None:
    case = planned(world, "Kuvitteellinen Arvio", "employment", "health")
    world.answer(case, "employment")
    goals = goal_ids(world, case)
    services = world.service_ids(case)
    world.fire(case, "follow_up_due")
    first_day = world.clock.now.date()
    world.task(case, "follow_up_review", {
        **REVIEW, "goalProgressByGoal": json.dumps({str(goals["Terveystarkastus tehty"]): "reached"}),
        "serviceStatus": json.dumps({services["health"]: "not_available"}),
        "nextReviewDate": (first_day + timedelta(days=40)).isoformat(), "dimensionChanges": "Uni parantunut"},
        actor=MANAGER)
    world.fire(case, "follow_up_due")
    world.task(case, "follow_up_review", {**REVIEW, "physicalRating": 1, "clientKnowsCaseManager": "no",
                                          "goalProgress": "reached", "nextReviewDate": None}, actor=MANAGER)
    first, second = reviews(world, case)  # one record per review, the first one unchanged
    assert (first.physical_rating, second.physical_rating) == (2, 1)
    assert (first.knows_case_manager, second.knows_case_manager) == (KnowsCaseManager.YES, KnowsCaseManager.NO)
    assert first.next_review_date == first_day + timedelta(days=40) and second.next_review_date is None
    assert first.reviewed_by == MANAGER and first.plan_version == 1 and first.notes == "Uni parantunut"
    assert {g.plan_item_id: g.progress for g in first.goals} == {
        goals["main"]: GoalProgress.ONGOING, goals["Terveystarkastus tehty"]: GoalProgress.REACHED}
    # a field left out keeps its value, as the form shows it: the intermediate goal is still reached
    assert {g.plan_item_id: g.progress for g in second.goals} == {
        goals["main"]: GoalProgress.REACHED, goals["Terveystarkastus tehty"]: GoalProgress.REACHED}
    assert {str(s.plan_item_id): s.status for s in first.services} == {
        services["employment"]: ServiceStatus.ACCEPTED, services["health"]: ServiceStatus.NOT_AVAILABLE}
    assert first.decision is ReviewDecision.CONTINUE and first.requested_by is None
    close(world, case)
    assert [r.decision for r in reviews(world, case)][-1] is ReviewDecision.CLOSE
    with world.engine.db.read() as session:
        closing = closure_evaluation(session, case)
    assert closing is not None and closing.recorded_by == MANAGER
    assert (closing.physical_rating, closing.psychological_rating, closing.social_rating,
            closing.cognitive_rating) == (1, 1, 0, 0)
    assert closing.destination is ClosureReason.EMPLOYMENT
    assert closing.next_responsible == "Työllisyyspalvelut, Kuvitteellinen Virkailija"
    assert closing.feedback_response is FeedbackResponse.ANSWERED
    assert (closing.feedback_knew_whom_to_contact, closing.feedback_got_services, closing.feedback_was_heard) == (
        5, 4, 4)
    assert closing.feedback_comments == "Sain vihdoin yhden ihmisen, jolta kysyä."


def test_feedback_the_client_declined_is_recorded_as_declined_without_scores(world: World) -> None:
    case = planned(world, "Malli Kieltäytyy", "employment")
    close(world, case, feedbackResponse="declined", feedbackKnewWhomToContact=None, feedbackGotServices=None,
          feedbackWasHeard=None, feedbackComments=None, closureReason="client_ended")
    assert world.status(case) == "completed"  # no joint meeting: the client ended it
    with world.engine.db.read() as session:
        closing = closure_evaluation(session, case)
    assert closing is not None and closing.feedback_response is FeedbackResponse.DECLINED
    assert closing.feedback_knew_whom_to_contact is None and closing.destination is ClosureReason.CLIENT_ENDED


def test_incomplete_feedback_returns_to_the_closure_task_with_what_to_correct(world: World) -> None:
    case = planned(world, "Harjoitus Paperi", "employment")
    world.fire(case, "follow_up_due")
    world.task(case, "follow_up_review", {**REVIEW, "followUpDecision": "close"}, actor=MANAGER)
    world.task(case, "handover_plan", {**HANDOVER, "feedbackResponse": "paper", "feedbackWasHeard": None},
               actor=MANAGER)
    assert world.open_tasks(case) == ["handover_plan"]
    [task] = [t for t in world.engine.open_tasks(case) if t.element_id == "handover_plan"]
    with world.engine.db.read() as session:
        assert closure_evaluation(session, case) is None
    assert "'was heard in the plan' needs a score 1-5" in variable(world, case, "closureProblems")
    assert task.assignee == MANAGER
    world.task(case, "handover_plan", {**HANDOVER, "feedbackResponse": "paper", "feedbackWasHeard": 3},
               actor=MANAGER)
    assert world.open_tasks(case) == ["handover_meeting"]
    with world.engine.db.read() as session:
        closing = closure_evaluation(session, case)
    assert closing is not None and closing.feedback_response is FeedbackResponse.PAPER
    assert closing.feedback_was_heard == 3


def test_the_next_review_date_decides_the_next_timer(world: World) -> None:
    case = planned(world, "Esimerkki Päivä", "employment")
    world.fire(case, "follow_up_due")
    agreed = world.clock.now.date() + timedelta(days=45)
    world.task(case, "follow_up_review", {**REVIEW, "nextReviewDate": agreed.isoformat()}, actor=MANAGER)
    # 08:00 in Helsinki on the agreed day, not the plan's three months
    assert due(world, case) == datetime(agreed.year, agreed.month, agreed.day, 8, 0, tzinfo=HELSINKI)
    world.fire(case, "follow_up_due")
    world.task(case, "follow_up_review", {**REVIEW, "nextReviewDate": None}, actor=MANAGER)
    assert due(world, case) == world.clock.now + relativedelta(months=3)  # back on the plan's interval


def test_a_next_review_date_in_the_past_or_too_far_returns_to_the_review(world: World) -> None:
    case = planned(world, "Testi Korjaus", "employment")
    world.fire(case, "follow_up_due")
    today = world.clock.now.date()
    world.task(case, "follow_up_review", {**REVIEW, "nextReviewDate": (today - timedelta(days=1)).isoformat(),
                                          "goalProgressByGoal": "{not json"}, actor=MANAGER)
    assert world.open_tasks(case) == ["follow_up_review"] and reviews(world, case) == []
    problems = variable(world, case, "reviewProblems")
    assert "goal progress must be a JSON object" in problems and "must be after the review" in problems
    world.task(case, "follow_up_review", {**REVIEW, "nextReviewDate": (today + timedelta(days=400)).isoformat(),
                                          "goalProgressByGoal": ""}, actor=MANAGER)
    assert "within 6 months" in variable(world, case, "reviewProblems") and reviews(world, case) == []
    world.task(case, "follow_up_review", {**REVIEW, "nextReviewDate": (today + timedelta(days=30)).isoformat()},
               actor=MANAGER)
    assert len(reviews(world, case)) == 1 and variable(world, case, "reviewProblems") is None
    assert world.open_tasks(case) == []


def test_the_client_asks_for_an_early_review(world: World) -> None:
    case = planned(world, "Koe Kiire", "employment")
    world.clock.advance(days=10)
    world.message("reviewRequested", case, reviewRequestedBy="client")
    assert world.open_tasks(case) == ["follow_up_review"]
    assert world.engine.waiting_timers(case, "follow_up_due") == []  # the scheduled one is replaced
    world.task(case, "follow_up_review", REVIEW, actor=MANAGER)
    [review] = reviews(world, case)
    assert review.requested_by == "client"
    world.fire(case, "follow_up_due")  # the next, scheduled review is no longer "requested"
    world.task(case, "follow_up_review", REVIEW, actor=MANAGER)
    assert reviews(world, case)[-1].requested_by is None


def test_a_review_can_take_the_case_to_the_work_ability_team(world: World) -> None:
    case = planned(world, "Demo Tiimi", "employment")
    world.fire(case, "follow_up_due")
    world.task(case, "follow_up_review", {**REVIEW, "followUpDecision": "team_review"}, actor=MANAGER)
    [task] = [t for t in world.engine.open_tasks(case) if t.element_id == "follow_up_team_review"]
    assert "workAbilityTeam" in (task.candidate_groups or [])
    world.task(case, "follow_up_team_review", {"teamNotes": "Psykiatrinen arvio ennen työkokeilua"},
               actor="koordinaattori.ville")
    assert due(world, case) > world.clock.now and world.open_tasks(case) == []


def test_a_network_meeting_is_recorded_any_time_from_the_case(world: World) -> None:
    case = planned(world, "Keksitty Verkosto", "employment")
    world.message("networkMeeting", case)
    [task] = [t for t in world.engine.open_tasks(case) if t.element_id == "hold_network_meeting"]
    assert task.assignee == MANAGER
    world.task(case, "hold_network_meeting", {
        "networkMeetingDate": world.clock.now.date().isoformat(),
        "networkMeetingParticipants": "Kuvitteellinen Virkailija, Työllisyyspalvelut\nTesti Hoitaja, Terveysasema",
        "networkMeetingAgreed": "Työkokeilu alkaa kuun alussa; terveysasema tekee arvion sitä ennen."},
        actor=MANAGER)
    with world.engine.db.read() as session:
        [meeting] = meetings_of_case(session, case)
    assert meeting.participants == ["Kuvitteellinen Virkailija, Työllisyyspalvelut", "Testi Hoitaja, Terveysasema"]
    assert meeting.recorded_by == MANAGER and meeting.held_on == world.clock.now.date()
    assert due(world, case) > world.clock.now  # the follow-up still waits on its schedule


def test_a_consultation_answered_by_a_coordinator_can_lead_to_a_plan_revision(world: World) -> None:
    case = planned(world, "Harjoitus Konsultaatio", "employment")
    world.message("consultationRequested", case, consultationQuestion="Riittääkö työkokeilu vai ensin kuntoutus?",
                  consultationRequestedBy=MANAGER)
    [task] = [t for t in world.engine.open_tasks(case) if t.element_id == "answer_consultation"]
    assert "coordinators" in (task.candidate_groups or [])
    world.task(case, "answer_consultation", {"consultationAnswer": "Ensin kuntouttava työtoiminta.",
                                             "consultationRevisePlan": True}, actor="koordinaattori.ville")
    with world.engine.db.read() as session:
        [consultation] = consultations_of_case(session, case)
    assert consultation.answered_by == "koordinaattori.ville" and consultation.revise_plan
    assert consultation.question == "Riittääkö työkokeilu vai ensin kuntoutus?"
    assert world.open_tasks(case) == ["follow_up_review"]  # an early review, where the revision is decided
    world.task(case, "follow_up_review", {**REVIEW, "followUpDecision": "revise_plan"}, actor=MANAGER)
    assert reviews(world, case)[-1].requested_by == "consultation"
    world.task(case, "make_plan", world.plan("employment", revision=True), actor=MANAGER)
    assert [p.version for p in world.plans(case)] == [1, 2]
    assert due(world, case) > world.clock.now
    # a second consultation that needs no revision leaves the schedule alone; a third one asks for a review again
    world.message("consultationRequested", case, consultationQuestion="Entä velkaneuvonta?")
    world.task(case, "answer_consultation", {"consultationAnswer": "Ei vielä.", "consultationRevisePlan": False},
               actor=MANAGER)
    assert world.open_tasks(case) == [] and due(world, case) > world.clock.now
    world.message("consultationRequested", case, consultationQuestion="Työkokeilu keskeytyi, mitä nyt?")
    world.task(case, "answer_consultation", {"consultationAnswer": "Päivitä suunnitelma.",
                                             "consultationRevisePlan": True}, actor="koordinaattori.ville")
    world.task(case, "follow_up_review", REVIEW, actor=MANAGER)
    assert [r.requested_by for r in reviews(world, case)] == ["consultation", "consultation"]
    with world.engine.db.read() as session:
        assert [c.revise_plan for c in consultations_of_case(session, case)] == [True, False, True]


def test_next_review_due_prefers_an_agreed_date_within_six_months() -> None:
    now = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert next_review_due(now, None, 3, None) == datetime(2026, 4, 5, 9, 0, tzinfo=UTC)
    assert next_review_due(now, None, None, "P2M") == datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    assert next_review_due(now, None, None, None) == datetime(2026, 4, 5, 9, 0, tzinfo=UTC)
    assert next_review_due(now, date(2026, 2, 1), 3, None) == datetime(2026, 2, 1, 6, 0, tzinfo=UTC)
    assert next_review_due(now, date(2026, 1, 1), 3, None) == datetime(2026, 4, 5, 9, 0, tzinfo=UTC)  # past: stale
    assert next_review_due(now, date(2027, 1, 1), 3, None) == datetime(2026, 4, 5, 9, 0, tzinfo=UTC)  # too far
