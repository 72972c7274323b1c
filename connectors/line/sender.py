"""Sending tomo's messages to LINE: through the outbox, reply token first, then push.

`deliver` stores the messages in the SQL outbox before any call, then sends
every undelivered row of that customer, oldest first:

1. With an unused reply token, reply (free). 429/5xx are retried with
   backoff; any 4xx (an expired or already-used token) falls through to 2.
2. Push, with the row's `X-Line-Retry-Key` — the same key on every retry, so
   LINE delivers it once: 409 means an earlier try was accepted. 429, 5xx and
   network errors are retried with exponential backoff (LINE's 429 has no
   Retry-After); other 4xx mark the row failed.

A row still undelivered after the attempts stays in the outbox with a later
`next_attempt_at`; the workers send it then (before that customer's next
events, so the order holds). A crash between the turn and the send loses
nothing: the rows are sent when the customer's lane is next taken.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from bot.event_handler import QuickReply
from bot.events import CustomerEvent
from bot.metrics import SEND_RETRIES
from connectors.line.client import AlreadyAccepted, LineApi, LineApiError, Rejected, Retryable
from connectors.line.messages import batches, text_messages
from memory.models import utcnow
from memory.queue import EventQueue, OutboxMessage

log = logging.getLogger(__name__)

CHANNEL = "line"
GIVE_UP_AFTER = timedelta(hours=24)  # an answer a day late does more harm than good
MAX_BACKOFF_SECONDS = 300.0


@dataclass(frozen=True)
class SendPolicy:
    """How hard to try before leaving a message to the outbox."""

    attempts: int = 5  # per send, for 429/5xx/network errors
    backoff_seconds: float = 0.5  # first wait; doubles, with jitter
    loading_seconds: int = 20  # LINE's loading animation: 5–60, a multiple of 5


class LineSender:
    """Owns the outbox rows of the LINE channel and the calls that deliver them."""

    def __init__(self, api: LineApi, queue: EventQueue, policy: SendPolicy | None = None) -> None:
        self._api = api
        self._queue = queue
        self._policy = policy or SendPolicy()

    def delivery(self, event: CustomerEvent) -> LineDelivery:
        """A delivery bound to this event's reply token."""
        return LineDelivery(self, event.customer_id, event.event_id, event.reply_token)

    async def enqueue(
        self,
        customer_id: str,
        messages: Sequence[str],
        *,
        event_id: str | None,
        reply_token: str | None,
        quick_replies: Sequence[QuickReply] = (),
    ) -> list[OutboxMessage]:
        objects = text_messages(messages, quick_replies)
        if not objects:
            return []
        return await self._queue.enqueue(
            channel=CHANNEL,
            customer_id=customer_id,
            event_id=event_id,
            batches=[json.dumps(batch, ensure_ascii=False) for batch in batches(objects)],
            reply_token=reply_token,
        )

    async def flush(self, customer_id: str) -> None:
        """Send the customer's undelivered rows in order; stop at one that must wait."""
        for row in await self._queue.due_outbox(customer_id):
            if row.next_attempt_at > utcnow():
                return  # keep the order: later rows wait behind it
            if not await self._send(row):
                return

    async def _send(self, row: OutboxMessage) -> bool:
        """Deliver one row; False when it stays in the outbox for later."""
        if row.id is None:
            raise ValueError("an outbox row is sent only once stored")
        if utcnow() - row.created_at > GIVE_UP_AFTER:
            log.error("gave up on a LINE message undelivered for a day")
            await self._queue.mark_failed(row.id, status=row.last_status)
            return True
        messages = json.loads(row.messages)
        if row.reply_token and not row.reply_tried:
            # Not marked as tried before the call: after a crash mid-call, trying the
            # token again costs nothing (LINE refuses a used one, then we push).
            try:
                await self._with_retries(lambda: self._api.reply(row.reply_token or "", messages))
            except Rejected as error:
                log.info("reply token refused (%s %s); pushing instead", error.status, error.detail)
            except Retryable as error:
                log.warning("reply failed (%s); pushing instead", error.status)
            else:
                await self._queue.mark_sent(row.id, via="reply", status=200)
                return True
            await self._queue.mark_reply_tried(row.id)
        try:
            await self._with_retries(
                lambda: self._api.push(row.customer_id, messages, retry_key=row.retry_key)
            )
        except AlreadyAccepted:
            await self._queue.mark_sent(row.id, via="push", status=409)
            return True
        except Rejected as error:
            log.error("LINE refused a push (%s %s); message dropped", error.status, error.detail)
            await self._queue.mark_failed(row.id, status=error.status)
            return True
        except Retryable as error:
            attempts = row.attempts + 1
            # Carry on the doubling where this send's own retries stopped.
            delay = min(
                self._policy.backoff_seconds * 2 ** (self._policy.attempts + row.attempts),
                MAX_BACKOFF_SECONDS,
            )
            log.warning("LINE push failed (%s); retrying in %.0f s", error.status, delay)
            SEND_RETRIES.labels(channel=CHANNEL).inc()
            await self._queue.postpone(
                row.id, attempts=attempts, status=error.status, delay=timedelta(seconds=delay)
            )
            return False
        await self._queue.mark_sent(row.id, via="push", status=200)
        return True

    async def _with_retries(self, call: Callable[[], Awaitable[None]]) -> None:
        policy = self._policy
        for attempt in range(policy.attempts):
            try:
                await call()
                return
            except Retryable:
                if attempt + 1 >= policy.attempts:
                    raise
                delay = policy.backoff_seconds * 2**attempt
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))

    async def show_loading(self, customer_id: str) -> None:
        """The loading animation in the customer's chat; failures only logged."""
        try:
            await self._api.show_loading(customer_id, self._policy.loading_seconds)
        except LineApiError as error:
            log.info("loading animation not shown (%s)", error.status)


class LineDelivery:
    """Sends one event's answer: `bot.event_handler.EventDelivery` for LINE."""

    def __init__(
        self, sender: LineSender, customer_id: str, event_id: str, reply_token: str | None
    ) -> None:
        self._sender = sender
        self._customer_id = customer_id
        self._event_id = event_id
        self._reply_token = reply_token
        self._loading: asyncio.Task[None] | None = None

    def show_working(self) -> None:
        """Start the loading animation; the answer waits for it so it never shows after."""
        if self._loading is None:
            self._loading = asyncio.create_task(self._sender.show_loading(self._customer_id))

    async def deliver(
        self,
        customer_id: str,
        messages: Sequence[str],
        *,
        quick_replies: Sequence[QuickReply] = (),
    ) -> None:
        if self._loading is not None:
            with contextlib.suppress(Exception):
                await self._loading
        token, self._reply_token = self._reply_token, None  # a reply token is single use
        await self._sender.enqueue(
            customer_id,
            messages,
            event_id=self._event_id,
            reply_token=token,
            quick_replies=quick_replies,
        )
        await self._sender.flush(customer_id)
