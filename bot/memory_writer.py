"""Writing what customers said into memory: after the reply, off its path, durably.

A customer message worth remembering is stored with `memory_status=pending`
before the reply is made. After the reply is delivered the writer is asked to
remember it in the background; on success the status becomes `done`. A crash
in between leaves it `pending`, and `recover()` (run at start-up) finishes it
from the stored message. Writing is idempotent: a message remembered twice is
merged, not stored twice.

While the vector memory cannot be reached (a Chroma server down), writes stay
`pending` and this writer tries them again in the background, waiting longer
each time (`retry_seconds`, doubling up to `max_retry_seconds`) and at once
when a new write gets through. Nobody waits for them meanwhile: `settle()`
and `drain()` return, and what is still pending at shutdown is recovered at
the next start.

Under a backlog, and with no model to ask, the next batch is embedded in a
child process while this one is stored (memory.encoder_process): into 1M
memories this writer remembered 1,037-1,059 messages/s so, against 745-811/s
embedding each batch itself (2026-11-25, 10,240 real texts a run, four runs
each way, interleaved).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bot.facts import FactExtractor
from bot.metrics import MEMORY_UNAVAILABLE
from memory.encoder_process import EncoderProcess
from memory.models import Author, MemoryKind, MemoryStatus
from memory.store import MemoryStore, PendingMessage
from memory.vectors import VectorsUnavailable
from memory.writes import AUTO, NewMemory

log = logging.getLogger(__name__)

_KINDS = {"event": MemoryKind.EVENT, "fact": MemoryKind.FACT}
# Most messages a write takes at once. Chroma's cost is mostly per call and a
# batch makes one call per collection it touches: on this 2-core machine, real
# texts into 10k memories in 4 collections, batches of 64 stored ~400
# memories/s and of 256 ~610/s; into 100k, 256 ~430-510/s and 512 ~510-590/s
# (runs side by side). A quiet writer takes what is queued, a message at a
# time; only a backlog fills a batch, and a customer asking about what they
# just said waits for at most one batch (~1 s).
BATCH = 512
# Model calls a write makes at once to extract facts. With a model answering
# in 500 ms (bench/fake_llm.py, 40 messages) the writer remembered 1.8
# messages/s asking one at a time, 6.1 asking four at a time.
EXTRACTIONS_AT_ONCE = 4
# With a model, its answers set the pace, not Chroma's calls: a batch of 512
# would keep a customer who asks about what they just said waiting ~80 s.
BATCH_WITH_MODEL = 16

_Queued = tuple[int, "asyncio.Future[None]"]


@dataclass(frozen=True)
class _Prepared:
    """A batch ready to store: its pending messages, their memories and, if embedded, vectors."""

    messages: list[PendingMessage]
    items: list[NewMemory]
    vectors: NDArray[np.float32] | None = None


class MemoryWriter:
    """Remembers customer messages in the background, in batches of what is queued.

    One consumer task takes whatever has been scheduled since its last write
    (up to `batch` messages: BATCH, or BATCH_WITH_MODEL when facts are asked of
    a model) and writes it as one batch: under load, writes
    group themselves; when quiet, a message is written as soon as it comes.
    Retries go through the same consumer, so one customer's writes never run
    side by side (two at once could each miss the other and store a memory twice).

    `embed_ahead`: while a batch is stored, embed the next one in a child
    process (by default when there is no model to ask and two cores or more).
    Only the embedding runs ahead: the next batch is reconciled against what
    is known once this one is stored.
    """

    def __init__(
        self,
        store: MemoryStore,
        extractor: FactExtractor | None = None,
        batch: int | None = None,
        *,
        retry_seconds: float = 1.0,
        max_retry_seconds: float = 60.0,
        embed_ahead: bool | None = None,
    ) -> None:
        self._store = store
        self._extractor = extractor
        self._batch = batch or (BATCH if extractor is None else BATCH_WITH_MODEL)
        if embed_ahead is None:
            embed_ahead = extractor is None and (os.cpu_count() or 1) >= 2
        # Started only when a backlog first queues a batch behind another.
        self.encoder_process = EncoderProcess(store.encoder) if embed_ahead else None
        self._retry_seconds = retry_seconds
        self._max_retry_seconds = max_retry_seconds
        self._queue: list[_Queued] = []
        self._waiting: dict[str, set[asyncio.Future[None]]] = {}
        self._wakeup: asyncio.Event | None = None
        self._consumer: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Future[None]] = set()
        self._deferred: set[int] = set()  # message ids waiting for the vector memory
        self._retrier: asyncio.Task[None] | None = None

    @property
    def deferred(self) -> int:
        """How many messages wait for the vector memory to come back."""
        return len(self._deferred)

    def schedule(self, customer_id: str, message_id: int) -> None:
        """Remember this message of this customer soon, without holding up the caller."""
        future = self._enqueue(message_id)
        waiting = self._waiting.setdefault(customer_id, set())
        waiting.add(future)
        future.add_done_callback(waiting.discard)

    def _enqueue(self, message_id: int) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._inflight.add(future)
        future.add_done_callback(self._inflight.discard)
        self._queue.append((message_id, future))
        if self._wakeup is None:
            self._wakeup = asyncio.Event()
        if self._consumer is None or self._consumer.done():
            self._consumer = asyncio.create_task(self._consume(self._wakeup))
        self._wakeup.set()
        return future

    async def settle(self, customer_id: str) -> None:
        """Wait for this customer's writes still in flight (before recalling for them).

        A customer who says something and at once asks about it must be answered
        from memory that includes it; other customers' writes are not waited for,
        nor writes waiting for the vector memory to come back.
        """
        waiting = self._waiting.get(customer_id)
        while waiting:
            await asyncio.gather(*list(waiting))
        self._waiting.pop(customer_id, None)

    async def drain(self) -> None:
        """Wait for every scheduled write, then stop (at shutdown, in tests).

        Writes waiting for the vector memory stay pending, for `recover()`.
        """
        while self._inflight:
            await asyncio.gather(*list(self._inflight))
        self._waiting.clear()
        # Only now: a write failing while we waited may have started a retrier.
        for task in (self._retrier, self._consumer):
            if task is not None:
                await _cancel(task)
        self._retrier = self._consumer = None
        if self.encoder_process is not None:
            await self.encoder_process.close()

    async def _consume(self, wakeup: asyncio.Event) -> None:
        while True:
            await wakeup.wait()
            wakeup.clear()
            ahead: tuple[list[_Queued], asyncio.Task[_Prepared | None]] | None = None
            while self._queue or ahead is not None:
                preparing: Awaitable[_Prepared | None]
                if ahead is None:
                    batch = self._take()
                    preparing = self._prepare(_ids(batch))
                else:
                    (batch, preparing), ahead = ahead, None
                try:
                    prepared = await preparing
                    if self.encoder_process is not None and self._queue:
                        following = self._take()
                        ahead = (
                            following,
                            asyncio.create_task(self._prepare(_ids(following), embed=True)),
                        )
                    written = await self._store_prepared(prepared)
                except VectorsUnavailable as error:
                    # What is queued behind would fail the same way: keep it all for later.
                    if ahead is not None:
                        await _ignoring_outcome(ahead[1])
                        batch, ahead = batch + ahead[0], None
                    batch, self._queue = batch + self._queue, []
                    self._defer(_ids(batch), error)
                except Exception:  # stays pending: recover() finishes it at the next start
                    log.exception("memory write failed; left pending for recovery")
                else:
                    if written and self._deferred:  # the vector memory is back: no need to wait
                        self._retry_now()
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)

    def _take(self) -> list[_Queued]:
        batch, self._queue = self._queue[: self._batch], self._queue[self._batch :]
        return batch

    def _defer(self, message_ids: list[int], error: VectorsUnavailable) -> None:
        """Keep these writes (still pending) to try again when the vector memory is back."""
        MEMORY_UNAVAILABLE.labels(operation="write").inc()
        self._deferred.update(message_ids)
        log.warning(
            "%s; %d memory write(s) kept pending and retried later", error, len(self._deferred)
        )
        if self._retrier is None or self._retrier.done():
            self._retrier = asyncio.create_task(self._retry())

    def _retry_now(self) -> None:
        ids, self._deferred = sorted(self._deferred), set()
        for message_id in ids:
            self._enqueue(message_id)

    async def _retry(self) -> None:
        delay = self._retry_seconds
        while self._deferred:
            await asyncio.sleep(delay)
            ids, self._deferred = sorted(self._deferred), set()
            await asyncio.gather(*(self._enqueue(message_id) for message_id in ids))
            delay = min(delay * 2, self._max_retry_seconds)

    async def recover(self) -> int:
        """Finish the writes a crash left pending; returns how many messages were done.

        With the vector memory unreachable they are kept to be retried in the background.
        """
        done = 0
        after: int | None = None
        unavailable: VectorsUnavailable | None = None
        while pending := await self._store.pending_memory_messages(after_id=after):
            ids = [message.id for message in pending if message.id is not None]
            after = ids[-1]
            for start in range(0, len(ids), self._batch):
                batch = ids[start : start + self._batch]
                if unavailable is None:
                    try:
                        done += await self._write(batch)
                        continue
                    except VectorsUnavailable as error:
                        unavailable = error
                self._deferred.update(batch)
        if unavailable is not None:
            self._defer([], unavailable)
        return done

    async def _write(self, message_ids: list[int]) -> int:
        return await self._store_prepared(await self._prepare(message_ids))

    async def _prepare(self, message_ids: list[int], *, embed: bool = False) -> _Prepared | None:
        """The pending messages among these, their memories and (`embed`) their vectors,
        embedded in the child process. None when none is pending."""
        messages = await self._store.pending_among(message_ids)
        if not messages:
            return None
        if self._extractor is not None:
            # Asking the model about messages that cannot be stored now wastes its calls.
            await asyncio.to_thread(self._store.vectors.heartbeat)
        # The model is asked about several messages at once. It means the same as
        # asking one at a time: no message's facts are stored, and so seen by
        # the others, before the whole batch is.
        limit = asyncio.Semaphore(EXTRACTIONS_AT_ONCE)

        async def memories_of(message: PendingMessage) -> list[NewMemory]:
            async with limit:
                return await self._memories_of(message)

        found = await asyncio.gather(*map(memories_of, messages), return_exceptions=True)
        items: list[NewMemory] = []
        for memories in found:
            if isinstance(memories, BaseException):
                raise memories  # the batch stays pending (see _consume and recover)
            items.extend(memories)
        vectors = None
        if embed and self.encoder_process is not None:
            vectors = await self.encoder_process.encode([item.text for item in items])
        return _Prepared(messages, items, vectors)

    async def _store_prepared(self, prepared: _Prepared | None) -> int:
        """Store a prepared batch and mark its messages done; returns how many."""
        if prepared is None:
            return 0
        await self._store.remember_batch(prepared.items, prepared.vectors)
        await self._store.set_memory_status(
            [message.id for message in prepared.messages], MemoryStatus.DONE
        )
        return len(prepared.messages)

    async def _memories_of(self, message: PendingMessage) -> list[NewMemory]:
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


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _ignoring_outcome(task: asyncio.Task[_Prepared | None]) -> None:
    """Let a batch's preparation finish; what became of it is not stored now.

    Not cancelled: cancelled midway, its database read could leave a pooled
    connection unreturned. (CI once failed on such a connection, garbage-
    collected unreturned; whether a cancel here caused it is not proven.)
    Waiting costs at most a batch's read and embedding.
    """
    with contextlib.suppress(Exception):
        await task


def _ids(batch: list[_Queued]) -> list[int]:
    return [message_id for message_id, _ in batch]
