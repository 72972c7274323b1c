"""Batched memory writes: each memory once, deduplicated and superseded within a batch."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from memory.models import MemoryKind, MemoryRecord
from memory.store import MemoryStore
from memory.writes import NewMemory, Outcome, write_memories


async def write(store: MemoryStore, items: list[NewMemory]) -> list[Outcome]:
    results = await write_memories(store.engine, store.vectors, store.encoder, items)
    assert [r.record.customer_id for r in results] == [i.customer_id for i in items]
    return [r.outcome for r in results]


async def rows(store: MemoryStore) -> list[MemoryRecord]:
    async with AsyncSession(store.engine) as session:
        return list((await session.exec(select(MemoryRecord))).all())


async def test_a_batch_of_several_customers_stores_each_memory_once_with_its_vector(
    store: MemoryStore,
) -> None:
    texts = [
        f"{n}月に京都の{place}へ行きます"
        for n, place in enumerate(["金閣寺", "嵐山", "伏見", "祇園", "東寺", "宇治", "鞍馬"], 1)
    ]
    items = [NewMemory("hanako" if n % 2 else "taro", text) for n, text in enumerate(texts)]

    outcomes = await write(store, items)

    assert outcomes == [Outcome.ADDED] * len(items)
    stored = await rows(store)
    assert sorted(r.text for r in stored) == sorted(texts)
    for customer in ("hanako", "taro"):
        ids = [r.id for r in stored if r.customer_id == customer]
        assert set(store.vectors.vectors(customer, ids)) == set(ids)
        assert store.vectors.count(customer) == len(ids)


async def test_the_same_thing_said_twice_in_a_batch_is_merged_not_stored_twice(
    store: MemoryStore,
) -> None:
    items = [
        NewMemory("hanako", "うちの猫はミルクっていう名前です"),
        NewMemory("hanako", "最近、肌が乾燥しています"),
        NewMemory("taro", "うちの猫はミルクっていう名前です"),
        NewMemory("hanako", "週末は山登りに行きます"),
        NewMemory("hanako", "うちの猫はミルクっていう名前です"),  # again
    ]

    outcomes = await write(store, items)

    assert outcomes == [Outcome.ADDED] * 4 + [Outcome.MERGED]
    stored = await rows(store)
    assert len([r for r in stored if r.customer_id == "hanako"]) == 3
    assert len([r for r in stored if r.customer_id == "taro"]) == 1  # its own, not merged


async def test_a_later_fact_in_a_batch_supersedes_the_same_slot_from_an_earlier_one(
    store: MemoryStore,
) -> None:
    fact = MemoryKind.FACT
    items = [
        NewMemory("hanako", "大阪に住んでいます", kind=fact, key="residence"),
        NewMemory("hanako", "猫を飼っています", kind=fact, key="pet"),
        NewMemory("hanako", "乾燥肌です", kind=fact, key="skin_type"),
        NewMemory("hanako", "東京に住んでいます", kind=fact, key="residence"),
    ]

    outcomes = await write(store, items)

    assert outcomes[3] is Outcome.SUPERSEDED
    recalled = [m.text for m in await store.memory("hanako").recall("どこに住んでいますか", k=5)]
    assert "東京に住んでいます" in recalled
    assert "大阪に住んでいます" not in recalled
    history = {r.text: r for r in await rows(store)}
    assert history["大阪に住んでいます"].superseded_by == history["東京に住んでいます"].id


async def test_a_batch_that_fails_stores_no_row_and_writing_it_again_stores_each_once(
    store: MemoryStore,
) -> None:
    items = [
        NewMemory("hanako", text) for text in ("猫が好きです", "犬も好きです", "朝はコーヒー派")
    ]
    items += [NewMemory("jiro", "来週、誕生日です")]  # not yet a customer: the rows fail

    with pytest.raises(IntegrityError):
        await write(store, items)
    assert await rows(store) == []

    await store.touch_customer("jiro", channel="terminal")
    outcomes = await write(store, items)

    assert outcomes == [Outcome.ADDED] * 4
    stored = await rows(store)
    assert sorted(r.text for r in stored) == sorted(i.text for i in items)
    # The failed write's vectors name no row (never recalled); forgetting removes them too.
    assert [m.text for m in await store.memory("jiro").recall("誕生日", k=5)] == [
        "来週、誕生日です"
    ]
    await store.memory("jiro").forget_all()
    assert store.vectors.count("jiro") == 0
