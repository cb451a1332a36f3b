"""One RUNNING scan per image and one scan policy per registry, enforced by the database across processes.

Rows that already break either rule (left by the process-local lock this replaces) are resolved first: the
oldest RUNNING scan of an image stays, the others end ERROR with their operations and jobs closed; the oldest
policy of a registry stays.

Revision ID: 0006
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

RUNNING, ERROR = 1, 3
DUPLICATE = "ended by the upgrade to one running scan per image: another scan of this image was running"


def _rpc_status(code: int, message: str) -> bytes:
    """A serialized google.rpc.Status (field 1 code, field 2 message): migrations import no wire modules."""
    text = message.encode()
    return bytes([0x08, code, 0x12, len(text)]) + text


def upgrade() -> None:
    connection = op.get_bind()
    duplicates = connection.execute(sa.text(
        "SELECT s.id FROM scan_results s WHERE s.status = :running AND EXISTS ("
        " SELECT 1 FROM scan_results o WHERE o.image_id = s.image_id AND o.status = :running"
        " AND (o.created_at < s.created_at OR (o.created_at = s.created_at AND o.id < s.id)))"
    ), {"running": RUNNING}).scalars().all()
    for scan_id in duplicates:
        connection.execute(sa.text(
            "UPDATE scan_results SET status = :error, error_message = :message WHERE id = :id"
        ), {"error": ERROR, "message": DUPLICATE, "id": scan_id})
        connection.execute(sa.text(
            "UPDATE operations SET done = :done, error_status = :status WHERE resource_id = :id AND done = :open"
        ), {"done": True, "open": False, "status": _rpc_status(10, DUPLICATE), "id": scan_id})  # 10: ABORTED
        connection.execute(sa.text(
            "UPDATE jobs SET status = 'cancelled', lease_until = NULL"
            " WHERE resource_id = :id AND status IN ('queued', 'running')"
        ), {"id": scan_id})
    op.create_index(
        'uq_scan_results_running_image', 'scan_results', ['image_id'], unique=True,
        sqlite_where=sa.text(f'status = {RUNNING}'), postgresql_where=sa.text(f'status = {RUNNING}'),
    )

    connection.execute(sa.text(
        "DELETE FROM scan_policies WHERE EXISTS (SELECT 1 FROM scan_policies o"
        " WHERE o.registry_id = scan_policies.registry_id"
        " AND (o.created_at < scan_policies.created_at"
        " OR (o.created_at = scan_policies.created_at AND o.id < scan_policies.id)))"
    ))
    op.drop_index('ix_scan_policies_registry_id', table_name='scan_policies')
    op.create_index('ix_scan_policies_registry_id', 'scan_policies', ['registry_id'], unique=True)


def downgrade() -> None:
    op.drop_index('ix_scan_policies_registry_id', table_name='scan_policies')
    op.create_index('ix_scan_policies_registry_id', 'scan_policies', ['registry_id'], unique=False)
    op.drop_index('uq_scan_results_running_image', table_name='scan_results')
