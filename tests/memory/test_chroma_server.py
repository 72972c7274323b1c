"""Vector memory on a real Chroma server (TOMO_CHROMA_URL): working, down, back, frozen."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest

from memory.database import default_database_url
from memory.store import MemoryStore
from memory.vectors import COLLECTION_PREFIX, VectorsUnavailable, open_vectors, shard_of
from tests.fakes.chroma_server import ChromaServer

T = TypeVar("T")
SHARDS = 2
CAT = "うちの猫はミルクっていう名前です"


@pytest.fixture
def customer() -> str:
    """A customer id of this test's own (the server's collections are shared)."""
    return f"U{uuid.uuid4().hex}"


@pytest.fixture
async def store(
    tmp_path: Path, chroma_server: ChromaServer, customer: str
) -> AsyncIterator[MemoryStore]:
    async with MemoryStore.open(
        database_url=default_database_url(tmp_path),
        data_dir=tmp_path,
        chroma_url=chroma_server.url,
        shards=SHARDS,
    ) as opened:
        await opened.touch_customer(customer, channel="line")
        yield opened


async def eventually(call: Callable[[], Awaitable[T]], seconds: float = 20.0) -> T:
    """The result of the first call that does not find the vector store unavailable."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await call()
        except VectorsUnavailable:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def test_memories_are_remembered_and_recalled_through_the_server(
    store: MemoryStore, customer: str, tmp_path: Path
) -> None:
    memory = store.memory(customer)
    await memory.remember(CAT)
    await memory.remember("週末は山登りに行きます")

    recalled = await memory.recall("うちの猫の名前", k=2)

    assert recalled[0].text == CAT
    assert await memory.vector_count() == 2
    assert not (tmp_path / "chroma").exists()  # nothing embedded: the server holds them


async def test_recall_says_unavailable_while_the_server_is_down_and_works_when_it_is_back(
    store: MemoryStore, customer: str, chroma_server: ChromaServer
) -> None:
    memory = store.memory(customer)
    await memory.remember(CAT)
    chroma_server.stop()

    with pytest.raises(VectorsUnavailable):
        await memory.recall("猫の名前")
    chroma_server.start()
    recalled = await eventually(lambda: memory.recall("猫の名前"))

    assert [item.text for item in recalled] == [CAT]


async def test_a_memory_that_could_not_be_stored_leaves_no_row_behind(
    store: MemoryStore, customer: str, chroma_server: ChromaServer
) -> None:
    memory = store.memory(customer)
    chroma_server.stop()

    with pytest.raises(VectorsUnavailable):
        await memory.remember(CAT)
    assert await memory.records() == []
    chroma_server.start()
    await eventually(lambda: memory.remember(CAT))

    assert [record.text for record in await memory.records()] == [CAT]
    assert await memory.vector_count() == 1


async def test_forgetting_while_the_server_is_down_forgets_nothing(
    store: MemoryStore, customer: str, chroma_server: ChromaServer
) -> None:
    memory = store.memory(customer)
    remembered = await memory.remember(CAT)
    chroma_server.stop()

    with pytest.raises(VectorsUnavailable):
        await memory.forget([remembered.record.id])
    chroma_server.start()

    assert [record.id for record in await memory.records()] == [remembered.record.id]
    assert await eventually(memory.vector_count) == 1


async def test_tomos_collections_are_made_again_when_the_server_lost_them(
    store: MemoryStore, customer: str
) -> None:
    memory = store.memory(customer)
    await memory.remember(CAT)
    name = f"{COLLECTION_PREFIX}{shard_of(customer, SHARDS):03d}"
    store.vectors.client.delete_collection(name)  # as a wiped or new server would be

    await memory.remember("週末は山登りに行きます")

    assert [item.text for item in await memory.recall("山登り", k=5)] == ["週末は山登りに行きます"]


async def test_a_store_opened_while_the_server_is_down_connects_when_it_answers(
    tmp_path: Path, customer: str, chroma_server: ChromaServer
) -> None:
    chroma_server.stop()
    async with MemoryStore.open(
        database_url=default_database_url(tmp_path),
        data_dir=tmp_path,
        chroma_url=chroma_server.url,
        shards=SHARDS,
    ) as store:
        await store.touch_customer(customer, channel="line")
        down = await store.health()
        chroma_server.start()
        await eventually(lambda: store.memory(customer).remember(CAT))

        assert (down["sql"], down["vectors"]) == ("ok", "error: VectorsUnavailable")
        assert await store.health() == {"sql": "ok", "vectors": "ok"}
        assert await store.memory(customer).vector_count() == 1


def test_a_frozen_server_fails_calls_after_the_timeout_instead_of_hanging(
    tmp_path: Path, customer: str, chroma_server: ChromaServer
) -> None:
    vectors = open_vectors(tmp_path, chroma_server.url, SHARDS, None, timeout=1.0)
    vectors.count(customer)  # connected, with a connection kept open
    chroma_server.freeze()

    with ThreadPoolExecutor(1) as pool:  # a call that hangs fails the test instead
        try:
            started = time.monotonic()
            first = pool.submit(vectors.count, customer).exception(timeout=10)
            waited = time.monotonic() - started
            second = pool.submit(vectors.count, customer).exception(timeout=10)
            waited_again = time.monotonic() - started - waited
        finally:
            chroma_server.thaw()  # lets a hanging call end, so the pool can close

    assert isinstance(first, VectorsUnavailable) and isinstance(second, VectorsUnavailable)
    assert 0.9 < waited < 5.0
    assert waited_again < 0.5  # within the pause after a failure: no second wait
