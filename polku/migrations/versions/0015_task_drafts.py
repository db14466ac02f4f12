"""task drafts: a form filled in part way, per task and user

Revision ID: 0015
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'task_draft',
        sa.Column('task_id', sa.String(36), primary_key=True),
        sa.Column('user_id', sa.String(200), sa.ForeignKey('staff_user.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('values', sa.JSON(), nullable=False),
        sa.Column('saved_at', sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('task_draft')
