"""Service-account keys and IAM tokens (`IamTokenService.Create`), and the console's sessions in the database so
every serving process honours them.

Revision ID: 0008
Revises: 0007
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_token_keys',
    sa.Column('id', sa.String(length=50), nullable=False),
    sa.Column('token_id', sa.String(length=50), nullable=False),
    sa.Column('public_key_pem', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], name=op.f('fk_api_token_keys_token_id_api_tokens'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token_keys'))
    )
    op.create_index(op.f('ix_api_token_keys_token_id'), 'api_token_keys', ['token_id'], unique=False)
    op.create_table('iam_tokens',
    sa.Column('id', sa.String(length=50), nullable=False),
    sa.Column('token_id', sa.String(length=50), nullable=False),
    sa.Column('secret_sha256', sa.LargeBinary(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['token_id'], ['api_tokens.id'], name=op.f('fk_iam_tokens_token_id_api_tokens'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_iam_tokens'))
    )
    op.create_index(op.f('ix_iam_tokens_expires_at'), 'iam_tokens', ['expires_at'], unique=False)
    op.create_index(op.f('ix_iam_tokens_token_id'), 'iam_tokens', ['token_id'], unique=False)
    op.create_table('console_sessions',
    sa.Column('id_sha256', sa.LargeBinary(length=32), nullable=False),
    sa.Column('token_id', sa.String(length=50), nullable=True),
    sa.Column('sealed_token', sa.LargeBinary(), nullable=False),
    sa.Column('csrf', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=False),
    sa.Column('registries', sa.JSON(), nullable=True),
    sa.Column('can_edit', sa.Boolean(), nullable=False),
    sa.Column('can_admin', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id_sha256', name=op.f('pk_console_sessions'))
    )
    op.create_index(op.f('ix_console_sessions_expires_at'), 'console_sessions', ['expires_at'], unique=False)
    op.create_index(op.f('ix_console_sessions_token_id'), 'console_sessions', ['token_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_console_sessions_token_id'), table_name='console_sessions')
    op.drop_index(op.f('ix_console_sessions_expires_at'), table_name='console_sessions')
    op.drop_table('console_sessions')
    op.drop_index(op.f('ix_iam_tokens_token_id'), table_name='iam_tokens')
    op.drop_index(op.f('ix_iam_tokens_expires_at'), table_name='iam_tokens')
    op.drop_table('iam_tokens')
    op.drop_index(op.f('ix_api_token_keys_token_id'), table_name='api_token_keys')
    op.drop_table('api_token_keys')
