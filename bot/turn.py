"""A turn: one customer message in, tomo's reply out, then what is worth remembering.

The same pipeline serves every channel: the terminal chat now, LINE later.
Memory is written after the reply is delivered, by the memory writer, off the
reply path; the message is marked pending first, so a crash loses nothing.

One owner holds a conversation at a time. After the customer's own memory
requests and before the responder, the handoff service looks: while a handoff
is open the message goes to the staff thread and tomo stays silent; otherwise
the escalation policy may hand the conversation over (tomo tells the customer
what happens next and stops). A reply tomo was unsure of hands over too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.handoff_service import HandoffService, Intercepted
from bot.intents import IntentKind, classify, worth_remembering
from bot.memory_control import control_memory
from bot.memory_outage import recall_or_nothing
from bot.memory_writer import MemoryWriter
from bot.phrasing import speak
from bot.responder import Reply, Responder, TurnContext
from memory.models import MemoryStatus, Role
from memory.store import MemoryStore
from persona.schema import Persona

log = logging.getLogger(__name__)


class Delivery(Protocol):
    """Delivers tomo's messages to one customer (printed, or sent on LINE)."""

    async def deliver(self, customer_id: str, messages: Sequence[str]) -> None: ...


@dataclass(frozen=True)
class Said:
    """One message the customer sent, with the channel's id for it (LINE's message id)."""

    text: str
    message_id: str | None = None


@dataclass(frozen=True)
class TurnResult:
    customer_id: str
    replies: tuple[str, ...]
    unsure: bool
    remembered: bool  # what the customer said is being kept as a memory
    handed_over: bool = False  # a person holds the conversation after this turn


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
        handoffs: HandoffService | None = None,
    ) -> None:
        self._store = store
        self._persona = persona
        self._responder = responder
        self.memory_writer = memory_writer or MemoryWriter(store)
        self._recall_k = recall_k
        self._history_limit = history_limit
        self.handoffs = handoffs

    async def handle_text(
        self,
        customer_id: str,
        text: str,
        delivery: Delivery,
        *,
        channel: str = "terminal",
        display_name: str | None = None,
        message_id: str | None = None,
    ) -> TurnResult:
        """Answer one text message from a customer, then remember what matters.

        `message_id` is the channel's own id of the message (LINE's): stored with
        it, so that unsending it finds it, and so that handling the same message
        again after a crash does not store it twice.
        """
        return await self.handle_burst(
            customer_id,
            [Said(text, message_id)],
            delivery,
            channel=channel,
            display_name=display_name,
        )

    async def handle_burst(
        self,
        customer_id: str,
        said: Sequence[Said],
        delivery: Delivery,
        *,
        channel: str = "terminal",
        display_name: str | None = None,
    ) -> TurnResult:
        """Answer messages a customer sent in quick succession as one considered turn.

        Each message is stored, and remembered, on its own (unsending one forgets
        what came from it); the answer considers them together, as a person
        reading them would.
        """
        if not said:
            raise ValueError("a turn needs at least one message")
        store = self._store
        persona = self._persona()
        customer, is_new = await store.touch_customer(
            customer_id, channel=channel, display_name=display_name
        )
        text = "\n".join(part.text for part in said)
        inbound = await self._record_inbound(customer_id, said)
        history = await store.recent_messages(
            customer_id, self._history_limit, before_id=min(message_id for message_id, _ in inbound)
        )
        intent = classify(text)
        to_remember = [message_id for message_id, keep in inbound if keep]
        remember = bool(to_remember)

        await self.memory_writer.settle(customer_id)  # lists and forgets see every write
        control = await control_memory(store, persona, customer, intent, text)
        if control is not None:
            if not control.forgot_everything:
                for message in control.messages:
                    await store.record_message(customer_id, Role.TOMO, message)
            await delivery.deliver(customer_id, control.messages)
            return TurnResult(customer_id, control.messages, False, False)

        handoffs = self.handoffs
        if handoffs is not None:
            intercepted = await handoffs.intercept(customer, text, history, persona)
            if intercepted is not None:
                await self._say(customer_id, intercepted.messages, delivery)
                self._schedule(customer_id, to_remember)
                await handoffs.sync_customer(customer_id)  # the card, or the relay to its thread
                return TurnResult(customer_id, intercepted.messages, False, remember, True)

        name = customer.name
        if intent.kind is IntentKind.NAME_INTRODUCTION and intent.name:
            await store.set_preferred_name(customer_id, intent.name)
            name = intent.name

        memory = store.memory(customer_id)
        if intent.kind is IntentKind.GREETING:
            memories = await memory.recent(self._recall_k)
        else:
            memories = await recall_or_nothing(memory, intent.topic, self._recall_k)

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
        # tomo said it does not know (and that staff will check): a person takes over.
        handed: Intercepted | None = None
        if reply.unsure and handoffs is not None:
            handed = await handoffs.after_unsure(customer, text, history, persona)
        for message in reply.messages:
            await store.record_message(customer_id, Role.TOMO, message, unsure=reply.unsure)
        messages = reply.messages + (handed.messages if handed else ())
        if handed is not None:
            for message in handed.messages:
                await store.record_message(customer_id, Role.TOMO, message)
        await delivery.deliver(customer_id, messages)

        self._schedule(customer_id, to_remember)
        if handoffs is not None and handed is not None:
            await handoffs.sync_customer(customer_id)
        return TurnResult(customer_id, messages, reply.unsure, remember, handed is not None)

    async def apologize(
        self, customer_id: str, texts: Sequence[str], delivery: Delivery, *, channel: str
    ) -> None:
        """Handling what the customer said failed for good: say so honestly and hand over.

        The persona's short `llm_error` line (a person will answer) and a handoff
        as if tomo had been unsure — no customer is left in silence by a fault.
        """
        store = self._store
        persona = self._persona()
        customer, _ = await store.touch_customer(customer_id, channel=channel)
        text = "\n".join(texts)
        line = speak(persona, persona.lines.llm_error, seed=text, customer_name=customer.name)
        handed: Intercepted | None = None
        if self.handoffs is not None:
            history = await store.recent_messages(customer_id, self._history_limit)
            handed = await self.handoffs.after_unsure(customer, text, history, persona)
        messages = (line, *(handed.messages if handed else ()))
        for message in messages:
            await store.record_message(customer_id, Role.TOMO, message, unsure=True)
        await delivery.deliver(customer_id, messages)
        if self.handoffs is not None and handed is not None:
            await self.handoffs.sync_customer(customer_id)

    async def _record_inbound(
        self, customer_id: str, said: Sequence[Said]
    ) -> list[tuple[int, bool]]:
        """Store what the customer said, each message once however often it is handled.

        Returns each message's row id and whether it is worth remembering.
        """
        stored = []
        for part in said:
            remember = worth_remembering(part.text, classify(part.text))
            message = await self._store.record_message(
                customer_id,
                Role.CUSTOMER,
                part.text,
                memory_status=MemoryStatus.PENDING if remember else MemoryStatus.SKIPPED,
                line_message_id=part.message_id,
            )
            if message.id is None:  # pragma: no cover - the database sets it on insert
                raise RuntimeError("a stored message has no id")
            stored.append((message.id, message.memory_status is not MemoryStatus.SKIPPED))
        return stored

    def _schedule(self, customer_id: str, message_ids: Sequence[int]) -> None:
        for message_id in message_ids:
            self.memory_writer.schedule(customer_id, message_id)

    async def _say(self, customer_id: str, messages: Sequence[str], delivery: Delivery) -> None:
        """Record and deliver what tomo says (nothing at all when there is nothing to say)."""
        if not messages:
            return
        for message in messages:
            await self._store.record_message(customer_id, Role.TOMO, message)
        await delivery.deliver(customer_id, messages)
