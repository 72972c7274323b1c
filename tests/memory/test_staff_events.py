"""The staff event table: each request from Slack once, taken by one process at a time."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.models import utcnow
from memory.staff_events import StaffEventStatus, StaffEventStore


@pytest.fixture
def events(any_engine: AsyncEngine) -> StaffEventStore:
    return StaffEventStore(any_engine)


async def test_a_staff_request_is_recorded_once(events: StaffEventStore) -> None:
    later = utcnow() + timedelta(minutes=1)

    first = await events.receive("event:Ev1", "wrote", "{}", retry_at=later)
    again = await events.receive("event:Ev1", "wrote", "{}", retry_at=later)

    assert (first, again) == (True, False)


async def test_a_pending_staff_request_is_taken_by_one_process_at_a_time(
    events: StaffEventStore,
) -> None:
    now = utcnow()
    await events.receive("event:Ev1", "wrote", '{"text": "秘密"}', retry_at=now)

    first = await events.take("event:Ev1", now=now, until=now + timedelta(minutes=1))
    second = await events.take("event:Ev1", now=now, until=now + timedelta(minutes=1))
    await events.finish("event:Ev1")

    assert (first, second) == (True, False)
    done = await events.event("event:Ev1")
    assert done is not None and (done.status, done.payload) == (StaffEventStatus.DONE, "")


async def test_handled_requests_are_pruned_pending_ones_kept(events: StaffEventStore) -> None:
    now = utcnow()
    await events.receive("event:done", "wrote", "{}", retry_at=now)
    await events.receive("event:pending", "wrote", "{}", retry_at=now)
    await events.finish("event:done")

    await events.prune(utcnow() + timedelta(seconds=1))

    assert await events.event("event:done") is None
    assert await events.event("event:pending") is not None
