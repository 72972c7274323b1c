"""Batched memory writes: each memory once, deduplicated and superseded within a batch."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from memory.models import MemoryKind, MemoryRecord
from memory.sketch import sketches
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


async def test_a_near_duplicate_in_other_words_is_merged_into_the_earlier_memory(
    store: MemoryStore,
) -> None:
    await write(store, [NewMemory("hanako", "週末は山登りに行きます")])
    earlier = (await rows(store))[0]
    later = [
        NewMemory("hanako", "週末に山登りに行きます"),  # cosine 0.94: the same thing
        NewMemory("hanako", "週末は海に行きます"),  # 0.72: something else
        NewMemory("taro", "週末に山登りに行きます"),  # another customer's own
    ]

    results = await write_memories(store.engine, store.vectors, store.encoder, later)

    assert [r.outcome for r in results] == [Outcome.MERGED, Outcome.ADDED, Outcome.ADDED]
    assert (results[0].record.id, results[0].record.text) == (earlier.id, earlier.text)
    assert results[0].record.updated_at > earlier.updated_at
    assert len(await rows(store)) == 3


async def test_memories_stored_without_a_sketch_are_matched_by_their_vectors(
    store: MemoryStore,
) -> None:
    await write(store, [NewMemory("hanako", "最近、肌が乾燥しています")])
    async with store.engine.begin() as connection:  # as rows written before sketches
        await connection.execute(update(MemoryRecord).values(sketch=None))

    assert await write(store, [NewMemory("hanako", "最近は肌が乾燥しています")]) == [Outcome.MERGED]


async def test_every_new_memory_keeps_the_sketch_of_its_vector(store: MemoryStore) -> None:
    texts = ["猫が好きです", "来月京都に行きます", "乾燥肌です"]

    await write(store, [NewMemory("hanako", text) for text in texts])

    stored = await rows(store)
    vectors = store.vectors.vectors("hanako", [r.id for r in stored])
    assert [r.sketch for r in stored] == sketches(np.stack([vectors[r.id] for r in stored]))


async def test_vectors_embedded_elsewhere_are_stored_as_given(store: MemoryStore) -> None:
    items = [NewMemory("hanako", "うちの猫はミルクっていう名前です"), NewMemory("taro", "肌が弱い")]
    # Other texts' vectors: what is stored must be what was given, not embedded again.
    embedded = store.encoder.encode(["来月京都へ行きます", "コーヒーはブラック派"])

    results = await write_memories(store.engine, store.vectors, store.encoder, items, embedded)

    for result, vector in zip(results, embedded, strict=True):
        customer, memory_id = result.row["customer_id"], result.row["id"]
        stored = store.vectors.vectors(customer, [memory_id])[memory_id]
        # Equal to within float rounding, as Chroma keeps them.
        np.testing.assert_allclose(stored, vector, atol=1e-6)


async def test_vectors_that_do_not_match_the_items_are_refused_and_nothing_is_stored(
    store: MemoryStore,
) -> None:
    items = [NewMemory("hanako", "うちの猫はミルクっていう名前です"), NewMemory("taro", "肌が弱い")]
    one_vector = store.encoder.encode([items[0].text])

    with pytest.raises(ValueError, match="2 items but vectors of shape"):
        await write_memories(store.engine, store.vectors, store.encoder, items, one_vector)

    assert await rows(store) == []
    assert store.vectors.count("hanako") == store.vectors.count("taro") == 0
