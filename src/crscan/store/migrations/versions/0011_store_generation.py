"""The store generation: a one-row counter that every write to an API-visible table bumps in its own transaction
(triggers), so API processes can cache read answers and still see every other process's writes at once
(crscan.store.generation, crscan.api.response_cache).

SQLite: row triggers after insert, update and delete, inside the writing statement's transaction.
PostgreSQL: a deferred constraint trigger per table, bumping once per transaction at commit time: the counter's
row lock is the last lock a writer takes, so writers never deadlock on it and wait on it only while committing;
and a statement trigger for TRUNCATE, which fires no row triggers.

Revision ID: 0011
Revises: 0010
"""

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# Frozen here: a later migration that tracks another table adds its own triggers.
TABLES = ('registries', 'repositories', 'images', 'image_layers', 'scan_results', 'findings', 'operations',
          'scan_policies')
OPERATIONS = ('insert', 'update', 'delete')

BUMP_FUNCTION = """
CREATE FUNCTION store_generation_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- once per transaction: the flag is transaction-local
    IF current_setting('crscan.store_generation_bumped', true) IS DISTINCT FROM txid_current()::text THEN
        UPDATE store_generation SET value = value + 1;
        PERFORM set_config('crscan.store_generation_bumped', txid_current()::text, true);
    END IF;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table('store_generation',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_store_generation'))
    )
    op.execute("INSERT INTO store_generation (id, value) VALUES (1, 0)")
    if op.get_bind().dialect.name == 'sqlite':
        for table in TABLES:
            for operation in OPERATIONS:
                op.execute(f"CREATE TRIGGER store_generation_{table}_{operation} AFTER {operation.upper()} ON {table} "
                           "BEGIN UPDATE store_generation SET value = value + 1; END")
    else:
        op.execute(BUMP_FUNCTION)
        for table in TABLES:
            op.execute(f"CREATE CONSTRAINT TRIGGER store_generation_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                       "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION store_generation_bump()")
            # TRUNCATE fires no row triggers (and constraint triggers are row triggers only)
            op.execute(f"CREATE TRIGGER store_generation_{table}_truncate AFTER TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION store_generation_bump()")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for table in TABLES:
            for operation in OPERATIONS:
                op.execute(f"DROP TRIGGER store_generation_{table}_{operation}")
    else:
        for table in TABLES:
            op.execute(f"DROP TRIGGER store_generation_{table} ON {table}")
            op.execute(f"DROP TRIGGER store_generation_{table}_truncate ON {table}")
        op.execute("DROP FUNCTION store_generation_bump()")
    op.drop_table('store_generation')
