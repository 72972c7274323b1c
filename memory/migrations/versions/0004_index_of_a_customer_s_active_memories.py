"""index of a customer's active memories (customer_id, superseded_by)

Revision ID: 0004
Revises: 0003
Created: 2026-11-24 21:26:37.930790
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("memory", schema=None) as batch_op:
        batch_op.create_index(
            "ix_memory_customer_active", ["customer_id", "superseded_by"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("memory", schema=None) as batch_op:
        batch_op.drop_index("ix_memory_customer_active")
