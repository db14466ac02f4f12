"""one head again: partner referrals, evaluation, staffing, inbox and task drafts were written side by side

Revision ID: 0016
Revises: 0011, 0012, 0013, 0014, 0015
"""

from __future__ import annotations

revision = '0016'
down_revision = ('0011', '0012', '0013', '0014', '0015')
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
