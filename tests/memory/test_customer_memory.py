from __future__ import annotations

from pathlib import Path

import pytest

from memory.database import default_database_url
from memory.embedding import UseEmbeddingFunction
from memory.models import MemoryKind
from memory.store import MemoryStore
from memory.vectors import COLLECTION_PREFIX, VectorStore, open_chroma


async def test_recall_finds_the_customers_own_memory_first(store: MemoryStore) -> None:
    memory = store.memory("hanako")
    await memory.remember("うちの猫はミルクっていう名前です")
    await memory.remember("最近、肌が乾燥しています")
    await memory.remember("週末は山登りに行きます")

    recalled = await memory.recall("うちの猫の名前", k=3)

    assert recalled[0].text == "うちの猫はミルクっていう名前です"
    assert recalled[0].score > recalled[1].score


async def test_recall_never_returns_another_customers_memory(store: MemoryStore) -> None:
    await store.memory("hanako").remember("うちの猫はミルクっていう名前です")
    await store.memory("taro").remember("うちの猫はミルクっていう名前です")
    await store.memory("taro").remember("うちの犬はポチです")

    recalled = await store.memory("hanako").recall("猫の名前", k=10)

    hanakos = {record.id for record in await store.memory("hanako").records()}
    assert [item.id for item in recalled] == list(hanakos)


async def test_a_customer_with_no_memories_recalls_nothing(store: MemoryStore) -> None:
    await store.memory("taro").remember("うちの犬はポチです")

    assert await store.memory("hanako").recall("犬の名前") == []


async def test_forget_all_removes_every_vector_and_row_of_that_customer_only(
    store: MemoryStore,
) -> None:
    for text in ("猫はミルク", "肌が乾燥しがち", "誕生日は5月3日"):
        await store.memory("hanako").remember(text)
    await store.memory("taro").remember("犬はポチ")

    forgotten = await store.memory("hanako").forget_all()

    assert forgotten == 3
    assert await store.memory("hanako").vector_count() == 0
    assert await store.memory("hanako").records() == []
    assert await store.memory("taro").vector_count() == 1
    assert [r.text for r in await store.memory("taro").records()] == ["犬はポチ"]


async def test_forget_by_id_ignores_ids_of_other_customers(store: MemoryStore) -> None:
    taros = (await store.memory("taro").remember("犬はポチ")).record

    assert await store.memory("hanako").forget([taros.id]) == 0
    assert await store.memory("taro").vector_count() == 1


async def test_forgetting_a_customer_removes_messages_memories_and_vectors(
    store: MemoryStore,
) -> None:
    from memory.models import Role

    await store.record_message("hanako", Role.CUSTOMER, "猫はミルク")
    await store.memory("hanako").remember("猫はミルク")
    await store.memory("taro").remember("犬はポチ")

    report = await store.forget_customer("hanako", actor="test")

    assert (report.messages, report.memories, report.vectors_left) == (1, 1, 0)
    assert await store.customer("hanako") is None
    assert await store.recent_messages("hanako") == []
    assert await store.memory("taro").vector_count() == 1


async def test_japanese_text_round_trips_unchanged(store: MemoryStore) -> None:
    text = "「𠮷野家」の牛丼が好き🍚　全角スペースと半角ｶﾅも"
    await store.memory("hanako").remember(text, kind=MemoryKind.FACT)

    (record,) = await store.memory("hanako").records()
    (recalled,) = await store.memory("hanako").recall("牛丼")

    assert record.text == text
    assert recalled.text == text
    assert recalled.kind is MemoryKind.FACT


async def test_memories_persist_when_the_store_is_reopened(tmp_path: Path) -> None:
    url = default_database_url(tmp_path)
    async with MemoryStore.open(database_url=url, data_dir=tmp_path) as store:
        await store.touch_customer("hanako", channel="terminal")
        await store.memory("hanako").remember("うちの猫はミルクっていう名前です")

    async with MemoryStore.open(database_url=url, data_dir=tmp_path) as store:
        recalled = await store.memory("hanako").recall("猫の名前")

    assert recalled[0].text == "うちの猫はミルクっていう名前です"


async def test_every_collection_uses_tomos_embedding_function(store: MemoryStore) -> None:
    vectors: VectorStore = store.vectors
    names = {
        collection.configuration_json["embedding_function"]["name"]
        for collection in vectors.client.list_collections()
    }
    assert names == {UseEmbeddingFunction.name()}


def test_a_memory_handle_needs_a_customer(store: MemoryStore) -> None:
    with pytest.raises(ValueError, match="customer id"):
        store.memory("")


async def test_a_store_keeps_its_collection_count_whatever_the_setting_says(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = default_database_url(tmp_path)
    async with MemoryStore.open(database_url=url, data_dir=tmp_path, shards=3) as first:
        await first.touch_customer("hanako", channel="terminal")
        await first.memory("hanako").remember("うちの猫はミルクっていう名前です")

    async with MemoryStore.open(database_url=url, data_dir=tmp_path, shards=16) as reopened:
        assert reopened.vectors.shards == 3
        assert "TOMO_MEMORY_SHARDS" in caplog.text
        recalled = await reopened.memory("hanako").recall("猫の名前", k=1)
        assert [item.text for item in recalled] == ["うちの猫はミルクっていう名前です"]
        await reopened.memory("hanako").forget_all()
        assert reopened.vectors.count("hanako") == 0


async def test_a_store_made_before_the_count_was_recorded_is_counted_by_its_collections(
    tmp_path: Path,
) -> None:
    client = open_chroma(tmp_path, None)
    for index in range(3):
        client.create_collection(
            f"{COLLECTION_PREFIX}{index:03d}", embedding_function=UseEmbeddingFunction()
        )
    del client

    async with MemoryStore.open(
        database_url=default_database_url(tmp_path), data_dir=tmp_path, shards=16
    ) as store:
        assert store.vectors.shards == 3


async def test_what_a_customer_said_is_kept_in_sql_only_not_copied_into_chroma(
    store: MemoryStore,
) -> None:
    remembered = await store.memory("hanako").remember("うちの猫はミルクっていう名前です")

    for collection in store.vectors.client.list_collections():
        got = collection.get(include=["documents", "metadatas"])
        assert all(document is None for document in got["documents"])
        assert all(set(metadata) == {"customer_id"} for metadata in got["metadatas"])
    assert store.vectors.vectors("hanako", [remembered.record.id])  # the vector is there
