"""partner referrals answered in steps: referral ids, service status, answers; consent given by and how

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

STATUS = ('requested', 'accepted', 'started', 'done', 'refused', 'not_available', 'no_consent', 'dropped')


def _status() -> sa.Enum:
    return sa.Enum(*STATUS, name='servicestatus', native_enum=False, length=40)


def upgrade() -> None:
    with op.batch_alter_table('service_referral', schema=None) as batch_op:
        batch_op.add_column(sa.Column('referral_id', sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column('status', _status(), nullable=True))
        batch_op.add_column(sa.Column('status_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('outcome_text', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_unique_constraint('uq_service_referral_referral_id', ['referral_id'])
    op.create_table(
        'referral_answer',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('plan_item_id', sa.Integer(), nullable=False),
        sa.Column('referral_id', sa.String(length=36), nullable=False),
        sa.Column('partner_id', sa.Integer(), nullable=True),
        sa.Column('answer', _status(), nullable=False),
        sa.Column('outcome_text', sa.Text(), nullable=True),
        sa.Column('answered_by', sa.String(length=200), nullable=False),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['plan_item_id'], ['service_referral.plan_item_id'], ),
        sa.ForeignKeyConstraint(['partner_id'], ['network_partner.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('referral_answer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_referral_answer_plan_item_id'), ['plan_item_id'], unique=False)
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.add_column(sa.Column('given_by', sa.Enum('client', 'guardian', name='consentgiver',
                                                          native_enum=False, length=40), nullable=True))
        batch_op.add_column(sa.Column('method', sa.Enum('written', 'oral', name='consentmethod', native_enum=False,
                                                        length=40), nullable=True))
        batch_op.add_column(sa.Column('witness', sa.String(length=300), nullable=True))
    with op.batch_alter_table('plan_item', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consent_to_share', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('plan_item', schema=None) as batch_op:
        batch_op.drop_column('consent_to_share')
    with op.batch_alter_table('consent', schema=None) as batch_op:
        batch_op.drop_column('witness')
        batch_op.drop_column('method')
        batch_op.drop_column('given_by')
    with op.batch_alter_table('referral_answer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_referral_answer_plan_item_id'))
    op.drop_table('referral_answer')
    with op.batch_alter_table('service_referral', schema=None) as batch_op:
        batch_op.drop_constraint('uq_service_referral_referral_id', type_='unique')
        batch_op.drop_column('reminded_at')
        batch_op.drop_column('outcome_text')
        batch_op.drop_column('status')
        batch_op.drop_column('status_at')
        batch_op.drop_column('referral_id')
