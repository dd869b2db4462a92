"""idempotency keys unique per device, not across devices

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-03 14:20:00.000000
"""

from alembic import op

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("sighting", "videojob"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_idempotency_key")
            batch_op.create_index(
                f"ix_{table}_device_id_idempotency_key", ["device_id", "idempotency_key"], unique=True
            )


def downgrade() -> None:
    # fails if two devices used one key since the upgrade: that is what the upgrade allowed
    for table in ("sighting", "videojob"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ix_{table}_device_id_idempotency_key")
            batch_op.create_index(f"ix_{table}_idempotency_key", ["idempotency_key"], unique=True)
