"""A turn: one customer message in, tomo's reply out, then what is worth remembering.

The same pipeline serves every channel: the terminal chat now, LINE later.
Memory is written after the reply is delivered, by the memory writer, off the
reply path; the message is marked pending first, so a crash loses nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.intents import IntentKind, classify, worth_remembering
from bot.memory_control import control_memory
from bot.memory_writer import MemoryWriter
from bot.responder import Reply, Responder, TurnContext
from memory.models import MemoryStatus, Role
from memory.store import MemoryStore
from persona.schema import Persona

log = logging.getLogger(__name__)


class Delivery(Protocol):
    """Delivers tomo's messages to one customer (printed, or sent on LINE)."""

    async def deliver(self, customer_id: str, messages: Sequence[str]) -> None: ...


@dataclass(frozen=True)
class TurnResult:
    customer_id: str
    replies: tuple[str, ...]
    unsure: bool
    remembered: bool  # what the customer said is being kept as a memory


class Conversation:
    """Runs turns for any customer on any channel."""

    def __init__(
        self,
        store: MemoryStore,
        persona: Callable[[], Persona],
        responder: Responder,
        *,
        memory_writer: MemoryWriter | None = None,
        recall_k: int = 5,
        history_limit: int = 12,
    ) -> None:
        self._store = store
        self._persona = persona
        self._responder = responder
        self.memory_writer = memory_writer or MemoryWriter(store)
        self._recall_k = recall_k
        self._history_limit = history_limit

    async def handle_text(
        self,
        customer_id: str,
        text: str,
        delivery: Delivery,
        *,
        channel: str = "terminal",
        display_name: str | None = None,
    ) -> TurnResult:
        """Answer one text message from a customer, then remember what matters."""
        store = self._store
        persona = self._persona()
        customer, is_new = await store.touch_customer(
            customer_id, channel=channel, display_name=display_name
        )
        history = await store.recent_messages(customer_id, self._history_limit)
        intent = classify(text)
        remember = worth_remembering(text, intent)
        inbound = await store.record_message(
            customer_id,
            Role.CUSTOMER,
            text,
            memory_status=MemoryStatus.PENDING if remember else MemoryStatus.SKIPPED,
        )

        await self.memory_writer.settle(customer_id)  # lists and forgets see every write
        control = await control_memory(store, persona, customer, intent, text)
        if control is not None:
            if not control.forgot_everything:
                for message in control.messages:
                    await store.record_message(customer_id, Role.TOMO, message)
            await delivery.deliver(customer_id, control.messages)
            return TurnResult(customer_id, control.messages, False, False)

        name = customer.name
        if intent.kind is IntentKind.NAME_INTRODUCTION and intent.name:
            await store.set_preferred_name(customer_id, intent.name)
            name = intent.name

        memory = store.memory(customer_id)
        if intent.kind is IntentKind.GREETING:
            memories = await memory.recent(self._recall_k)
        else:
            memories = await memory.recall(intent.topic, self._recall_k)

        reply: Reply = await self._responder.respond(
            TurnContext(
                persona=persona,
                customer_id=customer_id,
                customer_name=name,
                returning=not is_new and bool(history),
                text=text,
                intent=intent,
                memories=memories,
                history=history,
            )
        )
        for message in reply.messages:
            await store.record_message(customer_id, Role.TOMO, message, unsure=reply.unsure)
        await delivery.deliver(customer_id, reply.messages)

        if remember and inbound.id is not None:
            self.memory_writer.schedule(customer_id, inbound.id)
        return TurnResult(customer_id, reply.messages, reply.unsure, remember)
