"""What is waiting right now, across every process: the inbox, the outbox, open handoffs.

Read for the operators' gauges (`tomo_inbox_depth` and its kin, see
connectors/metrics.py). Counts and oldest times only: no customer id and no
content leaves these queries. Each is an aggregate over an indexed status
column, cheap enough to run at every Prometheus scrape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from memory.handoffs import OPEN_STATES, Handoff
from memory.queue import InboxEvent, InboxStatus, OutboxMessage, OutboxStatus


@dataclass(frozen=True)
class QueueStats:
    """How much is waiting, and since when (None: nothing waits)."""

    inbox_depth: int
    inbox_oldest: datetime | None  # when the oldest unhandled event arrived
    inbox_failed: int
    outbox_depth: int
    outbox_oldest: datetime | None  # when the oldest undelivered message was stored
    handoffs_open: int


async def queue_stats(engine: AsyncEngine) -> QueueStats:
    """Read the current backlog in one session."""
    async with AsyncSession(engine) as session:
        inbox_depth, inbox_oldest = (
            await session.exec(
                select(func.count(), func.min(col(InboxEvent.received_at))).where(
                    col(InboxEvent.status) == InboxStatus.PENDING
                )
            )
        ).one()
        inbox_failed = (
            await session.exec(
                select(func.count()).where(col(InboxEvent.status) == InboxStatus.FAILED)
            )
        ).one()
        outbox_depth, outbox_oldest = (
            await session.exec(
                select(func.count(), func.min(col(OutboxMessage.created_at))).where(
                    col(OutboxMessage.status) == OutboxStatus.PENDING
                )
            )
        ).one()
        handoffs_open = (
            await session.exec(select(func.count()).where(col(Handoff.state).in_(OPEN_STATES)))
        ).one()
    return QueueStats(
        inbox_depth=int(inbox_depth),
        inbox_oldest=inbox_oldest,
        inbox_failed=int(inbox_failed),
        outbox_depth=int(outbox_depth),
        outbox_oldest=outbox_oldest,
        handoffs_open=int(handoffs_open),
    )


__all__ = ["QueueStats", "queue_stats"]
