"""case page: a case's team, a partner account's organisation, case notes

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('client_case') as batch:
        batch.add_column(sa.Column('team_id', sa.String(100), nullable=True))
        batch.create_foreign_key('fk_client_case_team', 'team', ['team_id'], ['id'])
        batch.create_index('ix_client_case_team_id', ['team_id'])
    with op.batch_alter_table('staff_user') as batch:
        batch.add_column(sa.Column('partner_id', sa.Integer(), nullable=True))
        batch.create_foreign_key('fk_staff_user_partner', 'network_partner', ['partner_id'], ['id'])
    op.create_table(
        'case_note',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.String(36), nullable=False),
        sa.Column('author_id', sa.String(200), nullable=False),
        sa.Column('author_name', sa.String(300), nullable=False),
        sa.Column('partner_id', sa.Integer(), nullable=True),
        sa.Column('referral_id', sa.String(36), nullable=True),
        sa.Column('visibility', sa.Enum('case_team', 'network', name='notevisibility', native_enum=False,
                                        length=40), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['client_case.case_id']),
        sa.ForeignKeyConstraint(['partner_id'], ['network_partner.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_case_note_case_id', 'case_note', ['case_id', 'created_at'])


def downgrade() -> None:
    op.drop_index('ix_case_note_case_id', table_name='case_note')
    op.drop_table('case_note')
    with op.batch_alter_table('staff_user') as batch:
        batch.drop_constraint('fk_staff_user_partner', type_='foreignkey')
        batch.drop_column('partner_id')
    with op.batch_alter_table('client_case') as batch:
        batch.drop_index('ix_client_case_team_id')
        batch.drop_constraint('fk_client_case_team', type_='foreignkey')
        batch.drop_column('team_id')
