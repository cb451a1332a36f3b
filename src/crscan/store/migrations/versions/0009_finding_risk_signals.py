"""Findings keep their risk signals and rating: CVSS score and vector, the CISA KEV flag with its dates, the
FIRST EPSS score with its percentile and day; a scan result names the risk feeds its feed build lacked.

Rows written before this upgrade carry none (kev false, scores NULL) and say so: `missing_risk_feeds` NULL
means "not known", never "nothing missing".

Revision ID: 0009
Revises: 0008
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

FINDING_COLUMNS = ('cvss_score', 'cvss_vector', 'kev', 'kev_date_added', 'kev_due_date', 'epss_score',
                   'epss_percentile', 'epss_date')


def upgrade() -> None:
    with op.batch_alter_table('findings') as batch_op:
        batch_op.add_column(sa.Column('cvss_score', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('cvss_vector', sa.String(length=255), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('kev', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('kev_date_added', sa.String(length=10), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('kev_due_date', sa.String(length=10), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('epss_score', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('epss_percentile', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('epss_date', sa.String(length=32), nullable=False, server_default=''))
    # The defaults only filled the rows already there; the models set every value on insert.
    with op.batch_alter_table('findings') as batch_op:
        for name in ('cvss_vector', 'kev', 'kev_date_added', 'kev_due_date', 'epss_date'):
            batch_op.alter_column(name, server_default=None)
    with op.batch_alter_table('scan_results') as batch_op:
        batch_op.add_column(sa.Column('missing_risk_feeds', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('scan_results') as batch_op:
        batch_op.drop_column('missing_risk_feeds')
    with op.batch_alter_table('findings') as batch_op:
        for name in reversed(FINDING_COLUMNS):
            batch_op.drop_column(name)
