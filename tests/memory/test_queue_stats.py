"""What is waiting: counts and oldest times of the inbox, the outbox and open handoffs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.handoffs import HandoffState, HandoffStore
from memory.models import utcnow
from memory.queue import EventQueue, NewEvent
from memory.queue_stats import queue_stats


@pytest.fixture
def engine(any_engine: AsyncEngine) -> AsyncEngine:
    return any_engine


def _event(event_id: str, customer: str) -> NewEvent:
    return NewEvent(event_id, "line", customer, "text", '{"text": "秘密"}', datetime.now(UTC))


async def test_nothing_waiting_reads_as_zero_and_no_oldest(engine: AsyncEngine) -> None:
    stats = await queue_stats(engine)

    assert (stats.inbox_depth, stats.inbox_failed, stats.outbox_depth, stats.handoffs_open) == (
        0,
        0,
        0,
        0,
    )
    assert (stats.inbox_oldest, stats.outbox_oldest) == (None, None)


async def test_pending_failed_and_done_events_are_told_apart(engine: AsyncEngine) -> None:
    queue = EventQueue(engine)
    before = utcnow()
    await queue.add([_event("e1", "alice"), _event("e2", "alice"), _event("e3", "bob")])
    done, failed = await queue.event("e1"), await queue.event("e3")
    assert done is not None and done.id is not None
    assert failed is not None and failed.id is not None
    await queue.finish(done.id)
    await queue.retry_later(failed.id, "boom", max_attempts=1, delay=timedelta(seconds=1))

    stats = await queue_stats(engine)

    assert (stats.inbox_depth, stats.inbox_failed) == (1, 1)
    assert stats.inbox_oldest is not None and before <= stats.inbox_oldest <= utcnow()


async def test_undelivered_messages_and_open_handoffs_are_counted(engine: AsyncEngine) -> None:
    queue = EventQueue(engine)
    rows = await queue.enqueue(
        channel="line", customer_id="alice", event_id=None, batches=["[]", "[]"], reply_token=None
    )
    assert rows[0].id is not None
    await queue.mark_sent(rows[0].id, via="push", status=200)
    handoffs = HandoffStore(engine)
    await handoffs.open("alice", reasons=["legal"], priority="high", claim_due_at=utcnow())
    closing, _ = await handoffs.open(
        "bob", reasons=["legal"], priority="high", claim_due_at=utcnow()
    )
    await handoffs.change(closing.id, {"state": HandoffState.RESOLVED})

    stats = await queue_stats(engine)

    assert stats.outbox_depth == 1
    assert stats.outbox_oldest == rows[1].created_at
    assert stats.handoffs_open == 1
