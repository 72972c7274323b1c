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
import contextlib
import logging

from bot.facts import FactExtractor
from memory.models import Author, MemoryKind, MemoryStatus, Message
from memory.store import MemoryStore
from memory.writes import AUTO, NewMemory

log = logging.getLogger(__name__)

_KINDS = {"event": MemoryKind.EVENT, "fact": MemoryKind.FACT}


class MemoryWriter:
    """Remembers customer messages in the background, in batches of what is queued.

    One consumer task takes whatever has been scheduled since its last write
    (up to `batch` messages) and writes it as one batch: under load, writes
    group themselves; when quiet, a message is written as soon as it comes.
    """

    def __init__(
        self, store: MemoryStore, extractor: FactExtractor | None = None, batch: int = 64
    ) -> None:
        self._store = store
        self._extractor = extractor
        self._batch = batch
        self._queue: list[tuple[int, asyncio.Future[None]]] = []
        self._waiting: dict[str, set[asyncio.Future[None]]] = {}
        self._wakeup: asyncio.Event | None = None
        self._consumer: asyncio.Task[None] | None = None

    def schedule(self, customer_id: str, message_id: int) -> None:
        """Remember this message of this customer soon, without holding up the caller."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiting = self._waiting.setdefault(customer_id, set())
        waiting.add(future)
        future.add_done_callback(waiting.discard)
        self._queue.append((message_id, future))
        if self._wakeup is None:
            self._wakeup = asyncio.Event()
        if self._consumer is None or self._consumer.done():
            self._consumer = asyncio.create_task(self._consume(self._wakeup))
        self._wakeup.set()

    async def settle(self, customer_id: str) -> None:
        """Wait for this customer's writes still in flight (before recalling for them).

        A customer who says something and at once asks about it must be answered
        from memory that includes it; other customers' writes are not waited for.
        """
        waiting = self._waiting.get(customer_id)
        while waiting:
            await asyncio.gather(*list(waiting))
        self._waiting.pop(customer_id, None)

    async def drain(self) -> None:
        """Wait for every scheduled write, then stop the consumer (at shutdown, in tests)."""
        for customer_id in list(self._waiting):
            await self.settle(customer_id)
        if self._consumer is not None:
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer
            self._consumer = None

    async def _consume(self, wakeup: asyncio.Event) -> None:
        while True:
            await wakeup.wait()
            wakeup.clear()
            while self._queue:
                batch, self._queue = self._queue[: self._batch], self._queue[self._batch :]
                try:
                    await self._write([message_id for message_id, _ in batch])
                except Exception:  # stays pending: recover() finishes it at the next start
                    log.exception("memory write failed; left pending for recovery")
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)

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
