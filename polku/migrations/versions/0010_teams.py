"""teams and the candidate groups they answer for; staff title, unit, organisation and language

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'team',
        sa.Column('id', sa.String(100), primary_key=True),
        sa.Column('name', sa.String(300), nullable=False),
        sa.Column('municipality', sa.String(200)),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        'team_member',
        sa.Column('team_id', sa.String(100), sa.ForeignKey('team.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('user_id', sa.String(200), sa.ForeignKey('staff_user.id', ondelete='CASCADE'), primary_key=True),
    )
    op.create_index('ix_team_member_user_id', 'team_member', ['user_id'])
    op.create_table(
        'team_group',
        sa.Column('team_id', sa.String(100), sa.ForeignKey('team.id', ondelete='CASCADE'), primary_key=True),
        sa.Column('group', sa.String(200), primary_key=True),
        sa.Column('role', sa.String(40)),
    )
    op.create_index('ix_team_group_group', 'team_group', ['group'])
    with op.batch_alter_table('staff_user') as batch:
        batch.add_column(sa.Column('title', sa.String(200)))
        batch.add_column(sa.Column('unit', sa.String(40)))
        batch.add_column(sa.Column('organisation', sa.String(200)))
        batch.add_column(sa.Column('language', sa.String(5)))


def downgrade() -> None:
    with op.batch_alter_table('staff_user') as batch:
        for column in ('language', 'organisation', 'unit', 'title'):
            batch.drop_column(column)
    op.drop_table('team_group')
    op.drop_table('team_member')
    op.drop_table('team')
