"""Scanning service: layer indexes kept in the database, and each image's scanned layer list for re-matching.

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'layer_indexes',
        sa.Column('digest', sa.String(length=100), nullable=False),
        sa.Column('cache_key', sa.String(length=255), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('digest', 'cache_key', name=op.f('pk_layer_indexes')),
    )
    op.create_table(
        'image_inventories',
        sa.Column('image_id', sa.String(length=50), nullable=False),
        sa.Column('cache_key', sa.String(length=255), nullable=False),
        sa.Column('reference', sa.String(length=2048), nullable=False),
        sa.Column('layer_digests', sa.JSON(), nullable=False),
        sa.Column('updated_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['image_id'], ['images.id'], name=op.f('fk_image_inventories_image_id_images'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('image_id', name=op.f('pk_image_inventories')),
    )


def downgrade() -> None:
    op.drop_table('image_inventories')
    op.drop_table('layer_indexes')
