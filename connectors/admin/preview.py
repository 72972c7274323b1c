"""A preview: the reply tomo would give, sent nowhere and remembered nowhere.

The turn (bot/turn.py) records messages, sets names and schedules memory
writes; a preview must do none of that. So it builds the TurnContext itself —
the same intent classification, the same recall for a named customer — and asks
the runtime's responder. Nothing is written to any store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.intents import IntentKind, classify
from bot.responder import Responder, TurnContext
from memory.customer_memory import Recalled
from memory.models import Message
from memory.store import MemoryStore
from persona.schema import Persona
from persona.tone import Finding, check_tone

# The customer id a preview without a customer speaks to (never stored).
PREVIEW_CUSTOMER = "preview"
RECALL_K = 5
HISTORY_LIMIT = 12

# Asking tomo to list or forget memories changes the customer's data: a preview
# does not run it.
MEMORY_CONTROL = frozenset({IntentKind.MEMORY_LIST, IntentKind.FORGET_TOPIC, IntentKind.FORGET_ALL})


class UnknownCustomer(LookupError):
    """A preview named a customer tomo does not know."""


@dataclass(frozen=True)
class Preview:
    """What tomo would say, whether it was unsure, and the reply's tone findings."""

    messages: tuple[str, ...]
    unsure: bool
    findings: tuple[Finding, ...] = ()
    memory_control: bool = False  # the message asks tomo to list/forget memories
    recalled: Sequence[Recalled] = field(default=())

    @property
    def text(self) -> str:
        return "\n\n".join(self.messages)


async def preview_reply(
    store: MemoryStore,
    responder: Responder,
    persona: Persona,
    text: str,
    customer_id: str | None = None,
) -> Preview:
    """The reply to `text` under `persona`, as `customer_id` (or nobody) would get it."""
    intent = classify(text)
    if intent.kind in MEMORY_CONTROL:
        return Preview((), False, memory_control=True)
    name: str | None = None
    history: Sequence[Message] = ()
    memories: Sequence[Recalled] = ()
    if customer_id:
        customer = await store.customer(customer_id)
        if customer is None:
            raise UnknownCustomer(customer_id)
        name = customer.name
        history = await store.recent_messages(customer_id, HISTORY_LIMIT)
        memory = store.memory(customer_id)
        memories = await (
            memory.recent(RECALL_K)
            if intent.kind is IntentKind.GREETING
            else memory.recall(intent.topic, RECALL_K)
        )
    if intent.kind is IntentKind.NAME_INTRODUCTION and intent.name:
        name = intent.name
    reply = await responder.respond(
        TurnContext(
            persona=persona,
            customer_id=customer_id or PREVIEW_CUSTOMER,
            customer_name=name,
            returning=bool(history),
            text=text,
            intent=intent,
            memories=memories,
            history=history,
        )
    )
    findings = tuple(check_tone("\n\n".join(reply.messages), persona))
    return Preview(reply.messages, reply.unsure, findings, recalled=memories)


async def reply_messages(responder: Responder, persona: Persona, text: str) -> Sequence[str]:
    """A reply to a test message for the regression replay (no customer, no memory).

    A message that asks tomo to list or forget memories gets no reply here (empty).
    """
    intent = classify(text)
    if intent.kind in MEMORY_CONTROL:
        return ()
    reply = await responder.respond(
        TurnContext(
            persona=persona,
            customer_id=PREVIEW_CUSTOMER,
            customer_name=None,
            returning=False,
            text=text,
            intent=intent,
            memories=(),
            history=(),
        )
    )
    return reply.messages
