"""admin leases and failed logins: shared by every process

Revision ID: 0003
Revises: 0002
Created: 2026-11-24 18:01:07.682003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import memory.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_lease",
        sa.Column("name", AutoString(length=64), nullable=False),
        sa.Column("holder", AutoString(length=64), nullable=False),
        sa.Column("expires_at", memory.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "admin_login_failure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client", AutoString(length=200), nullable=False),
        sa.Column("at", memory.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("admin_login_failure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_admin_login_failure_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_admin_login_failure_client"), ["client"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("admin_login_failure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_admin_login_failure_client"))
        batch_op.drop_index(batch_op.f("ix_admin_login_failure_at"))

    op.drop_table("admin_login_failure")
    op.drop_table("admin_lease")
