"""sketch of a memory's vector (memory.sketch), for finding near-duplicates

Rows written before this have none: a write compares them by their vectors.

Revision ID: 0005
Revises: 0004
Created: 2026-11-24 22:55:59.321550
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("memory", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sketch", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("memory", schema=None) as batch_op:
        batch_op.drop_column("sketch")
