"""history_event: a partial index of the element instances still open (where cases wait, for /manage)

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_history_event_open', 'history_event', ['case_id'],
                    sqlite_where=sa.text('ended_at IS NULL'), postgresql_where=sa.text('ended_at IS NULL'))


def downgrade() -> None:
    op.drop_index('ix_history_event_open', table_name='history_event')
