"""Registries: hosts besides the registry's own that may receive its credentials as a Bearer token realm
(`crscan registry add --auth-realm-host`).

Revision ID: 0005
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('registries') as batch_op:
        batch_op.add_column(sa.Column('auth_realm_hosts', sa.JSON(), nullable=False, server_default='[]'))


def downgrade() -> None:
    with op.batch_alter_table('registries') as batch_op:
        batch_op.drop_column('auth_realm_hosts')
