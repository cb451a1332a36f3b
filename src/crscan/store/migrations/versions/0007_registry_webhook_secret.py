"""Registries: the SHA-256 of their own push-webhook secret (`crscan registry add --webhook-secret`).

Revision ID: 0006
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('registries') as batch_op:
        batch_op.add_column(sa.Column('webhook_secret_hash', sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('registries') as batch_op:
        batch_op.drop_column('webhook_secret_hash')
