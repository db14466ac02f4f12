"""The data the pilots evaluated the case manager model with, recorded so that it can be counted.

At each follow-up review: per goal progress, per service status, a re-rating of the four dimensions, whether
the client knows their case manager's name and how to reach them, and the next review date — one record per
review, never overwritten. At closure: the four ratings again, the destination and the client's feedback
(which the client may decline, and which may come on paper and be typed in later).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime

from dateutil.relativedelta import relativedelta
from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from casework.client_case import CaseStatus, ClosureReason, get_case
from casework.errors import CaseworkError, Refused
from casework.models import CaseworkBase, UtcDateTime, enum_type
from casework.plan import MAX_FOLLOW_UP_MONTHS, ItemKind, PlanItem, PlanVersion, current_plan
from casework.service_referral import ServiceStatus

DIMENSIONS = ("physical", "psychological", "social", "cognitive")
SCORE_RANGE = (1, 5)  # the feedback questionnaire's scale


class GoalProgress(enum.Enum):
    NOT_STARTED = "not_started"
    ONGOING = "ongoing"
    REACHED = "reached"
    DROPPED = "dropped"


class KnowsCaseManager(enum.Enum):
    """The client was asked whether they know their case manager's name and how to reach them."""

    YES = "yes"
    NO = "no"
    NOT_ASKED = "not_asked"


class ReviewDecision(enum.Enum):
    CONTINUE = "continue"
    REVISE_PLAN = "revise_plan"
    TEAM_REVIEW = "team_review"
    CLOSE = "close"


class FeedbackResponse(enum.Enum):
    ANSWERED = "answered"
    PAPER = "paper"  # answered on paper, typed in by staff
    DECLINED = "declined"
    NOT_REACHED = "not_reached"


class InvalidEvaluation(CaseworkError):
    """The review or closure data cannot be recorded as given; `problems` lists each thing to correct."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Ratings:
    """The four dimensions of work ability, each 0 no need · 1 some · 2 significant · 3 severe."""

    physical: int
    psychological: int
    social: int
    cognitive: int

    def problems(self) -> list[str]:
        return [f"{name} rating must be 0-3, got {value}" for name, value in
                zip(DIMENSIONS, (self.physical, self.psychological, self.social, self.cognitive), strict=True)
                if not 0 <= value <= 3]


@dataclass(frozen=True)
class ReviewInput:
    ratings: Ratings
    knows_case_manager: KnowsCaseManager
    decision: ReviewDecision
    next_review_date: date | None = None
    goals: dict[int, GoalProgress] = field(default_factory=dict)  # plan item id of a goal -> its progress
    services: dict[int, ServiceStatus | None] = field(default_factory=dict)  # service item id -> status
    notes: str = ""
    requested_by: str | None = None  # set when the review was asked for early (client, network, consultation)


@dataclass(frozen=True)
class Feedback:
    response: FeedbackResponse
    knew_whom_to_contact: int | None = None
    got_services: int | None = None
    was_heard: int | None = None
    comments: str = ""

    def problems(self) -> list[str]:
        scores = {"knew whom to contact": self.knew_whom_to_contact, "got the services needed": self.got_services,
                  "was heard in the plan": self.was_heard}
        answered = self.response in (FeedbackResponse.ANSWERED, FeedbackResponse.PAPER)
        problems = []
        for name, score in scores.items():
            if answered and score is None:
                problems.append(f"feedback: '{name}' needs a score 1-5")
            elif not answered and score is not None:
                problems.append(f"feedback was {self.response.value}: '{name}' must be left empty")
            elif score is not None and not SCORE_RANGE[0] <= score <= SCORE_RANGE[1]:
                problems.append(f"feedback: '{name}' must be 1-5, got {score}")
        if not answered and self.comments.strip():
            problems.append(f"feedback was {self.response.value}: the free text must be left empty")
        return problems


class FollowUpReview(CaseworkBase):
    """One follow-up review; a later review adds a record and never changes this one."""

    __tablename__ = "follow_up_review"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("client_case.case_id"), index=True)
    plan_version: Mapped[int | None] = mapped_column(Integer)  # the plan in force at the review
    reviewed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reviewed_by: Mapped[str] = mapped_column(String(200))
    requested_by: Mapped[str | None] = mapped_column(String(200))  # an early review: who asked for it
    physical_rating: Mapped[int] = mapped_column(Integer)
    psychological_rating: Mapped[int] = mapped_column(Integer)
    social_rating: Mapped[int] = mapped_column(Integer)
    cognitive_rating: Mapped[int] = mapped_column(Integer)
    knows_case_manager: Mapped[KnowsCaseManager] = mapped_column(enum_type(KnowsCaseManager))
    decision: Mapped[ReviewDecision] = mapped_column(enum_type(ReviewDecision))
    next_review_date: Mapped[date | None] = mapped_column()
    notes: Mapped[str] = mapped_column(Text, default="")
    key: Mapped[str | None] = mapped_column(String(200), unique=True)  # the job that saved it, so it saves once
    goals: Mapped[list[ReviewGoal]] = relationship(order_by="ReviewGoal.plan_item_id", lazy="selectin")
    services: Mapped[list[ReviewService]] = relationship(order_by="ReviewService.plan_item_id", lazy="selectin")


class ReviewGoal(CaseworkBase):
    __tablename__ = "review_goal"
    __table_args__ = (UniqueConstraint("review_id", "plan_item_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("follow_up_review.id"), index=True)
    plan_item_id: Mapped[int] = mapped_column(ForeignKey("plan_item.id"))
    progress: Mapped[GoalProgress] = mapped_column(enum_type(GoalProgress))


class ReviewService(CaseworkBase):
    __tablename__ = "review_service"
    __table_args__ = (UniqueConstraint("review_id", "plan_item_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("follow_up_review.id"), index=True)
    plan_item_id: Mapped[int] = mapped_column(ForeignKey("plan_item.id"))
    status: Mapped[ServiceStatus | None] = mapped_column(enum_type(ServiceStatus))  # None: not referred yet


class ClosureEvaluation(CaseworkBase):
    """What closure adds to the evaluation: ratings at the end, where the client went, and their feedback."""

    __tablename__ = "closure_evaluation"
    case_id: Mapped[str] = mapped_column(ForeignKey("client_case.case_id"), primary_key=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recorded_by: Mapped[str] = mapped_column(String(200))
    physical_rating: Mapped[int] = mapped_column(Integer)
    psychological_rating: Mapped[int] = mapped_column(Integer)
    social_rating: Mapped[int] = mapped_column(Integer)
    cognitive_rating: Mapped[int] = mapped_column(Integer)
    destination: Mapped[ClosureReason] = mapped_column(enum_type(ClosureReason))
    next_responsible: Mapped[str | None] = mapped_column(String(300))
    feedback_response: Mapped[FeedbackResponse] = mapped_column(enum_type(FeedbackResponse))
    feedback_knew_whom_to_contact: Mapped[int | None] = mapped_column(Integer)
    feedback_got_services: Mapped[int | None] = mapped_column(Integer)
    feedback_was_heard: Mapped[int | None] = mapped_column(Integer)
    feedback_comments: Mapped[str] = mapped_column(Text, default="")


def _items(session: Session, case_id: str, ids: list[int]) -> dict[int, PlanItem]:
    if not ids:
        return {}
    rows = session.scalars(select(PlanItem).join(PlanVersion, PlanVersion.id == PlanItem.plan_version_id)
                           .where(PlanVersion.case_id == case_id, PlanItem.id.in_(ids)))
    return {item.id: item for item in rows}


def review_problems(session: Session, case_id: str, review: ReviewInput, on: date) -> list[str]:
    """Everything that keeps `review` from being recorded on the day `on`, as messages to the case manager."""
    problems = review.ratings.problems()
    if review.next_review_date is not None:
        latest = on + relativedelta(months=MAX_FOLLOW_UP_MONTHS)
        if review.next_review_date <= on:
            problems.append(f"the next review date must be after the review ({on.isoformat()})")
        elif review.next_review_date > latest:
            problems.append(f"the next review must be within {MAX_FOLLOW_UP_MONTHS} months, "
                            f"on or before {latest.isoformat()}")
    items = _items(session, case_id, [*review.goals, *review.services])
    for item_id in review.goals:
        if item_id not in items or items[item_id].kind not in (ItemKind.MAIN_GOAL, ItemKind.GOAL):
            problems.append(f"goal {item_id} is not a goal of this case's plan")
    for item_id in review.services:
        if item_id not in items or items[item_id].kind is not ItemKind.SERVICE:
            problems.append(f"service {item_id} is not a planned service of this case")
    return problems


def record_review(session: Session, case_id: str, review: ReviewInput, by: str, at: datetime,
                  key: str | None = None) -> FollowUpReview:
    """Adds the review to the case's record; InvalidEvaluation lists what to correct.

    With `key`, recording again under the same key returns the review already recorded (a job run twice).
    """
    if key is not None:
        done = session.scalar(select(FollowUpReview).where(FollowUpReview.key == key))
        if done is not None:
            return done
    record = get_case(session, case_id, lock=True)
    if record.status is not CaseStatus.OPEN:
        raise Refused("a closed case is not reviewed")
    problems = review_problems(session, case_id, review, at.date())
    if problems:
        raise InvalidEvaluation(problems)
    plan = current_plan(session, case_id)
    ratings = review.ratings
    row = FollowUpReview(case_id=case_id, plan_version=plan.version if plan is not None else None, reviewed_at=at,
                         reviewed_by=by, requested_by=review.requested_by, physical_rating=ratings.physical,
                         psychological_rating=ratings.psychological, social_rating=ratings.social,
                         cognitive_rating=ratings.cognitive, knows_case_manager=review.knows_case_manager,
                         decision=review.decision, next_review_date=review.next_review_date,
                         notes=review.notes, key=key)
    session.add(row)
    session.flush()
    session.add_all([ReviewGoal(review_id=row.id, plan_item_id=item_id, progress=progress)
                     for item_id, progress in sorted(review.goals.items())])
    session.add_all([ReviewService(review_id=row.id, plan_item_id=item_id, status=status)
                     for item_id, status in sorted(review.services.items())])
    session.flush()
    session.refresh(row, ["goals", "services"])
    return row


def reviews_of_case(session: Session, case_id: str) -> list[FollowUpReview]:
    """The case's follow-up reviews, oldest first."""
    return list(session.scalars(select(FollowUpReview).where(FollowUpReview.case_id == case_id)
                                .order_by(FollowUpReview.reviewed_at, FollowUpReview.id)))


def record_closure_evaluation(session: Session, case_id: str, ratings: Ratings, destination: ClosureReason,
                              feedback: Feedback, by: str, at: datetime,
                              next_responsible: str | None = None) -> ClosureEvaluation:
    """The case's closure evaluation; recording it again replaces it until the case is closed."""
    record = get_case(session, case_id, lock=True)
    if record.status is not CaseStatus.OPEN:
        raise Refused("the case is already closed")
    problems = ratings.problems() + feedback.problems()
    if problems:
        raise InvalidEvaluation(problems)
    row = session.get(ClosureEvaluation, case_id) or ClosureEvaluation(case_id=case_id)
    row.recorded_at, row.recorded_by = at, by
    row.physical_rating, row.psychological_rating = ratings.physical, ratings.psychological
    row.social_rating, row.cognitive_rating = ratings.social, ratings.cognitive
    row.destination, row.next_responsible = destination, next_responsible
    row.feedback_response = feedback.response
    row.feedback_knew_whom_to_contact = feedback.knew_whom_to_contact
    row.feedback_got_services, row.feedback_was_heard = feedback.got_services, feedback.was_heard
    row.feedback_comments = feedback.comments.strip()
    session.add(row)
    session.flush()
    return row


def closure_evaluation(session: Session, case_id: str) -> ClosureEvaluation | None:
    return session.get(ClosureEvaluation, case_id)
