"""incident kinds named for what failed: an external task's incidents were stored as 'failedJob'

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE incident SET kind = 'failedExternalTask' WHERE kind = 'failedJob'")


def downgrade() -> None:
    op.execute("UPDATE incident SET kind = 'failedJob' WHERE kind = 'failedExternalTask'")
