"""Workers over the durable inbox: per-customer order, no overlap, crash recovery."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.worker import WorkerConfig, Workers
from memory.queue import EventQueue, InboxEvent, InboxStatus, NewEvent

FAST = WorkerConfig(
    count=4, poll_seconds=0.02, lease_seconds=30, max_attempts=2, retry_seconds=0.01
)
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def queue(any_engine: AsyncEngine) -> EventQueue:
    return EventQueue(any_engine)


def _events(customer: str, count: int, *, start: int = 0) -> list[NewEvent]:
    return [
        NewEvent(
            event_id=f"{customer}-{n}",
            channel="line",
            customer_id=customer,
            kind="text",
            payload=str(n),
            occurred_at=T0 + timedelta(seconds=n),
        )
        for n in range(start, start + count)
    ]


class Recorder:
    """A handler that notes what ran when, and can be told to pause or fail."""

    def __init__(self, pause: float = 0.0) -> None:
        self.pause = pause
        self.order: dict[str, list[int]] = {}
        self.running: dict[str, int] = {}
        self.overlaps = 0
        self.before: Callable[[InboxEvent], Awaitable[None]] | None = None

        self.batches: list[list[int]] = []

    async def __call__(self, batch: Sequence[InboxEvent]) -> None:
        customer = batch[0].customer_id
        self.running[customer] = self.running.get(customer, 0) + 1
        if self.running[customer] > 1:
            self.overlaps += 1
        try:
            for event in batch:
                if self.before is not None:
                    await self.before(event)
            await asyncio.sleep(self.pause)
            self.batches.append([int(event.payload) for event in batch])
            self.order.setdefault(customer, []).extend(int(event.payload) for event in batch)
        finally:
            self.running[customer] -= 1


async def _run(workers: Workers, within: float = 15) -> None:
    await workers.start()
    try:
        assert await workers.idle(within_seconds=within)
    finally:
        await workers.stop()


async def test_one_customers_events_run_one_at_a_time_in_the_order_they_happened(
    queue: EventQueue,
) -> None:
    # Stored out of order (as concurrent webhook requests can be): handled by event time.
    await queue.add(_events("alice", 6, start=6))
    await queue.add(_events("alice", 6))
    recorder = Recorder(pause=0.01)

    await _run(Workers(queue, recorder, config=FAST))

    assert recorder.order == {"alice": list(range(12))}
    assert recorder.overlaps == 0


async def test_different_customers_are_handled_side_by_side(queue: EventQueue) -> None:
    await queue.add(_events("alice", 1) + _events("bob", 1))
    bob_started = asyncio.Event()
    recorder = Recorder()

    async def alice_waits_for_bob(event: InboxEvent) -> None:
        if event.customer_id == "bob":
            bob_started.set()
        else:
            await asyncio.wait_for(bob_started.wait(), 5)

    recorder.before = alice_waits_for_bob
    await _run(Workers(queue, recorder, config=FAST))

    assert recorder.order == {"alice": [0], "bob": [0]}


async def test_two_processes_over_one_database_never_run_a_customer_twice_at_once(
    queue: EventQueue,
) -> None:
    await queue.add(_events("alice", 20) + _events("bob", 20))
    recorder = Recorder(pause=0.005)
    first, second = Workers(queue, recorder, config=FAST), Workers(queue, recorder, config=FAST)

    await first.start()
    await second.start()
    try:
        assert await first.idle(within_seconds=20)
    finally:
        await first.stop()
        await second.stop()

    assert recorder.order == {"alice": list(range(20)), "bob": list(range(20))}
    assert recorder.overlaps == 0


async def test_events_stored_before_a_crash_are_handled_once_on_start(queue: EventQueue) -> None:
    await queue.add(_events("alice", 3))  # the process stored them, then died
    recorder = Recorder()

    await _run(Workers(queue, recorder, config=FAST))
    await _run(Workers(queue, recorder, config=FAST))  # and a second restart changes nothing

    assert recorder.order == {"alice": [0, 1, 2]}


async def test_a_customer_held_by_a_process_that_died_on_this_machine_is_freed_at_start(
    queue: EventQueue,
) -> None:
    dead = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
    await dead.wait()
    holder = f"{socket.gethostname()}:{dead.pid}:0badc0de/0"
    await queue.add(_events("alice", 1))
    assert await queue.claim_lane(holder, timedelta(hours=1)) == "alice"
    recorder = Recorder()

    await _run(Workers(queue, recorder, config=FAST), within=5)

    assert recorder.order == {"alice": [0]}


async def test_a_customer_held_by_a_silent_process_elsewhere_is_taken_over_when_its_lease_ends(
    queue: EventQueue,
) -> None:
    await queue.add(_events("alice", 1))
    assert await queue.claim_lane("elsewhere:1:feedface/0", timedelta(seconds=0.5)) == "alice"
    recorder = Recorder()
    workers = Workers(queue, recorder, config=FAST)

    await workers.start()
    try:
        assert recorder.order == {}
        assert await workers.idle(within_seconds=10)
    finally:
        await workers.stop()

    assert recorder.order == {"alice": [0]}


async def test_a_failing_event_is_retried_then_given_up_and_the_next_ones_go_on(
    queue: EventQueue,
) -> None:
    await queue.add(_events("alice", 3))
    recorder = Recorder()
    tries: list[int] = []

    async def first_always_fails(event: InboxEvent) -> None:
        if event.payload == "0":
            tries.append(0)
            raise RuntimeError("a bug")

    recorder.before = first_always_fails
    await _run(Workers(queue, recorder, config=FAST))

    assert (tries, recorder.order) == ([0, 0], {"alice": [1, 2]})
    failed = await queue.event("alice-0")
    assert failed is not None
    assert (failed.status, failed.last_error, failed.payload) == (
        InboxStatus.FAILED,
        "RuntimeError",
        "",
    )


async def test_an_event_whose_answer_reached_the_outbox_is_not_handled_again(
    queue: EventQueue,
) -> None:
    await queue.add(_events("alice", 1))
    # The turn ran and stored its answer; the process died before marking the event done.
    await queue.enqueue(
        channel="line", customer_id="alice", event_id="alice-0", batches=["[]"], reply_token=None
    )
    recorder = Recorder()
    flushed: list[str] = []

    async def flush(customer_id: str) -> None:
        flushed.append(customer_id)
        for row in await queue.due_outbox(customer_id):
            await queue.mark_sent(row.id or 0, via="push", status=200)

    await _run(Workers(queue, recorder, flush=flush, config=FAST))

    assert recorder.order == {}
    assert set(flushed) == {"alice"}  # (a second claim may find nothing left to do)
    done = await queue.event("alice-0")
    assert done is not None and done.status is InboxStatus.DONE


async def test_stopping_lets_the_event_in_hand_finish_and_frees_the_customer(
    queue: EventQueue,
) -> None:
    await queue.add(_events("alice", 1))
    started = asyncio.Event()
    recorder = Recorder(pause=0.2)

    async def note_start(event: InboxEvent) -> None:
        started.set()

    recorder.before = note_start
    workers = Workers(queue, recorder, config=FAST)
    await workers.start()
    await asyncio.wait_for(started.wait(), 5)
    await workers.stop()

    assert recorder.order == {"alice": [0]}
    assert await queue.claim_lane("next-run:1:x/0", timedelta(seconds=5)) is None  # no work left


def _sticker(customer: str, n: int) -> NewEvent:
    return NewEvent(
        f"{customer}-{n}", "line", customer, "sticker", str(n), T0 + timedelta(seconds=n)
    )


async def test_texts_waiting_together_are_handled_as_one_burst_and_a_sticker_ends_it(
    queue: EventQueue,
) -> None:
    await queue.add([*_events("alice", 3), _sticker("alice", 3), *_events("alice", 2, start=4)])
    recorder = Recorder()

    await _run(Workers(queue, recorder, config=FAST))

    assert recorder.batches == [[0, 1, 2], [3], [4, 5]]


async def test_with_a_quiet_period_texts_sent_while_waiting_join_the_burst(
    queue: EventQueue,
) -> None:
    # 0.2 s apart against a quiet period of 1.5 s: with 0.6 s, fresh-clone CI on
    # a slow day answered the first text alone, twice (over 0.6 s passed
    # between its arrival and the next one's).
    config = replace(FAST, burst_quiet_seconds=1.5, burst_max_wait_seconds=10)
    recorder = Recorder()
    shown: list[str] = []

    async def working(customer_id: str) -> None:
        shown.append(customer_id)

    workers = Workers(queue, recorder, working=working, config=config)
    await workers.start()
    try:
        for n in range(4):  # typed 0.2 s apart: shorter than the quiet period
            await queue.add(_events("alice", 1, start=n))
            workers.notify()
            await asyncio.sleep(0.2)
        assert await workers.idle(within_seconds=10)
    finally:
        await workers.stop()

    assert recorder.batches == [[0, 1, 2, 3]]
    assert shown == ["alice"]  # the loading animation, once, while waiting


async def test_a_customer_who_keeps_typing_is_answered_after_the_longest_wait(
    queue: EventQueue,
) -> None:
    config = replace(FAST, burst_quiet_seconds=0.5, burst_max_wait_seconds=0.8)
    recorder = Recorder()
    workers = Workers(queue, recorder, config=config)
    await workers.start()
    try:
        for n in range(8):  # 0.2 s apart for 1.6 s: never a 0.5 s pause
            await queue.add(_events("alice", 1, start=n))
            workers.notify()
            await asyncio.sleep(0.2)
        assert await workers.idle(within_seconds=10)
    finally:
        await workers.stop()

    assert len(recorder.batches) >= 2, "the first texts were answered before the typing stopped"
    assert [n for batch in recorder.batches for n in batch] == list(range(8))
