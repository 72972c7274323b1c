"""The durable inbox and outbox: what customers sent that is not handled yet, and
what tomo said that is not delivered yet.

Both live in the SQL store so that a crash loses nothing:

- `InboxEvent`: one row per channel event, keyed by the channel's own event id
  (LINE's `webhookEventId`, unique), written by the webhook before it answers.
  A redelivered event hits the unique key and is not stored twice.
- `InboxLane`: one row per customer that has had work; a worker holds a
  customer's lane (with a lease it renews) while it handles that customer's
  events, so one customer's events never run at the same time, across
  processes too. A crashed holder's lease runs out and another worker takes
  the lane over.
- `OutboxMessage`: one row per outgoing API call (up to five message objects),
  with the reply token it may use and the retry key every push of it reuses.

Payloads (what was said) are emptied once an event is handled or a message
is delivered; the rows that remain keep ids and times for deduplication.
Every write is one statement in its own transaction, so SQLite's single
writer never has to upgrade a read transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Index, func, or_, union
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Field, SQLModel, col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from memory.models import UtcDateTime, utcnow


class InboxStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"  # gave up after the allowed attempts


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # rejected by the platform, or too old to send


class InboxEvent(SQLModel, table=True):
    """One event a customer caused on a channel, waiting to be (or already) handled."""

    __tablename__ = "inbox_event"
    __table_args__ = (Index("ix_inbox_event_status_customer", "status", "customer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=64, unique=True, description="The channel's event id")
    channel: str = Field(max_length=16)
    customer_id: str = Field(max_length=128)
    kind: str = Field(max_length=32)
    payload: str = Field(description="The event as JSON; emptied once handled")
    occurred_at: datetime = Field(sa_type=UtcDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    status: InboxStatus = InboxStatus.PENDING
    attempts: int = 0
    not_before: datetime | None = Field(default=None, sa_type=UtcDateTime)
    last_error: str | None = Field(default=None, max_length=200)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class InboxLane(SQLModel, table=True):
    """Who is handling a customer's events right now, and until when."""

    __tablename__ = "inbox_lane"

    customer_id: str = Field(primary_key=True, max_length=128)
    holder: str | None = Field(default=None, max_length=160)
    lease_until: datetime | None = Field(default=None, sa_type=UtcDateTime)


class OutboxMessage(SQLModel, table=True):
    """One outgoing call's worth of messages (at most five) to one customer."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_status_customer", "status", "customer_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    customer_id: str = Field(max_length=128)
    event_id: str | None = Field(
        default=None, max_length=64, index=True, description="The inbox event this answers"
    )
    messages: str = Field(description="The channel's message objects as JSON; emptied once sent")
    reply_token: str | None = Field(default=None, max_length=256)
    reply_tried: bool = False
    retry_key: str = Field(
        default_factory=lambda: str(uuid.uuid4()),
        max_length=36,
        unique=True,
        description="Sent with every push of these messages (X-Line-Retry-Key)",
    )
    status: OutboxStatus = OutboxStatus.PENDING
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    last_status: int | None = Field(default=None, description="Last HTTP status seen")
    sent_via: str | None = Field(default=None, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


@dataclass(frozen=True)
class NewEvent:
    """An event to put in the inbox."""

    event_id: str
    channel: str
    customer_id: str
    kind: str
    payload: str
    occurred_at: datetime


@dataclass(frozen=True)
class QueueCounts:
    inbox_pending: int
    inbox_failed: int
    outbox_pending: int
    outbox_failed: int


def _rowcount(result: Any) -> int:
    return int(result.rowcount or 0) if isinstance(result, CursorResult) else 0


class EventQueue:
    """The inbox, the customer lanes and the outbox, over one SQL engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    # -- inbox ---------------------------------------------------------------

    async def add(self, events: Sequence[NewEvent]) -> int:
        """Store events not seen before (by event id); returns how many were new."""
        if not events:
            return 0
        rows = [
            {
                "event_id": event.event_id,
                "channel": event.channel,
                "customer_id": event.customer_id,
                "kind": event.kind,
                "payload": event.payload,
                "occurred_at": event.occurred_at,
                "received_at": utcnow(),
                "status": InboxStatus.PENDING,
                "attempts": 0,
            }
            for event in {event.event_id: event for event in events}.values()
        ]
        return await self._insert_new(InboxEvent, rows, "event_id")

    async def next_events(self, customer_id: str, limit: int = 1) -> list[InboxEvent]:
        """The customer's earliest unfinished events, in the order the customer caused them."""
        async with AsyncSession(self._engine) as session:
            rows = await session.exec(
                select(InboxEvent)
                .where(
                    col(InboxEvent.customer_id) == customer_id,
                    col(InboxEvent.status) == InboxStatus.PENDING,
                )
                .order_by(col(InboxEvent.occurred_at), col(InboxEvent.id))
                .limit(limit)
            )
            return list(rows.all())

    async def next_event(self, customer_id: str) -> InboxEvent | None:
        """The customer's earliest unfinished event."""
        events = await self.next_events(customer_id, 1)
        return events[0] if events else None

    async def finish(self, *row_ids: int) -> None:
        """Mark events handled and drop their payloads."""
        await self._update(
            update(InboxEvent)
            .where(col(InboxEvent.id).in_(row_ids))
            .values(status=InboxStatus.DONE, payload="", finished_at=utcnow(), not_before=None)
        )

    async def retry_later(
        self, row_id: int, error: str, *, max_attempts: int, delay: timedelta
    ) -> bool:
        """Count a failed attempt; returns True when the event was given up on."""
        async with AsyncSession(self._engine, expire_on_commit=False) as session:
            event = await session.get(InboxEvent, row_id)
            attempts = (event.attempts if event else 0) + 1
        give_up = attempts >= max_attempts
        values: dict[str, Any] = {"attempts": attempts, "last_error": error[:200]}
        if give_up:
            values |= {"status": InboxStatus.FAILED, "payload": "", "finished_at": utcnow()}
        else:
            values["not_before"] = utcnow() + delay * (2 ** (attempts - 1))
        await self._update(update(InboxEvent).where(col(InboxEvent.id) == row_id).values(values))
        return give_up

    async def event(self, event_id: str) -> InboxEvent | None:
        async with AsyncSession(self._engine) as session:
            rows = await session.exec(select(InboxEvent).where(InboxEvent.event_id == event_id))
            return rows.first()

    # -- lanes ---------------------------------------------------------------

    async def claim_lane(self, holder: str, lease: timedelta) -> str | None:
        """Take one customer with work to do whose lane is free; returns the customer id."""
        now = utcnow()
        pending: Any = (
            select(col(InboxEvent.customer_id).label("customer_id"))
            .where(
                col(InboxEvent.status) == InboxStatus.PENDING,
                or_(col(InboxEvent.not_before).is_(None), col(InboxEvent.not_before) <= now),
            )
            .distinct()
        )
        unsent: Any = (
            select(col(OutboxMessage.customer_id).label("customer_id"))
            .where(
                col(OutboxMessage.status) == OutboxStatus.PENDING,
                col(OutboxMessage.next_attempt_at) <= now,
            )
            .distinct()
        )
        work = union(pending, unsent).subquery()
        busy = select(InboxLane.customer_id).where(
            col(InboxLane.holder).is_not(None), col(InboxLane.lease_until) > now
        )
        query = select(work.c.customer_id).where(work.c.customer_id.not_in(busy)).limit(16)
        async with AsyncSession(self._engine) as session:
            candidates = list((await session.exec(query)).all())
        for customer_id in candidates:
            if await self._acquire(customer_id, holder, now + lease):
                return str(customer_id)
        return None

    async def renew_lane(self, customer_id: str, holder: str, lease: timedelta) -> bool:
        """Extend a held lease; False when the lane is no longer this holder's."""
        changed = await self._update(
            update(InboxLane)
            .where(col(InboxLane.customer_id) == customer_id, col(InboxLane.holder) == holder)
            .values(lease_until=utcnow() + lease)
        )
        return changed == 1

    async def release_lane(self, customer_id: str, holder: str) -> None:
        await self._update(
            update(InboxLane)
            .where(col(InboxLane.customer_id) == customer_id, col(InboxLane.holder) == holder)
            .values(holder=None, lease_until=None)
        )

    async def release_lanes(self, holders: Sequence[str]) -> int:
        """Free every lane these holders hold (a stopped or crashed process's)."""
        if not holders:
            return 0
        return await self._update(
            update(InboxLane)
            .where(col(InboxLane.holder).in_(list(holders)))
            .values(holder=None, lease_until=None)
        )

    async def lane_holders(self, prefix: str) -> list[str]:
        """Holders whose name starts with prefix (e.g. this machine's processes)."""
        async with AsyncSession(self._engine) as session:
            rows = await session.exec(
                select(InboxLane.holder)
                .where(col(InboxLane.holder).startswith(prefix, autoescape=True))
                .distinct()
            )
            return [holder for holder in rows.all() if holder]

    async def _acquire(self, customer_id: str, holder: str, until: datetime) -> bool:
        row = {"customer_id": customer_id, "holder": holder, "lease_until": until}
        if await self._insert_new(InboxLane, [row], "customer_id") == 1:
            return True
        taken = await self._update(
            update(InboxLane)
            .where(
                col(InboxLane.customer_id) == customer_id,
                or_(col(InboxLane.holder).is_(None), col(InboxLane.lease_until) <= utcnow()),
            )
            .values(holder=holder, lease_until=until)
        )
        return taken == 1

    # -- outbox --------------------------------------------------------------

    async def enqueue(
        self,
        *,
        channel: str,
        customer_id: str,
        event_id: str | None,
        batches: Sequence[str],
        reply_token: str | None,
    ) -> list[OutboxMessage]:
        """Store outgoing batches (JSON each); only the first may use the reply token."""
        rows = [
            OutboxMessage(
                channel=channel,
                customer_id=customer_id,
                event_id=event_id,
                messages=batch,
                reply_token=reply_token if index == 0 else None,
            )
            for index, batch in enumerate(batches)
        ]
        async with AsyncSession(self._engine, expire_on_commit=False) as session:
            session.add_all(rows)
            await session.commit()
        return rows

    async def due_outbox(self, customer_id: str) -> list[OutboxMessage]:
        """The customer's undelivered messages, oldest first (due or not)."""
        async with AsyncSession(self._engine) as session:
            rows = await session.exec(
                select(OutboxMessage)
                .where(
                    col(OutboxMessage.customer_id) == customer_id,
                    col(OutboxMessage.status) == OutboxStatus.PENDING,
                )
                .order_by(col(OutboxMessage.id))
            )
            return list(rows.all())

    async def answered(self, *event_ids: str) -> bool:
        """Whether anything was put in the outbox in answer to any of these events."""
        async with AsyncSession(self._engine) as session:
            rows = await session.exec(
                select(OutboxMessage.id).where(col(OutboxMessage.event_id).in_(event_ids)).limit(1)
            )
            return rows.first() is not None

    async def mark_reply_tried(self, row_id: int) -> None:
        await self._update(
            update(OutboxMessage).where(col(OutboxMessage.id) == row_id).values(reply_tried=True)
        )

    async def mark_sent(self, row_id: int, *, via: str, status: int | None) -> None:
        await self._update(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == row_id)
            .values(
                status=OutboxStatus.SENT,
                sent_via=via,
                last_status=status,
                messages="",
                reply_token=None,
                sent_at=utcnow(),
            )
        )

    async def mark_failed(self, row_id: int, *, status: int | None) -> None:
        await self._update(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == row_id)
            .values(status=OutboxStatus.FAILED, last_status=status, messages="", reply_token=None)
        )

    async def postpone(
        self, row_id: int, *, attempts: int, status: int | None, delay: timedelta
    ) -> None:
        await self._update(
            update(OutboxMessage)
            .where(col(OutboxMessage.id) == row_id)
            .values(attempts=attempts, last_status=status, next_attempt_at=utcnow() + delay)
        )

    async def outbox(self, customer_id: str) -> list[OutboxMessage]:
        """Every outbox row of a customer, oldest first (for checks and tests)."""
        async with AsyncSession(self._engine) as session:
            rows = await session.exec(
                select(OutboxMessage)
                .where(col(OutboxMessage.customer_id) == customer_id)
                .order_by(col(OutboxMessage.id))
            )
            return list(rows.all())

    # -- upkeep --------------------------------------------------------------

    async def counts(self) -> QueueCounts:
        async with AsyncSession(self._engine) as session:
            inbox = dict(
                (
                    await session.exec(
                        select(InboxEvent.status, func.count())
                        .where(col(InboxEvent.status) != InboxStatus.DONE)
                        .group_by(col(InboxEvent.status))
                    )
                ).all()
            )
            outbox = dict(
                (
                    await session.exec(
                        select(OutboxMessage.status, func.count())
                        .where(col(OutboxMessage.status) != OutboxStatus.SENT)
                        .group_by(col(OutboxMessage.status))
                    )
                ).all()
            )
        return QueueCounts(
            inbox_pending=inbox.get(InboxStatus.PENDING, 0),
            inbox_failed=inbox.get(InboxStatus.FAILED, 0),
            outbox_pending=outbox.get(OutboxStatus.PENDING, 0),
            outbox_failed=outbox.get(OutboxStatus.FAILED, 0),
        )

    async def prune(self, before: datetime) -> int:
        """Drop finished inbox rows, delivered outbox rows and idle lanes older than `before`.

        Finished inbox rows are what recognises a redelivered event, so `before`
        must lie further back than the channel ever redelivers.
        """
        removed = await self._update(
            delete(InboxEvent).where(
                col(InboxEvent.status) != InboxStatus.PENDING,
                col(InboxEvent.finished_at) < before,
            )
        )
        removed += await self._update(
            delete(OutboxMessage).where(
                col(OutboxMessage.status) != OutboxStatus.PENDING,
                col(OutboxMessage.created_at) < before,
            )
        )
        removed += await self._update(delete(InboxLane).where(col(InboxLane.holder).is_(None)))
        return removed

    async def forget_customer(self, customer_id: str) -> int:
        """Remove what the inbox and outbox keep of a customer who is being forgotten."""
        return await forget_queued(self._engine, customer_id)

    # -- helpers -------------------------------------------------------------

    async def _update(self, statement: Any) -> int:
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return _rowcount(result)

    async def _insert_new(self, table: type[SQLModel], rows: list[dict[str, Any]], key: str) -> int:
        """INSERT … ON CONFLICT (key) DO NOTHING; returns how many rows were new.

        Counted with RETURNING: PostgreSQL's rowcount for a multi-row insert is not
        reliable through every driver.
        """
        name = self._engine.dialect.name
        target = SQLModel.metadata.tables[str(table.__tablename__)]
        if name == "sqlite":
            insert: Any = sqlite.insert(target)
        elif name == "postgresql":
            insert = postgresql.insert(target)
        else:
            raise NotImplementedError(f"the inbox supports SQLite and PostgreSQL, not {name}")
        statement = (
            insert.values(rows)
            .on_conflict_do_nothing(index_elements=[key])
            .returning(target.c[key])
        )
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
            return len(result.fetchall())


__all__ = [
    "EventQueue",
    "InboxEvent",
    "InboxLane",
    "InboxStatus",
    "NewEvent",
    "OutboxMessage",
    "OutboxStatus",
    "QueueCounts",
]


async def forget_queued(engine: AsyncEngine, customer_id: str) -> int:
    """Forget a customer in the inbox and outbox; returns how many rows were touched.

    Finished inbox rows keep only their event id (so a redelivery is still
    recognised) and lose the customer and the payload; finished outbox rows are
    deleted. Work still pending — a message that arrived after the request to
    forget, a reply on its way — is left to be handled, never silently dropped.
    """
    async with engine.begin() as connection:
        inbox = await connection.execute(
            update(InboxEvent)
            .where(
                col(InboxEvent.customer_id) == customer_id,
                col(InboxEvent.status) != InboxStatus.PENDING,
            )
            .values(customer_id="", payload="")
        )
        outbox = await connection.execute(
            delete(OutboxMessage).where(
                col(OutboxMessage.customer_id) == customer_id,
                col(OutboxMessage.status) != OutboxStatus.PENDING,
            )
        )
        await connection.execute(delete(InboxLane).where(col(InboxLane.customer_id) == customer_id))
    return _rowcount(inbox) + _rowcount(outbox)
