"""The handoff table: one open handoff per customer, changes only from the state expected."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel.ext.asyncio.session import AsyncSession

from memory.handoffs import HandoffState, HandoffStore
from memory.models import Customer, Message, Role, utcnow


@pytest.fixture
def engine(any_engine: AsyncEngine) -> AsyncEngine:
    return any_engine


@pytest.fixture
def store(engine: AsyncEngine) -> HandoffStore:
    return HandoffStore(engine)


async def _open(store: HandoffStore, customer: str = "alice") -> tuple[str, bool]:
    handoff, created = await store.open(
        customer, reasons=["money_contract"], priority="high", claim_due_at=utcnow()
    )
    return handoff.id, created


async def test_a_customer_has_at_most_one_open_handoff(store: HandoffStore) -> None:
    first, created = await _open(store)
    again, created_again = await _open(store)

    assert (created, created_again) == (True, False)
    assert again == first


async def test_opening_at_the_same_moment_makes_one_handoff(store: HandoffStore) -> None:
    results = await asyncio.gather(*(_open(store) for _ in range(5)))

    assert len({handoff_id for handoff_id, _ in results}) == 1
    assert sum(created for _, created in results) == 1


async def test_a_closed_handoff_leaves_room_for_a_new_one(store: HandoffStore) -> None:
    first, _ = await _open(store)
    closed = await store.change(
        first, {"state": HandoffState.RESOLVED}, expected=[HandoffState.WAITING]
    )

    second, created = await _open(store)

    assert closed is not None and created and second != first
    assert [h.state for h in await store.of_customer("alice")] == [
        HandoffState.RESOLVED,
        HandoffState.WAITING,
    ]


async def test_a_change_from_a_state_that_moved_on_is_refused(store: HandoffStore) -> None:
    handoff_id, _ = await _open(store)
    await store.change(handoff_id, {"state": HandoffState.STAFF, "claimed_by": "U1"})

    late = await store.change(
        handoff_id,
        {"state": HandoffState.STAFF, "claimed_by": "U2"},
        expected=[HandoffState.WAITING],
    )

    assert late is None
    current = await store.get(handoff_id)
    assert current is not None and current.claimed_by == "U1"


async def test_the_admin_filters_find_open_and_with_staff_handoffs(store: HandoffStore) -> None:
    waiting, _ = await _open(store, "alice")
    claimed, _ = await _open(store, "bob")
    await store.change(claimed, {"state": HandoffState.STAFF})
    resolved, _ = await _open(store, "carol")
    await store.change(resolved, {"state": HandoffState.RESOLVED})

    assert {h.id for h in await store.find("open")} == {waiting, claimed}
    assert [h.id for h in await store.find("with_staff")] == [claimed]
    assert [h.id for h in await store.find("resolved")] == [resolved]
    assert len(await store.find()) == 3
    with pytest.raises(ValueError, match="unknown handoff state"):
        await store.find("lost")
    assert await store.count_per_reason() == {"money_contract": 3}


async def test_the_desk_is_behind_on_a_new_handoff_and_on_unrelayed_messages(
    store: HandoffStore, engine: AsyncEngine
) -> None:
    handoff_id, _ = await _open(store)
    now = utcnow()
    assert [h.id for h in await store.needing_desk(now)] == [handoff_id]

    await store.change(handoff_id, {"slack_channel": "C1", "slack_thread_ts": "1.1"})
    assert await store.needing_desk(now) == []

    async with AsyncSession(engine) as session:
        session.add(Customer(id="alice"))
        await session.commit()
        session.add(Message(customer_id="alice", role=Role.CUSTOMER, text="まだですか"))
        await session.commit()
    assert [h.id for h in await store.needing_desk(now)] == [handoff_id]


async def test_forgetting_a_customer_removes_their_handoffs(store: HandoffStore) -> None:
    await _open(store, "alice")
    await _open(store, "bob")

    assert await store.forget_customer("alice") == 1

    assert await store.of_customer("alice") == []
    assert len(await store.of_customer("bob")) == 1
