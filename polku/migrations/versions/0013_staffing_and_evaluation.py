"""staffing alarms raised as team lead tasks; case manager title and unit in the assignment; typed referral
facts on the case; when and how a letter was delivered

Revision ID: 0013
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0010'
branch_labels = None
depends_on = None

UNIT = ('employment_services', 'health_station', 'mental_health_substance_abuse', 'social_work',
        'work_ability_services', 'other')
ALARM = ('deactivated_case_manager', 'no_case_manager', 'change_pending', 'client_not_informed',
         'handover_unconfirmed')


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=40)


def upgrade() -> None:
    with op.batch_alter_table('case_manager_assignment') as batch:
        batch.add_column(sa.Column('user_title', sa.String(200), nullable=True))
        batch.add_column(sa.Column('user_unit', _enum('unit', *UNIT), nullable=True))
    with op.batch_alter_table('client_case') as batch:
        batch.add_column(sa.Column('referral_source', _enum('referralsource', 'employment_services', 'social_work',
                                                            'health_station', 'kela', 'self', 'other'),
                                   nullable=True))
        batch.add_column(sa.Column('labour_market_status', _enum('labourmarketstatus', 'job_seeker', 'not_job_seeker'),
                                   nullable=True))
        batch.add_column(sa.Column('unemployed_months', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('municipality', sa.String(100), nullable=True))
    with op.batch_alter_table('letter') as batch:
        batch.add_column(sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('delivered_how', _enum('howdelivered', 'mailed', 'printed_and_posted',
                                                          'handed_over'), nullable=True))
        batch.add_column(sa.Column('delivered_by', sa.String(200), nullable=True))
    op.create_table(
        'staffing_alarm',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', _enum('alarmkind', *ALARM), nullable=False),
        sa.Column('case_id', sa.String(36), nullable=False),
        sa.Column('user_id', sa.String(200), nullable=True),
        sa.Column('since', sa.DateTime(timezone=True), nullable=False),
        sa.Column('raised_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('alarm_case_id', sa.String(36), nullable=True),
        sa.Column('cleared_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['case_id'], ['client_case.case_id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_staffing_alarm_case_id', 'staffing_alarm', ['case_id'])
    op.create_index('ix_staffing_alarm_alarm_case_id', 'staffing_alarm', ['alarm_case_id'])
    op.create_index('uq_staffing_alarm_open', 'staffing_alarm', ['kind', 'case_id'], unique=True,
                    sqlite_where=sa.text('cleared_at IS NULL'), postgresql_where=sa.text('cleared_at IS NULL'))
    # Letters mailed before this version were delivered when they went to the outbox.
    op.execute("UPDATE letter SET delivered_at = created_at, delivered_how = 'mailed', delivered_by = 'polku' "
               "WHERE delivery = 'email'")


def downgrade() -> None:
    op.drop_table('staffing_alarm')
    with op.batch_alter_table('letter') as batch:
        for column in ('delivered_by', 'delivered_how', 'delivered_at'):
            batch.drop_column(column)
    with op.batch_alter_table('client_case') as batch:
        for column in ('municipality', 'unemployed_months', 'labour_market_status', 'referral_source'):
            batch.drop_column(column)
    with op.batch_alter_table('case_manager_assignment') as batch:
        for column in ('user_unit', 'user_title'):
            batch.drop_column(column)
