from __future__ import annotations

from memory.models import MemoryStatus, Role
from memory.store import MemoryStore, PendingMessage


async def test_pending_among_gives_only_the_pending_ones_in_id_order(store: MemoryStore) -> None:
    first = await store.record_message(
        "hanako", Role.CUSTOMER, "猫を飼い始めました", memory_status=MemoryStatus.PENDING
    )
    done = await store.record_message(
        "taro", Role.CUSTOMER, "犬が好きです", memory_status=MemoryStatus.PENDING
    )
    reply = await store.record_message("hanako", Role.TOMO, "いいですね！")
    last = await store.record_message(
        "taro", Role.CUSTOMER, "来月は京都です", memory_status=MemoryStatus.PENDING
    )
    assert first.id and done.id and reply.id and last.id
    await store.set_memory_status([done.id], MemoryStatus.DONE)

    pending = await store.pending_among([last.id, reply.id, done.id, first.id, 10_000])

    assert pending == [
        PendingMessage(first.id, "hanako", "猫を飼い始めました"),
        PendingMessage(last.id, "taro", "来月は京都です"),
    ]
