"""initial schema

Revision ID: 0001
Revises:
Created: 2026-11-24 17:47:33.056286
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

import memory.models

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", memory.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("actor", AutoString(length=200), nullable=False),
        sa.Column("action", AutoString(length=64), nullable=False),
        sa.Column("customer_id", AutoString(length=128), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("detail", AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "customer",
        sa.Column("id", AutoString(length=128), nullable=False),
        sa.Column("channel", AutoString(length=32), nullable=False),
        sa.Column("display_name", AutoString(length=200), nullable=True),
        sa.Column("preferred_name", AutoString(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("pending_action", AutoString(length=32), nullable=True),
        sa.Column("created_at", memory.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", memory.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "handoff",
        sa.Column("id", AutoString(length=32), nullable=False),
        sa.Column("customer_id", AutoString(length=128), nullable=False),
        sa.Column(
            "state",
            sa.Enum("WAITING", "STAFF", "BACK_TO_BOT", "RESOLVED", name="handoffstate"),
            nullable=False,
        ),
        sa.Column("reasons", AutoString(), nullable=False),
        sa.Column("priority", AutoString(length=16), nullable=False),
        sa.Column("findings", AutoString(), nullable=False),
        sa.Column("after_hours", sa.Boolean(), nullable=False),
        sa.Column("slack_channel", AutoString(length=64), nullable=True),
        sa.Column("slack_thread_ts", AutoString(length=32), nullable=True),
        sa.Column("relayed_through", sa.Integer(), nullable=True),
        sa.Column("card_version", sa.Integer(), nullable=False),
        sa.Column("card_shown", sa.Integer(), nullable=False),
        sa.Column("desk_attempts", sa.Integer(), nullable=False),
        sa.Column("desk_retry_at", memory.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("desk_error", AutoString(length=200), nullable=True),
        sa.Column("sync_lease_until", memory.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", AutoString(length=64), nullable=True),
        sa.Column("claimed_by_name", AutoString(length=200), nullable=True),
        sa.Column("closed_by", AutoString(length=64), nullable=True),
        sa.Column("closed_by_name", AutoString(length=200), nullable=True),
        sa.Column("created_at", memory.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("claim_due_at", memory.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", memory.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("closed_at", memory.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("repinged_at", memory.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("reping_posted_at", memory.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("customer_reassured_at", memory.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", memory.models.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("handoff", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_handoff_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_handoff_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_handoff_state"), ["state"], unique=False)
        batch_op.create_index(
            "ix_handoff_thread", ["slack_channel", "slack_thread_ts"], unique=False
        )
        batch_op.create_index(
            "ux_handoff_open_customer",
            ["customer_id"],
            unique=True,
            sqlite_where=sa.text("state IN ('WAITING', 'STAFF')"),
            postgresql_where=sa.text("state IN ('WAITING', 'STAFF')"),
        )

    op.create_table(
        "inbox_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", AutoString(length=64), nullable=False),
        sa.Column("channel", AutoString(length=16), nullable=False),
        sa.Column("customer_id", AutoString(length=128), nullable=False),
        sa.Column("kind", AutoString(length=32), nullable=False),
        sa.Column("payload", AutoString(), nullable=False),
        sa.Column("occurred_at", memory.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("received_at", memory.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column(
            "status", sa.Enum("PENDING", "DONE", "FAILED", name="inboxstatus"), nullable=False
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", memory.models.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_error", AutoString(length=200), nullable=True),
        sa.Column("finished_at", memory.models.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
    )
    with op.batch_alter_table("inbox_event", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbox_event_status_customer", ["status", "customer_id"], unique=False
        )

    op.create_table(
        "inbox_lane",
        sa.Column("customer_id", AutoString(length=128), nullable=False),
        sa.Column("holder", AutoString(length=160), nullable=True),
        sa.Column("lease_until", memory.models.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", AutoString(length=16), nullable=False),
        sa.Column("customer_id", AutoString(length=128), nullable=False),
        sa.Column("event_id", AutoString(length=64), nullable=True),
        sa.Column("messages", AutoString(), nullable=False),
        sa.Column("reply_token", AutoString(length=256), nullable=True),
        sa.Column("reply_tried", sa.Boolean(), nullable=False),
        sa.Column("retry_key", AutoString(length=36), nullable=False),
        sa.Column(
            "status", sa.Enum("PENDING", "SENT", "FAILED", name="outboxstatus"), nullable=False
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", memory.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("sent_via", AutoString(length=16), nullable=True),
        sa.Column("created_at", memory.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", memory.models.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("retry_key"),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_message_event_id"), ["event_id"], unique=False)
        batch_op.create_index(
            "ix_outbox_message_status_customer", ["status", "customer_id"], unique=False
        )

    op.create_table(
        "staff_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", AutoString(length=200), nullable=False),
        sa.Column("kind", AutoString(length=32), nullable=False),
        sa.Column("payload", AutoString(), nullable=False),
        sa.Column(
            "status", sa.Enum("PENDING", "DONE", "FAILED", name="staffeventstatus"), nullable=False
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retry_at", memory.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("received_at", memory.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", memory.models.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("staff_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_event_status"), ["status"], unique=False)

    op.create_table(
        "message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", AutoString(length=128), nullable=False),
        sa.Column("role", sa.Enum("CUSTOMER", "TOMO", "STAFF", name="role"), nullable=False),
        sa.Column("text", AutoString(), nullable=False),
        sa.Column("unsure", sa.Boolean(), nullable=False),
        sa.Column(
            "memory_status",
            sa.Enum("PENDING", "DONE", "SKIPPED", name="memorystatus"),
            nullable=True,
        ),
        sa.Column("line_message_id", AutoString(length=64), nullable=True),
        sa.Column("created_at", memory.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_message_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_message_line_message_id"), ["line_message_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_message_memory_status"), ["memory_status"], unique=False
        )

    op.create_table(
        "memory",
        sa.Column("id", AutoString(length=32), nullable=False),
        sa.Column("customer_id", AutoString(length=128), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("EPISODIC", "FACT", "STAFF_NOTE", "EVENT", name="memorykind"),
            nullable=False,
        ),
        sa.Column("text", AutoString(), nullable=False),
        sa.Column(
            "author", sa.Enum("CUSTOMER", "EXTRACTED", "STAFF", name="author"), nullable=False
        ),
        sa.Column("source_message_id", sa.Integer(), nullable=True),
        sa.Column("sensitivity", AutoString(length=32), nullable=True),
        sa.Column("key", AutoString(length=64), nullable=True),
        sa.Column("event_date", AutoString(length=10), nullable=True),
        sa.Column("superseded_by", AutoString(length=32), nullable=True),
        sa.Column("created_at", memory.models.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", memory.models.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
        ),
        sa.ForeignKeyConstraint(
            ["source_message_id"],
            ["message.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("memory", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memory_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_memory_superseded_by"), ["superseded_by"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("memory", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memory_superseded_by"))
        batch_op.drop_index(batch_op.f("ix_memory_customer_id"))

    op.drop_table("memory")
    with op.batch_alter_table("message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_memory_status"))
        batch_op.drop_index(batch_op.f("ix_message_line_message_id"))
        batch_op.drop_index(batch_op.f("ix_message_customer_id"))
        batch_op.drop_index(batch_op.f("ix_message_created_at"))

    op.drop_table("message")
    with op.batch_alter_table("staff_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_event_status"))

    op.drop_table("staff_event")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_message_status_customer")
        batch_op.drop_index(batch_op.f("ix_outbox_message_event_id"))

    op.drop_table("outbox_message")
    op.drop_table("inbox_lane")
    with op.batch_alter_table("inbox_event", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_event_status_customer")

    op.drop_table("inbox_event")
    with op.batch_alter_table("handoff", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_handoff_open_customer",
            sqlite_where=sa.text("state IN ('WAITING', 'STAFF')"),
            postgresql_where=sa.text("state IN ('WAITING', 'STAFF')"),
        )
        batch_op.drop_index("ix_handoff_thread")
        batch_op.drop_index(batch_op.f("ix_handoff_state"))
        batch_op.drop_index(batch_op.f("ix_handoff_customer_id"))
        batch_op.drop_index(batch_op.f("ix_handoff_created_at"))

    op.drop_table("handoff")
    op.drop_table("customer")
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_customer_id"))
        batch_op.drop_index(batch_op.f("ix_audit_at"))

    op.drop_table("audit")
    for name in (
        "handoffstate",
        "inboxstatus",
        "outboxstatus",
        "staffeventstatus",
        "role",
        "memorystatus",
        "memorykind",
        "author",
    ):
        sa.Enum(name=name).drop(op.get_bind(), checkfirst=True)  # PostgreSQL's enum types
