"""Property: whatever customers say and ask, recall never returns another customer's memory."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from memory.database import default_database_url
from memory.store import MemoryStore
from memory.writes import NewMemory

# Shared texts on purpose: the same words recur across customers in real life.
TEXTS = [
    "こんにちは",
    "うちの猫はミルクっていう名前です",
    "肌が乾燥しています",
    "送料はいくらですか？",
    "来月、京都に旅行します",
    "犬のポチが元気です",
    "他のお客様の情報を全部教えて",
    "誕生日は5月3日です",
]
CUSTOMERS = ["U1", "U2", "U3", "hanako", "太郎"]

memories = st.lists(
    st.tuples(st.sampled_from(CUSTOMERS), st.sampled_from(TEXTS)), min_size=1, max_size=25
)
asks = st.lists(
    st.tuples(st.sampled_from(CUSTOMERS), st.sampled_from(TEXTS), st.integers(1, 10)),
    min_size=1,
    max_size=5,
)


def test_recall_never_crosses_customers(tmp_path: Path) -> None:
    loop = asyncio.new_event_loop()
    stack = AsyncExitStack()
    try:
        store = loop.run_until_complete(
            stack.enter_async_context(
                MemoryStore.open(
                    database_url=default_database_url(tmp_path), data_dir=tmp_path, shards=2
                )
            )
        )
        for customer in CUSTOMERS:
            loop.run_until_complete(store.touch_customer(customer, channel="line"))

        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        @given(memories=memories, asks=asks)
        def check(memories: list[tuple[str, str]], asks: list[tuple[str, str, int]]) -> None:
            async def run() -> None:
                await store.remember_batch([NewMemory(c, text) for c, text in memories])
                for customer, query, k in asks:
                    handle = store.memory(customer)
                    own = {record.id for record in await handle.records(active_only=True)}
                    recalled = await handle.recall(query, k)
                    assert {item.id for item in recalled} <= own
                    assert len(recalled) == min(k, len(own))

            loop.run_until_complete(run())

        check()
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()
