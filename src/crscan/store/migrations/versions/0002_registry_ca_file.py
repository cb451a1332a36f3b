"""Registries: the CA bundle their TLS certificates are checked against (`crscan registry add --ca-file`).

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('registries') as batch_op:
        batch_op.add_column(sa.Column('ca_file', sa.String(length=4096), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('registries') as batch_op:
        batch_op.drop_column('ca_file')
