"""API tokens: role, registry scope, SHA-256 of the secret, expiry and revocation (`crscan token`).

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_tokens',
    sa.Column('id', sa.String(length=50), nullable=False),
    sa.Column('role', sa.SmallInteger(), nullable=False),
    sa.Column('registries', sa.JSON(), nullable=True),
    sa.Column('description', sa.String(length=256), nullable=False),
    sa.Column('secret_sha256', sa.LargeBinary(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens'))
    )


def downgrade() -> None:
    op.drop_table('api_tokens')
