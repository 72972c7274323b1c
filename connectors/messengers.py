"""How staff words reach a customer outside a turn (`bot.handoff.CustomerMessenger`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from connectors.line.sender import LineSender


class LineMessenger:
    """A LINE push through the durable outbox (retry key per row); the workers send it,
    in the customer's lane, so it keeps its place among that customer's messages."""

    def __init__(self, sender: LineSender, notify: Callable[[], None]) -> None:
        self._sender = sender
        self._notify = notify

    async def push(self, customer_id: str, texts: Sequence[str]) -> None:
        await self._sender.enqueue(customer_id, texts, event_id=None, reply_token=None)
        self._notify()
