"""the inbox: indexes for its tabs and sorting, task comments, saved task filters

Revision ID: 0014
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_task_inbox', 'task', ['status', 'assignee', 'due', 'follow_up', 'case_id', 'id'])
    op.create_index('ix_task_status_due', 'task', ['status', 'due', 'id'])
    op.create_index('ix_task_candidate_kind_value', 'task_candidate', ['kind', 'value', 'task_id'])
    op.create_table(
        'task_comment',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('task_id', sa.String(36), sa.ForeignKey('task.id'), nullable=False),
        sa.Column('case_id', sa.String(36), sa.ForeignKey('case.id'), nullable=False),
        sa.Column('author', sa.String(200), nullable=False),
        sa.Column('author_name', sa.String(300), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('text', sa.Text, nullable=False),
    )
    op.create_index('ix_task_comment_task_id', 'task_comment', ['task_id'])
    op.create_index('ix_task_comment_case_id', 'task_comment', ['case_id'])
    op.create_table(
        'task_filter',
        sa.Column('id', sa.Integer, primary_key=True),
        sa.Column('name', sa.String(100), nullable=False),
        sa.Column('owner', sa.String(200), sa.ForeignKey('staff_user.id', ondelete='CASCADE'), nullable=False),
        sa.Column('team_id', sa.String(100), sa.ForeignKey('team.id', ondelete='CASCADE')),
        sa.Column('criteria', sa.JSON, nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index('ix_task_filter_owner', 'task_filter', ['owner'])
    op.create_index('ix_task_filter_team_id', 'task_filter', ['team_id'])


def downgrade() -> None:
    op.drop_table('task_filter')
    op.drop_table('task_comment')
    op.drop_index('ix_task_candidate_kind_value', 'task_candidate')
    op.drop_index('ix_task_status_due', 'task')
    op.drop_index('ix_task_inbox', 'task')
