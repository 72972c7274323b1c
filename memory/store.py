"""The memory store: customers, their messages, and a memory handle per customer.

Opened once at start-up (one lifespan) and passed down.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from memory.customer_memory import CustomerMemory
from memory.database import open_engine
from memory.embedding import SentenceEncoder, shared_encoder
from memory.handoffs import Handoff
from memory.models import (
    MESSAGE_TABLE,
    AuditEntry,
    Customer,
    MemoryRecord,
    MemoryStatus,
    Message,
    Role,
    utcnow,
)
from memory.queue import forget_queued
from memory.vectors import VectorStore, open_vectors
from memory.writes import NewMemory, Remembered, write_memories


class PendingMessage(NamedTuple):
    """A customer message waiting for its memory write: what the write needs of it."""

    id: int
    customer_id: str
    text: str


@dataclass(frozen=True)
class ForgetReport:
    """What forgetting a customer removed (counts only, never content)."""

    customer_id: str
    messages: int
    memories: int
    vectors_left: int


@dataclass(frozen=True)
class MessageForgotten:
    """What forgetting one unsent message removed (counts only)."""

    messages: int
    memories: int


class MemoryStore:
    """Every record of every customer, reached one customer at a time."""

    def __init__(self, engine: AsyncEngine, vectors: VectorStore, encoder: SentenceEncoder):
        self.engine = engine
        self.vectors = vectors
        self.encoder = encoder

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        *,
        database_url: str,
        data_dir: Path,
        chroma_url: str | None = None,
        shards: int = 4,
        encoder_threads: int | None = None,
        migrate: bool = True,
    ) -> AsyncIterator[MemoryStore]:
        """Open the SQL and vector stores; `migrate=False`: the schema must be current."""
        engine = await open_engine(database_url, migrate=migrate)
        try:
            vectors = await asyncio.to_thread(
                open_vectors, data_dir, chroma_url, shards, encoder_threads
            )
            yield cls(engine, vectors, shared_encoder(encoder_threads))
        finally:
            await engine.dispose()

    def memory(self, customer_id: str) -> CustomerMemory:
        """The memory handle of one customer."""
        return CustomerMemory(customer_id, self.engine, self.vectors, self.encoder)

    async def customer(self, customer_id: str) -> Customer | None:
        async with AsyncSession(self.engine) as session:
            return await session.get(Customer, customer_id)

    async def customer_ids(self) -> list[str]:
        async with AsyncSession(self.engine) as session:
            rows = await session.exec(select(Customer.id).order_by(col(Customer.created_at)))
            return list(rows.all())

    async def touch_customer(
        self, customer_id: str, *, channel: str, display_name: str | None = None
    ) -> tuple[Customer, bool]:
        """Load the customer (creating them on first contact); returns (customer, is_new)."""
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            customer = await session.get(Customer, customer_id)
            is_new = customer is None
            if customer is None:
                customer = Customer(id=customer_id, channel=channel, display_name=display_name)
            elif display_name and not customer.display_name:
                customer.display_name = display_name
            customer.last_seen_at = utcnow()
            session.add(customer)
            await session.commit()
            return customer, is_new

    async def set_preferred_name(self, customer_id: str, name: str) -> None:
        async with AsyncSession(self.engine) as session:
            customer = await session.get(Customer, customer_id)
            if customer is None:
                raise LookupError(customer_id)
            customer.preferred_name = name
            session.add(customer)
            await session.commit()

    async def record_message(
        self,
        customer_id: str,
        role: Role,
        text: str,
        *,
        unsure: bool = False,
        memory_status: MemoryStatus | None = None,
        line_message_id: str | None = None,
    ) -> Message:
        """Store a message; one with a LINE message id already stored is returned as it is
        (the same event handled again after a crash is not stored twice)."""
        if line_message_id is not None:
            known = await self.line_message(customer_id, line_message_id)
            if known is not None:
                return known
        message = Message(
            customer_id=customer_id,
            role=role,
            text=text,
            unsure=unsure,
            memory_status=memory_status,
            line_message_id=line_message_id,
        )
        async with AsyncSession(self.engine, expire_on_commit=False) as session:
            session.add(message)
            await session.commit()
        return message

    async def recent_messages(
        self, customer_id: str, limit: int = 20, *, before_id: int | None = None
    ) -> list[Message]:
        """The customer's last messages, oldest first."""
        query = select(Message).where(Message.customer_id == customer_id)
        if before_id is not None:
            query = query.where(col(Message.id) < before_id)
        query = query.order_by(col(Message.id).desc()).limit(limit)
        async with AsyncSession(self.engine) as session:
            rows = list((await session.exec(query)).all())
        rows.reverse()
        return rows

    async def remember_batch(
        self, items: list[NewMemory], embedded: NDArray[np.float32] | None = None
    ) -> list[Remembered]:
        """Write memories of several customers at once (each item names its customer).

        `embedded`: their vectors, if already embedded (else embedded here).
        """
        return await write_memories(self.engine, self.vectors, self.encoder, items, embedded)

    async def pending_among(self, message_ids: Sequence[int]) -> list[PendingMessage]:
        """Those of these messages whose memory write is pending, in the order of their ids.

        Plain rows, not ORM objects: the memory writer reads 512 at a time, and
        making the objects was ~5% of its process's profile under a backlog.
        """
        table = MESSAGE_TABLE
        async with self.engine.connect() as connection:
            rows = await connection.execute(
                sa.select(table.c.id, table.c.customer_id, table.c.text)
                .where(
                    table.c.id.in_(message_ids),
                    table.c.memory_status == MemoryStatus.PENDING,
                )
                .order_by(table.c.id)
            )
            return [PendingMessage(*row) for row in rows]

    async def pending_memory_messages(
        self, limit: int = 500, *, after_id: int | None = None
    ) -> list[Message]:
        """Customer messages whose memory write has not finished (oldest first).

        `after_id`: only those after this message id (to page past ones left pending).
        """
        query = select(Message).where(col(Message.memory_status) == MemoryStatus.PENDING)
        if after_id is not None:
            query = query.where(col(Message.id) > after_id)
        async with AsyncSession(self.engine) as session:
            rows = await session.exec(query.order_by(col(Message.id)).limit(limit))
            return list(rows.all())

    async def set_memory_status(self, message_ids: list[int], status: MemoryStatus) -> None:
        if not message_ids:
            return
        async with AsyncSession(self.engine) as session:
            await session.exec(
                update(Message).where(col(Message.id).in_(message_ids)).values(memory_status=status)
            )
            await session.commit()

    async def set_pending_action(self, customer_id: str, action: str | None) -> None:
        async with AsyncSession(self.engine) as session:
            await session.exec(
                update(Customer)
                .where(col(Customer.id) == customer_id)
                .values(pending_action=action)
            )
            await session.commit()

    async def audit(
        self, *, actor: str, action: str, customer_id: str | None, count: int, detail: str = ""
    ) -> None:
        """Record who did what to whose data (counts and names of things, never content)."""
        async with AsyncSession(self.engine) as session:
            session.add(
                AuditEntry(
                    actor=actor, action=action, customer_id=customer_id, count=count, detail=detail
                )
            )
            await session.commit()

    async def audit_log(self, customer_id: str | None = None) -> list[AuditEntry]:
        query = select(AuditEntry).order_by(col(AuditEntry.id))
        if customer_id is not None:
            query = query.where(col(AuditEntry.customer_id) == customer_id)
        async with AsyncSession(self.engine) as session:
            return list((await session.exec(query)).all())

    async def export_customer(self, customer_id: str) -> dict[str, Any] | None:
        """Everything stored about a customer, as JSON-ready data."""
        customer = await self.customer(customer_id)
        if customer is None:
            return None
        async with AsyncSession(self.engine) as session:
            messages = (
                await session.exec(
                    select(Message)
                    .where(col(Message.customer_id) == customer_id)
                    .order_by(col(Message.id))
                )
            ).all()
        memories = await self.memory(customer_id).records()
        return {
            "customer": customer.model_dump(mode="json"),
            "messages": [message.model_dump(mode="json") for message in messages],
            # The sketch, like the vector, is derived from the text: an index, not data.
            "memories": [memory.model_dump(mode="json", exclude={"sketch"}) for memory in memories],
        }

    async def forget_customer(self, customer_id: str, *, actor: str) -> ForgetReport:
        """Remove everything stored about a customer (SQL rows, every vector) and audit it."""
        memories = await self.memory(customer_id).forget_all()  # rows and vectors
        async with AsyncSession(self.engine) as session:
            messages = await session.exec(
                delete(Message).where(col(Message.customer_id) == customer_id)
            )
            await session.exec(delete(Handoff).where(col(Handoff.customer_id) == customer_id))
            await session.exec(delete(Customer).where(col(Customer.id) == customer_id))
            await session.commit()
        await forget_queued(self.engine, customer_id)
        left = await self.memory(customer_id).vector_count()
        report = ForgetReport(customer_id, int(messages.rowcount or 0), memories, left)
        await self.audit(
            actor=actor,
            action="forget_customer",
            customer_id=customer_id,
            count=report.messages + report.memories,
            detail=f"messages={report.messages} memories={report.memories}",
        )
        return report

    # -- LINE: which stored message a LINE message is, and who follows ------------

    async def set_line_message_id(self, message_id: int, line_message_id: str) -> None:
        """Note the LINE message id a stored message came from (so it can be unsent)."""
        async with AsyncSession(self.engine) as session:
            await session.exec(
                update(Message)
                .where(col(Message.id) == message_id)
                .values(line_message_id=line_message_id)
            )
            await session.commit()

    async def line_message(self, customer_id: str, line_message_id: str) -> Message | None:
        """The customer's stored message that came from this LINE message."""
        async with AsyncSession(self.engine) as session:
            rows = await session.exec(
                select(Message).where(
                    col(Message.customer_id) == customer_id,
                    col(Message.line_message_id) == line_message_id,
                )
            )
            return rows.first()

    async def forget_line_message(self, customer_id: str, line_message_id: str) -> MessageForgotten:
        """Forget a message the customer unsent, and every memory made from it (and vectors)."""
        message = await self.line_message(customer_id, line_message_id)
        if message is None or message.id is None:
            return MessageForgotten(0, 0)
        async with AsyncSession(self.engine) as session:
            made = await session.exec(
                select(MemoryRecord.id).where(
                    col(MemoryRecord.customer_id) == customer_id,
                    col(MemoryRecord.source_message_id) == message.id,
                )
            )
            memory_ids = list(made.all())
        memories = await self.memory(customer_id).forget(memory_ids)
        async with AsyncSession(self.engine) as session:
            await session.exec(
                delete(Message).where(
                    col(Message.id) == message.id, col(Message.customer_id) == customer_id
                )
            )
            await session.commit()
        return MessageForgotten(1, memories)

    async def set_customer_active(
        self, customer_id: str, active: bool, *, display_name: str | None = None
    ) -> bool:
        """Mark a customer following (active) or blocking (inactive); False if unknown.

        `last_seen_at` becomes now, so an unfollow's date is kept for retention.
        """
        values: dict[str, Any] = {"active": active, "last_seen_at": utcnow()}
        if display_name:
            values["display_name"] = display_name
        async with AsyncSession(self.engine) as session:
            result = await session.exec(
                update(Customer).where(col(Customer.id) == customer_id).values(values)
            )
            await session.commit()
        return bool(result.rowcount)

    async def inactive_customer_ids(self, *, before: datetime) -> list[str]:
        """Customers inactive (unfollowed) since before `before`."""
        async with AsyncSession(self.engine) as session:
            rows = await session.exec(
                select(Customer.id).where(
                    col(Customer.active).is_(False), col(Customer.last_seen_at) < before
                )
            )
            return list(rows.all())

    async def health(self) -> dict[str, str]:
        """A cheap check of both stores."""
        report: dict[str, str] = {}
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            report["sql"] = "ok"
        except Exception as error:  # reported, not raised: this is a health check
            report["sql"] = f"error: {type(error).__name__}"
        try:
            await asyncio.to_thread(self.vectors.heartbeat)
            report["vectors"] = "ok"
        except Exception as error:
            report["vectors"] = f"error: {type(error).__name__}"
        return report
