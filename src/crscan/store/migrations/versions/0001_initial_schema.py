"""Initial schema: registries, repositories, images, scan results, findings, operations, policies, jobs.

Revision ID: 0001
Revises: 
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('jobs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('resource_id', sa.String(length=50), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs'))
    )
    op.create_index(op.f('ix_jobs_resource_id'), 'jobs', ['resource_id'], unique=False)
    op.create_index(op.f('ix_jobs_status_id'), 'jobs', ['status', 'id'], unique=False)
    op.create_table('operations',
    sa.Column('id', sa.String(length=50), nullable=False),
    sa.Column('description', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=255), nullable=False),
    sa.Column('modified_at', sa.DateTime(), nullable=False),
    sa.Column('done', sa.Boolean(), nullable=False),
    sa.Column('metadata_any', sa.LargeBinary(), nullable=False),
    sa.Column('response_any', sa.LargeBinary(), nullable=True),
    sa.Column('error_status', sa.LargeBinary(), nullable=True),
    sa.Column('resource_id', sa.String(length=50), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operations'))
    )
    op.create_index(op.f('ix_operations_resource_id'), 'operations', ['resource_id'], unique=False)
    op.create_table('registries',
    sa.Column('id', sa.String(length=50), nullable=False),
    sa.Column('folder_id', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('insecure', sa.Boolean(), nullable=False),
    sa.Column('username', sa.String(length=255), nullable=False),
    sa.Column('encrypted_password', sa.LargeBinary(), nullable=True),
    sa.Column('labels', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registries')),
    sa.UniqueConstraint('folder_id', 'name', name=op.f('uq_registries_folder_id_name'))
    )
    op.create_index(op.f('ix_registries_folder_id'), 'registries', ['folder_id'], unique=False)
    op.create_table('settings',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('value', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_settings'))
    )
    op.create_table('repositories',
    sa.Column('id', sa.String(length=50), nullable=False),
    sa.Column('registry_id', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=1024), nullable=False),
    sa.ForeignKeyConstraint(['registry_id'], ['registries.id'], name=op.f('fk_repositories_registry_id_registries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_repositories')),
    sa.UniqueConstraint('registry_id', 'name', name=op.f('uq_repositories_registry_id_name'))
    )
    op.create_table('scan_policies',
    sa.Column('id', sa.String(length=50), nullable=False),
    sa.Column('registry_id', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=63), nullable=False),
    sa.Column('description', sa.String(length=256), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['registry_id'], ['registries.id'], name=op.f('fk_scan_policies_registry_id_registries'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scan_policies'))
    )
    op.create_index(op.f('ix_scan_policies_registry_id'), 'scan_policies', ['registry_id'], unique=False)
    op.create_table('images',
    sa.Column('id', sa.String(length=50), nullable=False),
    sa.Column('repository_id', sa.String(length=50), nullable=False),
    sa.Column('digest', sa.String(length=100), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('config_digest', sa.String(length=100), nullable=False),
    sa.Column('config_size', sa.BigInteger(), nullable=False),
    sa.Column('compressed_size', sa.BigInteger(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['repository_id'], ['repositories.id'], name=op.f('fk_images_repository_id_repositories'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_images')),
    sa.UniqueConstraint('repository_id', 'digest', name=op.f('uq_images_repository_id_digest'))
    )
    op.create_index(op.f('ix_images_repository_id_created_at_id'), 'images', ['repository_id', 'created_at', 'id'], unique=False)
    op.create_table('image_layers',
    sa.Column('image_id', sa.String(length=50), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=100), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('media_type', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], name=op.f('fk_image_layers_image_id_images'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('image_id', 'position', name=op.f('pk_image_layers'))
    )
    op.create_table('scan_results',
    sa.Column('id', sa.String(length=50), nullable=False),
    sa.Column('image_id', sa.String(length=50), nullable=False),
    sa.Column('repository_id', sa.String(length=50), nullable=False),
    sa.Column('status', sa.SmallInteger(), nullable=False),
    sa.Column('scanned_at', sa.DateTime(), nullable=False),
    sa.Column('critical', sa.Integer(), nullable=False),
    sa.Column('high', sa.Integer(), nullable=False),
    sa.Column('medium', sa.Integer(), nullable=False),
    sa.Column('low', sa.Integer(), nullable=False),
    sa.Column('negligible', sa.Integer(), nullable=False),
    sa.Column('undefined', sa.Integer(), nullable=False),
    sa.Column('feed_build_id', sa.String(length=100), nullable=False),
    sa.Column('warnings', sa.JSON(), nullable=False),
    sa.Column('error_message', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['image_id'], ['images.id'], name=op.f('fk_scan_results_image_id_images'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['repository_id'], ['repositories.id'], name=op.f('fk_scan_results_repository_id_repositories'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scan_results'))
    )
    op.create_index(op.f('ix_scan_results_image_id_scanned_at_id'), 'scan_results', ['image_id', 'scanned_at', 'id'], unique=False)
    op.create_index(op.f('ix_scan_results_image_id_status_id'), 'scan_results', ['image_id', 'status', 'id'], unique=False)
    op.create_index('ix_scan_results_image_vulnerabilities', 'scan_results', ['image_id', 'critical', 'high', 'medium', 'low', 'negligible', 'undefined', 'id'], unique=False)
    op.create_index(op.f('ix_scan_results_repository_id_scanned_at_id'), 'scan_results', ['repository_id', 'scanned_at', 'id'], unique=False)
    op.create_index(op.f('ix_scan_results_repository_id_status_id'), 'scan_results', ['repository_id', 'status', 'id'], unique=False)
    op.create_index('ix_scan_results_repository_vulnerabilities', 'scan_results', ['repository_id', 'critical', 'high', 'medium', 'low', 'negligible', 'undefined', 'id'], unique=False)
    op.create_table('findings',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('scan_result_id', sa.String(length=50), nullable=False),
    sa.Column('severity', sa.SmallInteger(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('link', sa.Text(), nullable=False),
    sa.Column('package', sa.String(length=1024), nullable=False),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.Column('version', sa.String(length=255), nullable=False),
    sa.Column('fixed_by', sa.String(length=255), nullable=False),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('advisory_id', sa.String(length=255), nullable=False),
    sa.Column('severity_source', sa.String(length=64), nullable=False),
    sa.Column('layer_digest', sa.String(length=100), nullable=False),
    sa.Column('path', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['scan_result_id'], ['scan_results.id'], name=op.f('fk_findings_scan_result_id_scan_results'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_findings'))
    )
    op.create_index(op.f('ix_findings_scan_result_id_name_id'), 'findings', ['scan_result_id', 'name', 'id'], unique=False)
    op.create_index(op.f('ix_findings_scan_result_id_severity_id'), 'findings', ['scan_result_id', 'severity', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_findings_scan_result_id_severity_id'), table_name='findings')
    op.drop_index(op.f('ix_findings_scan_result_id_name_id'), table_name='findings')
    op.drop_table('findings')
    op.drop_index('ix_scan_results_repository_vulnerabilities', table_name='scan_results')
    op.drop_index(op.f('ix_scan_results_repository_id_status_id'), table_name='scan_results')
    op.drop_index(op.f('ix_scan_results_repository_id_scanned_at_id'), table_name='scan_results')
    op.drop_index('ix_scan_results_image_vulnerabilities', table_name='scan_results')
    op.drop_index(op.f('ix_scan_results_image_id_status_id'), table_name='scan_results')
    op.drop_index(op.f('ix_scan_results_image_id_scanned_at_id'), table_name='scan_results')
    op.drop_table('scan_results')
    op.drop_table('image_layers')
    op.drop_index(op.f('ix_images_repository_id_created_at_id'), table_name='images')
    op.drop_table('images')
    op.drop_index(op.f('ix_scan_policies_registry_id'), table_name='scan_policies')
    op.drop_table('scan_policies')
    op.drop_table('repositories')
    op.drop_table('settings')
    op.drop_index(op.f('ix_registries_folder_id'), table_name='registries')
    op.drop_table('registries')
    op.drop_index(op.f('ix_operations_resource_id'), table_name='operations')
    op.drop_table('operations')
    op.drop_index(op.f('ix_jobs_status_id'), table_name='jobs')
    op.drop_index(op.f('ix_jobs_resource_id'), table_name='jobs')
    op.drop_table('jobs')
