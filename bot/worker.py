"""Workers: take customers' events from the durable inbox and handle them, in order.

Each worker loops: claim a customer's lane (a lease in the SQL store), send
what that customer's outbox still holds, then handle that customer's pending
events oldest first, then release the lane. One customer's events therefore
never run at the same time — not in one process, not across `tomo serve` and
`tomo worker` processes — while different customers run side by side.

Bursts: a customer who sends several texts in a row (「あの」「昨日の注文」
「まだ届かない」) gets one considered answer, not one per fragment. The texts
waiting in the customer's inbox are handled together; with a quiet period set
(`burst_quiet_seconds`), the worker also waits until the customer has paused
that long (at most `burst_max_wait_seconds` after the first text), showing
that an answer is being made meanwhile.

Crash safety: an event stays `pending` until it is handled, so a restart
handles it. A lane held by a process that died is freed at start when the
process was on this machine (by pid), otherwise when its lease runs out. An
event whose answer already reached the outbox is not handled again (its answer
is sent from the outbox instead).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.metrics import BURST_MESSAGES, INBOX_EVENTS, TURN_SECONDS
from memory.models import utcnow
from memory.queue import EventQueue, InboxEvent

log = logging.getLogger(__name__)

# One event, or a burst of texts from one customer (oldest first), handled as one.
Handle = Callable[[Sequence[InboxEvent]], Awaitable[None]]
Flush = Callable[[str], Awaitable[None]]
Working = Callable[[str], Awaitable[None]]
# Called once when an event (or burst) is given up on: tell the customer, hand over.
GiveUp = Callable[[Sequence[InboxEvent]], Awaitable[None]]
Chore = Callable[[], Awaitable[None]]

# Holders of the Workers running in this process: never mistaken for dead ones.
_LIVE_HOLDERS: set[str] = set()


@dataclass(frozen=True)
class WorkerConfig:
    """How many workers, and the timings of their loop."""

    count: int = 4
    poll_seconds: float = 0.5  # how often idle workers look for work other processes stored
    lease_seconds: float = 30.0  # a lane held by a silent process is free after this
    max_attempts: int = 3  # a failing event is retried this often, then given up (logged)
    retry_seconds: float = 2.0  # first wait before retrying a failed event (doubles)
    chore_seconds: float = 3600.0  # how often upkeep (pruning, retention) runs
    burst_quiet_seconds: float = 0.0  # wait for a pause this long before answering texts
    burst_max_wait_seconds: float = 8.0  # but never longer than this after the first text
    burst_max_events: int = 20  # texts answered together at most


BURST_KINDS = frozenset({"text"})  # the event kinds a burst is made of


class Workers:
    """A pool of asyncio workers over the inbox, opened and closed with the app."""

    def __init__(
        self,
        queue: EventQueue,
        handle: Handle,
        *,
        flush: Flush | None = None,
        working: Working | None = None,
        give_up: GiveUp | None = None,
        chores: Sequence[Chore] = (),
        config: WorkerConfig | None = None,
    ) -> None:
        self._queue = queue
        self._handle = handle
        self._flush = flush
        self._working = working
        self._give_up = give_up
        self._chores = tuple(chores)
        self._config = config or WorkerConfig()
        self._host = socket.gethostname()
        self._holder = f"{self._host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wakeup = asyncio.Event()
        self._stop = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []
        self._busy = 0

    @property
    def holder(self) -> str:
        """This process's name on the lanes it holds."""
        return self._holder

    def notify(self) -> None:
        """New work was stored: wake the idle workers now rather than at the next poll."""
        self._wakeup.set()

    async def start(self) -> None:
        """Free lanes a dead process on this machine left, then start the workers."""
        await self._free_dead_lanes()
        _LIVE_HOLDERS.add(self._holder)
        self._stopping = False
        self._stop.clear()
        self._tasks = [
            asyncio.create_task(self._run(index), name=f"tomo-worker-{index}")
            for index in range(self._config.count)
        ]
        if self._chores and self._config.count:
            self._tasks.append(asyncio.create_task(self._upkeep(), name="tomo-upkeep"))

    async def stop(self, grace_seconds: float = 10.0) -> None:
        """Let the workers finish what they hold (up to `grace_seconds`), then free their lanes."""
        self._stopping = True
        self._stop.set()
        self._wakeup.set()
        if self._tasks:
            _, unfinished = await asyncio.wait(self._tasks, timeout=grace_seconds)
            for task in unfinished:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        holders = [f"{self._holder}/{index}" for index in range(self._config.count)]
        await self._queue.release_lanes(holders)
        _LIVE_HOLDERS.discard(self._holder)

    async def idle(self, within_seconds: float = 10.0) -> bool:
        """Wait until nothing is pending or being handled (tests, benchmarks)."""
        deadline = asyncio.get_running_loop().time() + within_seconds
        while asyncio.get_running_loop().time() < deadline:
            counts = await self._queue.counts()
            if self._busy == 0 and counts.inbox_pending == 0 and counts.outbox_pending == 0:
                return True
            self.notify()
            await asyncio.sleep(0.01)
        return False

    async def _run(self, index: int) -> None:
        holder = f"{self._holder}/{index}"
        while not self._stopping:
            self._wakeup.clear()  # before looking: work stored after this wakes us below
            try:
                customer_id = await self._queue.claim_lane(holder, self._lease)
            except Exception:
                log.exception("could not look for work in the inbox; trying again shortly")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), max(5.0, self._config.poll_seconds))
                continue
            if customer_id is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._config.poll_seconds)
                continue
            self._busy += 1
            try:
                await self._run_lane(customer_id, holder)
            except Exception:
                log.exception("a customer's lane stopped on an error; it is retried later")
            finally:
                self._busy -= 1

    async def _run_lane(self, customer_id: str, holder: str) -> None:
        lost = asyncio.Event()
        keeper = asyncio.create_task(self._keep_lease(customer_id, holder, lost))
        try:
            if self._flush is not None:
                await self._flush(customer_id)
            while not self._stopping and not lost.is_set():
                batch = await self._next_batch(customer_id)
                if not batch:
                    break
                if not await self._handle_batch(batch):
                    break
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            await self._queue.release_lane(customer_id, holder)

    async def _next_batch(self, customer_id: str) -> list[InboxEvent]:
        """The next event to handle, or the burst of texts that starts with it."""
        config = self._config
        events = await self._queue.next_events(customer_id, config.burst_max_events)
        if not events or (events[0].not_before is not None and events[0].not_before > utcnow()):
            return []  # a failed event waits for its retry; later ones wait behind it
        batch = burst(events)
        if batch[0].kind not in BURST_KINDS or config.burst_quiet_seconds <= 0:
            return batch
        deadline = batch[0].received_at + timedelta(seconds=config.burst_max_wait_seconds)
        shown = False
        while not self._stopping:
            quiet_at = batch[-1].received_at + timedelta(seconds=config.burst_quiet_seconds)
            wait = (min(quiet_at, deadline) - utcnow()).total_seconds()
            if wait <= 0 or len(batch) >= config.burst_max_events:
                break
            if not shown and self._working is not None:
                shown = True
                with contextlib.suppress(Exception):
                    await self._working(customer_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), wait)
            events = await self._queue.next_events(customer_id, config.burst_max_events)
            if not events or events[0].id != batch[0].id:
                break  # handled elsewhere meanwhile (the lane was lost)
            batch = burst(events)
        return batch

    async def _handle_batch(self, batch: Sequence[InboxEvent]) -> bool:
        """Handle one event or burst; False when the lane should stop here."""
        row_ids = [event.id for event in batch if event.id is not None]
        if await self._queue.answered(*(event.event_id for event in batch)):
            # A crash came after the answer reached the outbox: the outbox sends it.
            log.info("event %s was answered before a restart; not handled again", batch[0].event_id)
            await self._queue.finish(*row_ids)
            INBOX_EVENTS.labels("already_answered").inc(len(row_ids))
            return True
        started = asyncio.get_running_loop().time()
        try:
            await self._handle(batch)
        except Exception as error:
            log.exception("handling event %s (%s) failed", batch[0].event_id, batch[0].kind)
            gave_up = False
            for row_id in row_ids:
                gave_up = await self._queue.retry_later(
                    row_id,
                    type(error).__name__,
                    max_attempts=self._config.max_attempts,
                    delay=timedelta(seconds=self._config.retry_seconds),
                )
            if gave_up:
                log.error("gave up on event %s (%s)", batch[0].event_id, batch[0].kind)
                await self._after_giving_up(batch)
            INBOX_EVENTS.labels("given_up" if gave_up else "retried").inc(len(row_ids))
            return gave_up
        await self._queue.finish(*row_ids)
        INBOX_EVENTS.labels("done").inc(len(row_ids))
        TURN_SECONDS.labels(batch[0].channel).observe(asyncio.get_running_loop().time() - started)
        if batch[0].kind in BURST_KINDS:
            BURST_MESSAGES.observe(len(batch))
        return True

    async def _after_giving_up(self, batch: Sequence[InboxEvent]) -> None:
        if self._give_up is None:
            return
        try:
            await self._give_up(batch)
        except Exception:
            log.exception("could not tell the customer of event %s", batch[0].event_id)

    async def _keep_lease(self, customer_id: str, holder: str, lost: asyncio.Event) -> None:
        while True:
            await asyncio.sleep(self._config.lease_seconds / 3)
            if not await self._queue.renew_lane(customer_id, holder, self._lease):
                log.warning("lost the lane of a customer; stopping after the current event")
                lost.set()
                return

    async def _upkeep(self) -> None:
        while not self._stopping:
            for chore in self._chores:
                try:
                    await chore()
                except Exception:
                    log.exception("upkeep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._config.chore_seconds)

    async def _free_dead_lanes(self) -> None:
        """Release lanes held by processes on this machine that no longer run."""
        mine = os.getpid()
        dead = []
        for holder in await self._queue.lane_holders(f"{self._host}:"):
            try:
                pid = int(holder.split(":")[1])
            except (IndexError, ValueError):
                continue
            if holder.split("/")[0] in _LIVE_HOLDERS:
                continue
            if pid == mine or not _alive(pid):
                # Same pid but another run (e.g. pid 1 in a restarted container): dead too.
                dead.append(holder)
        if dead and await self._queue.release_lanes(dead):
            log.info("freed %d lane(s) left by stopped processes", len(dead))

    @property
    def _lease(self) -> timedelta:
        return timedelta(seconds=self._config.lease_seconds)


def burst(events: Sequence[InboxEvent]) -> list[InboxEvent]:
    """The first event, with the texts right after it when it is a text (oldest first)."""
    if not events:
        return []
    if events[0].kind not in BURST_KINDS:
        return [events[0]]
    run = []
    for event in events:
        if event.kind not in BURST_KINDS or event.not_before is not None:
            break
        run.append(event)
    return run or [events[0]]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
