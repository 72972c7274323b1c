"""The inbox and outbox tables: each event once, payloads dropped when done, upkeep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.models import utcnow
from memory.queue import EventQueue, InboxStatus, NewEvent


@pytest.fixture
def queue(any_engine: AsyncEngine) -> EventQueue:
    return EventQueue(any_engine)


def _event(event_id: str, customer: str = "alice") -> NewEvent:
    return NewEvent(event_id, "line", customer, "text", '{"text": "秘密"}', datetime.now(UTC))


async def test_an_event_id_is_stored_once_however_often_it_arrives(queue: EventQueue) -> None:
    assert await queue.add([_event("e1"), _event("e2"), _event("e1")]) == 2
    assert await queue.add([_event("e2"), _event("e3")]) == 1
    assert (await queue.counts()).inbox_pending == 3


async def test_a_handled_event_keeps_its_id_but_not_what_was_said(queue: EventQueue) -> None:
    await queue.add([_event("e1")])
    stored = await queue.next_event("alice")
    assert stored is not None and stored.id is not None

    await queue.finish(stored.id)

    done = await queue.event("e1")
    assert done is not None
    assert (done.status, done.payload) == (InboxStatus.DONE, "")
    assert await queue.add([_event("e1")]) == 0


async def test_pruning_forgets_old_finished_rows_but_never_pending_ones(queue: EventQueue) -> None:
    await queue.add([_event("old"), _event("waiting")])
    old = await queue.event("old")
    assert old is not None and old.id is not None
    await queue.finish(old.id)

    await queue.prune(utcnow() + timedelta(seconds=1))

    assert await queue.event("old") is None
    assert await queue.event("waiting") is not None


async def test_forgetting_a_customer_keeps_only_event_ids_of_finished_work(
    queue: EventQueue,
) -> None:
    await queue.add([_event("a1"), _event("a2"), _event("b1", "bob")])
    handled = await queue.next_event("alice")
    assert handled is not None and handled.id is not None
    await queue.finish(handled.id)
    await queue.enqueue(
        channel="line",
        customer_id="alice",
        event_id="a1",
        batches=['[{"type": "text"}]'],
        reply_token="rt",
    )
    (sent,) = await queue.outbox("alice")
    assert sent.id is not None
    await queue.mark_sent(sent.id, via="reply", status=200)

    assert await queue.forget_customer("alice") == 2

    forgotten = await queue.event("a1")
    assert forgotten is not None  # a redelivery of it is still recognised
    assert (forgotten.customer_id, forgotten.payload) == ("", "")
    assert await queue.outbox("alice") == []
    waiting = await queue.event("a2")  # arrived after the request: still answered
    assert waiting is not None and waiting.customer_id == "alice"
    assert await queue.add([_event("a1")]) == 0


async def test_every_outbox_row_gets_its_own_retry_key_and_only_the_first_the_reply_token(
    queue: EventQueue,
) -> None:
    rows = await queue.enqueue(
        channel="line", customer_id="alice", event_id="a1", batches=["[]", "[]"], reply_token="rt"
    )

    assert [row.reply_token for row in rows] == ["rt", None]
    assert len({row.retry_key for row in rows}) == 2
