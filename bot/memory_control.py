"""The customer's own control over their memory, in the conversation.

「私のこと、何を覚えてる？」 → a short, warm list; 「〇〇のことは忘れて」 → those
memories are forgotten and tomo confirms; 「全部忘れて」 → tomo asks first, and on
a yes forgets everything about them. These answers are the same whatever the
responder: a customer's control over their data never depends on a model.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.intents import Intent, IntentKind, confirmation
from bot.phrasing import speak
from memory.models import Customer
from memory.store import MemoryStore
from persona.schema import Persona

FORGET_ALL = "forget_all"
LISTED_MEMORIES = 5


@dataclass(frozen=True)
class ControlOutcome:
    messages: tuple[str, ...]
    forgot_everything: bool = False  # nothing of this turn may be recorded afterwards


async def control_memory(
    store: MemoryStore,
    persona: Persona,
    customer: Customer,
    intent: Intent,
    text: str,
) -> ControlOutcome | None:
    """Handle a memory request (or the answer to tomo's question); None if it is neither."""
    name = customer.name

    def say(
        alternatives: tuple[str, ...], memories: str = "", topic: str = "", count: int = 0
    ) -> tuple[str, ...]:
        line = speak(
            persona,
            alternatives,
            seed=f"{customer.id}:{text}",
            customer_name=name,
            memories=memories,
            topic=topic,
            count=count,
        )
        return (line,)

    lines = persona.lines
    memory = store.memory(customer.id)
    if customer.pending_action == FORGET_ALL:
        await store.set_pending_action(customer.id, None)
        answer = confirmation(text)
        if answer is True:
            await store.forget_customer(customer.id, actor=f"customer:{customer.id}")
            return ControlOutcome(say(lines.forgot_all), forgot_everything=True)
        if answer is False:
            return ControlOutcome(say(lines.forget_all_cancelled))
        # Neither yes nor no: the question lapses and the message is a new turn.

    match intent.kind:
        case IntentKind.MEMORY_LIST:
            recent = await memory.recent(LISTED_MEMORIES)
            if not recent:
                return ControlOutcome(say(lines.memory_list_empty))
            listing = "\n".join(f"・{item.text}" for item in reversed(recent))
            return ControlOutcome(say(lines.memory_list, memories=listing))
        case IntentKind.FORGET_TOPIC:
            matching = await memory.matching(intent.topic)
            if not matching:
                return ControlOutcome(say(lines.forgot_nothing, topic=intent.topic))
            count = await memory.forget([record.id for record in matching])
            await store.audit(
                actor=f"customer:{customer.id}",
                action="forget_topic",
                customer_id=customer.id,
                count=count,
                detail=f"memories={count}",
            )
            return ControlOutcome(say(lines.forgot_topic, topic=intent.topic, count=count))
        case IntentKind.FORGET_ALL:
            await store.set_pending_action(customer.id, FORGET_ALL)
            return ControlOutcome(say(lines.forget_all_confirm))
    return None
