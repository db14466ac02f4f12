"""the evaluation data: follow-up reviews (goal progress, service status, ratings, client knows the case
manager, next review date), the closure evaluation with client feedback; network meetings and consultations

Revision ID: 0012
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0010'
branch_labels = None
depends_on = None

SERVICE_STATUS = ('requested', 'accepted', 'started', 'done', 'refused', 'not_available', 'no_consent', 'dropped')
CLOSURE_REASON = ('employment', 'education', 'vocational_rehabilitation', 'pension_process', 'employment_services',
                  'moved_away', 'not_reached', 'client_ended', 'basic_services', 'own_worker')


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=40)


def _ratings() -> list[sa.Column]:
    return [sa.Column(f'{d}_rating', sa.Integer(), nullable=False)
            for d in ('physical', 'psychological', 'social', 'cognitive')]


def upgrade() -> None:
    op.create_table(
        'follow_up_review',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('case_id', sa.String(36), sa.ForeignKey('client_case.case_id'), nullable=False),
        sa.Column('plan_version', sa.Integer(), nullable=True),
        sa.Column('reviewed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('reviewed_by', sa.String(200), nullable=False),
        sa.Column('requested_by', sa.String(200), nullable=True),
        *_ratings(),
        sa.Column('knows_case_manager', _enum('knowscasemanager', 'yes', 'no', 'not_asked'), nullable=False),
        sa.Column('decision', _enum('reviewdecision', 'continue', 'revise_plan', 'team_review', 'close'),
                  nullable=False),
        sa.Column('next_review_date', sa.Date(), nullable=True),
        sa.Column('notes', sa.Text(), nullable=False),
        sa.Column('key', sa.String(200), nullable=True, unique=True),
    )
    op.create_index('ix_follow_up_review_case_id', 'follow_up_review', ['case_id'])
    op.create_table(
        'review_goal',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('review_id', sa.Integer(), sa.ForeignKey('follow_up_review.id'), nullable=False),
        sa.Column('plan_item_id', sa.Integer(), sa.ForeignKey('plan_item.id'), nullable=False),
        sa.Column('progress', _enum('goalprogress', 'not_started', 'ongoing', 'reached', 'dropped'), nullable=False),
        sa.UniqueConstraint('review_id', 'plan_item_id'),
    )
    op.create_index('ix_review_goal_review_id', 'review_goal', ['review_id'])
    op.create_table(
        'review_service',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('review_id', sa.Integer(), sa.ForeignKey('follow_up_review.id'), nullable=False),
        sa.Column('plan_item_id', sa.Integer(), sa.ForeignKey('plan_item.id'), nullable=False),
        sa.Column('status', _enum('servicestatus', *SERVICE_STATUS), nullable=True),
        sa.UniqueConstraint('review_id', 'plan_item_id'),
    )
    op.create_index('ix_review_service_review_id', 'review_service', ['review_id'])
    op.create_table(
        'closure_evaluation',
        sa.Column('case_id', sa.String(36), sa.ForeignKey('client_case.case_id'), primary_key=True),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('recorded_by', sa.String(200), nullable=False),
        *_ratings(),
        sa.Column('destination', _enum('closurereason', *CLOSURE_REASON), nullable=False),
        sa.Column('next_responsible', sa.String(300), nullable=True),
        sa.Column('feedback_response', _enum('feedbackresponse', 'answered', 'paper', 'declined', 'not_reached'),
                  nullable=False),
        sa.Column('feedback_knew_whom_to_contact', sa.Integer(), nullable=True),
        sa.Column('feedback_got_services', sa.Integer(), nullable=True),
        sa.Column('feedback_was_heard', sa.Integer(), nullable=True),
        sa.Column('feedback_comments', sa.Text(), nullable=False),
    )
    op.create_table(
        'network_meeting',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('case_id', sa.String(36), sa.ForeignKey('client_case.case_id'), nullable=False),
        sa.Column('held_on', sa.Date(), nullable=False),
        sa.Column('participants', sa.JSON(), nullable=False),
        sa.Column('agreed', sa.Text(), nullable=False),
        sa.Column('recorded_by', sa.String(200), nullable=False),
        sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('key', sa.String(200), nullable=True, unique=True),
    )
    op.create_index('ix_network_meeting_case_id', 'network_meeting', ['case_id'])
    op.create_table(
        'consultation',
        sa.Column('id', sa.Integer(), primary_key=True),
        sa.Column('case_id', sa.String(36), sa.ForeignKey('client_case.case_id'), nullable=False),
        sa.Column('requested_by', sa.String(200), nullable=True),
        sa.Column('question', sa.Text(), nullable=False),
        sa.Column('answered_by', sa.String(200), nullable=False),
        sa.Column('answer', sa.Text(), nullable=False),
        sa.Column('revise_plan', sa.Boolean(), nullable=False),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('key', sa.String(200), nullable=True, unique=True),
    )
    op.create_index('ix_consultation_case_id', 'consultation', ['case_id'])


def downgrade() -> None:
    for table in ('consultation', 'network_meeting', 'closure_evaluation', 'review_service', 'review_goal',
                  'follow_up_review'):
        op.drop_table(table)
