"""Writing what customers said into memory: after the reply, off its path, durably.

A customer message worth remembering is stored with `memory_status=pending`
before the reply is made. After the reply is delivered the writer is asked to
remember it in the background; on success the status becomes `done`. A crash
in between leaves it `pending`, and `recover()` (run at start-up) finishes it
from the stored message. Writing is idempotent: a message remembered twice is
merged, not stored twice.
"""

from __future__ import annotations

import asyncio
import logging

from bot.facts import FactExtractor
from memory.models import Author, MemoryKind, MemoryStatus, Message
from memory.store import MemoryStore
from memory.writes import AUTO, NewMemory

log = logging.getLogger(__name__)

_KINDS = {"event": MemoryKind.EVENT, "fact": MemoryKind.FACT}


class MemoryWriter:
    """Remembers customer messages in the background, batching what is queued."""

    def __init__(self, store: MemoryStore, extractor: FactExtractor | None = None) -> None:
        self._store = store
        self._extractor = extractor
        self._tasks: dict[str, set[asyncio.Task[None]]] = {}

    def schedule(self, customer_id: str, message_id: int) -> None:
        """Remember this message of this customer soon, without holding up the caller."""
        task = asyncio.create_task(self._write_logged([message_id]))
        tasks = self._tasks.setdefault(customer_id, set())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def settle(self, customer_id: str) -> None:
        """Wait for this customer's writes still in flight (before recalling for them).

        A customer who says something and at once asks about it must be answered
        from memory that includes it; other customers' writes are not waited for.
        """
        tasks = self._tasks.get(customer_id)
        while tasks:
            await asyncio.gather(*list(tasks), return_exceptions=True)
        self._tasks.pop(customer_id, None)

    async def drain(self) -> None:
        """Wait for every scheduled write (at shutdown, and in tests)."""
        for customer_id in list(self._tasks):
            await self.settle(customer_id)

    async def recover(self) -> int:
        """Finish the writes a crash left pending; returns how many messages were done."""
        done = 0
        while pending := await self._store.pending_memory_messages():
            before = done
            for start in range(0, len(pending), 64):
                batch = [m.id for m in pending[start : start + 64] if m.id is not None]
                done += await self._write(batch)
            if done == before:  # nothing could be finished now; try again at the next start
                break
        return done

    async def _write_logged(self, message_ids: list[int]) -> None:
        try:
            await self._write(message_ids)
        except Exception:  # stays pending: recover() finishes it at the next start
            log.exception("memory write failed; left pending for recovery")

    async def _write(self, message_ids: list[int]) -> int:
        messages = [
            message
            for message_id in message_ids
            if (message := await self._store.message(message_id)) is not None
            and message.memory_status is MemoryStatus.PENDING
        ]
        if not messages:
            return 0
        items: list[NewMemory] = []
        for message in messages:
            items.extend(await self._memories_of(message))
        await self._store.remember_batch(items)
        await self._store.set_memory_status(
            [m.id for m in messages if m.id is not None], MemoryStatus.DONE
        )
        return len(messages)

    async def _memories_of(self, message: Message) -> list[NewMemory]:
        episodic = NewMemory(message.customer_id, message.text, source_message_id=message.id)
        if self._extractor is None:
            return [episodic]
        known = await self._store.memory(message.customer_id).records(active_only=True)
        facts = await self._extractor.extract(message.text, known)
        return [
            NewMemory(
                message.customer_id,
                fact.text,
                kind=_KINDS.get(fact.kind, MemoryKind.FACT),
                author=Author.EXTRACTED,
                source_message_id=message.id,
                sensitivity=fact.sensitivity or AUTO,
                key=fact.key,
                event_date=fact.event_date,
                replaces=tuple(fact.replaces),
            )
            for fact in facts
        ] or [episodic]
