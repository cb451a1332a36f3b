"""Findings keep their status: "fixed", or the vendor's word for why there is no fix (will_not_fix,
fix_deferred, end_of_life, under_investigation), "affected" when none is stated.

Rows written before this upgrade get what crscan reported then: "fixed" with a fixed version, else "affected".

Revision ID: 0010
Revises: 0009
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('findings') as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=32), nullable=False, server_default=''))
    op.execute("UPDATE findings SET status = CASE WHEN fixed_by <> '' THEN 'fixed' ELSE 'affected' END")
    # The default only filled the rows already there; the model sets every value on insert.
    with op.batch_alter_table('findings') as batch_op:
        batch_op.alter_column('status', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('findings') as batch_op:
        batch_op.drop_column('status')
