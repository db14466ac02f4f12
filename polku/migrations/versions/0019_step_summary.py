"""The management view's summary tables, refreshed by the scheduler (casework/step_summary.py)

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'waiting_item',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.String(length=36), nullable=False),
        sa.Column('process_key', sa.String(length=200), nullable=False),
        sa.Column('version', sa.Integer(), nullable=True),
        sa.Column('element_id', sa.String(length=200), nullable=False),
        sa.Column('element_name', sa.String(length=300), nullable=True),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('team_id', sa.String(length=100), nullable=True),
        sa.Column('municipality', sa.String(length=100), nullable=True),
        sa.Column('referral_source', sa.String(length=40), nullable=True),
        sa.Column('site_variant', sa.String(length=100), nullable=False),
        sa.Column('since', sa.DateTime(timezone=True), nullable=False),
        sa.Column('due', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_waiting_item_step', 'waiting_item', ['process_key', 'version', 'element_id'])
    op.create_index('ix_waiting_item_team', 'waiting_item', ['team_id'])
    op.create_index('ix_waiting_item_due', 'waiting_item', ['due'])
    op.create_table(
        'waiting_step',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('process_key', sa.String(length=200), nullable=False),
        sa.Column('version', sa.Integer(), nullable=True),
        sa.Column('element_id', sa.String(length=200), nullable=False),
        sa.Column('element_name', sa.String(length=300), nullable=True),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('waiting', sa.Integer(), nullable=False),
        sa.Column('cases', sa.Integer(), nullable=False),
        sa.Column('since_p50', sa.DateTime(timezone=True), nullable=False),
        sa.Column('since_p10', sa.DateTime(timezone=True), nullable=False),
        sa.Column('oldest', sa.DateTime(timezone=True), nullable=False),
        sa.Column('overdue', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'step_duration',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('process_key', sa.String(length=200), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('element_id', sa.String(length=200), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('team_id', sa.String(length=100), nullable=False),
        sa.Column('municipality', sa.String(length=100), nullable=False),
        sa.Column('referral_source', sa.String(length=40), nullable=False),
        sa.Column('site_variant', sa.String(length=100), nullable=False),
        sa.Column('bucket', sa.Integer(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('process_key', 'version', 'element_id', 'day', 'team_id', 'municipality',
                            'referral_source', 'site_variant', 'bucket', name='uq_step_duration'),
    )
    op.create_index('ix_step_duration_day', 'step_duration', ['day'])
    op.create_table(
        'step_duration_pending',
        sa.Column('history_id', sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint('history_id'),
    )
    op.create_table(
        'summary_state',
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('watermark', sa.Integer(), nullable=False),
        sa.Column('took_ms', sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint('name'),
    )


def downgrade() -> None:
    op.drop_table('summary_state')
    op.drop_table('step_duration_pending')
    op.drop_index('ix_step_duration_day', table_name='step_duration')
    op.drop_table('step_duration')
    op.drop_table('waiting_step')
    op.drop_index('ix_waiting_item_due', table_name='waiting_item')
    op.drop_index('ix_waiting_item_team', table_name='waiting_item')
    op.drop_index('ix_waiting_item_step', table_name='waiting_item')
    op.drop_table('waiting_item')
