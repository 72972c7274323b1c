"""What the staff member sees of a handoff: who, why, what was said, what tomo remembers.

Gathered from the store for the desk to lay out (`bot.handoff.HandoffCard`).
The memories shown are those most relevant to what the customer said last.
The suggested reply is the language model's draft when one was written for
this handoff (`bot/suggested_reply.py`), else the persona's template.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.escalation_policy import Priority, Reason
from bot.handoff import CardMessage, HandoffCard, StaffMember
from bot.handoff_words import persona_lines
from bot.memory_outage import recall_or_nothing
from bot.phrasing import speak
from memory.customer_memory import Recalled
from memory.handoffs import Handoff
from memory.models import Customer, Message, Role
from memory.store import MemoryStore
from persona.schema import Persona


def template_reply(persona: Persona, handoff: Handoff, customer_name: str | None) -> str:
    """The persona's template for a first staff reply (the same for one handoff)."""
    return speak(
        persona,
        persona_lines(persona, "staff_reply_suggestion"),
        seed=handoff.id,
        customer_name=customer_name,
    )


def suggested_reply(persona: Persona, handoff: Handoff, customer_name: str | None) -> str:
    """A first reply staff may send, in the persona's voice (the same for one handoff):
    the language model's draft when one was written, else the persona's template."""
    return handoff.suggested_reply or template_reply(persona, handoff, customer_name)


@dataclass(frozen=True)
class CardMaterial:
    """What the store knows that a card (and a drafted reply) is made from."""

    customer: Customer | None
    recent: tuple[Message, ...]  # the last messages, oldest first
    recalled: tuple[Recalled, ...]  # most relevant to what the customer said last first


async def gather_material(
    store: MemoryStore, handoff: Handoff, *, messages: int, memories: int
) -> CardMaterial:
    """Read the customer, their last messages and the memories that matter now."""
    customer = await store.customer(handoff.customer_id)
    recent = await store.recent_messages(handoff.customer_id, messages)
    memory = store.memory(handoff.customer_id)
    said = [m.text for m in recent if m.role is Role.CUSTOMER]
    recalled = (
        await recall_or_nothing(memory, said[-1], memories)
        if said
        else await memory.recent(memories)
    )
    return CardMaterial(customer, tuple(recent), tuple(recalled))


async def build_card(
    store: MemoryStore,
    persona: Persona,
    handoff: Handoff,
    *,
    now: datetime,
    staff_expected: str | None,
    messages: int,
    memories: int,
    material: CardMaterial | None = None,
) -> tuple[HandoffCard, int | None]:
    """The card for a handoff, and the newest message id it shows.

    `material`: what was already read for this card (else it is read now).
    """
    if material is None:
        material = await gather_material(store, handoff, messages=messages, memories=memories)
    customer, recent, recalled = material.customer, material.recent, material.recalled
    name = customer.name if customer else None
    card = HandoffCard(
        handoff_id=handoff.id,
        customer_id=handoff.customer_id,
        customer_name=name,
        channel=customer.channel if customer else "unknown",
        known_since=customer.created_at if customer else handoff.created_at,
        now=now,
        state=handoff.state,
        reasons=tuple(Reason(reason) for reason in handoff.reason_list),
        priority=Priority(handoff.priority),
        findings=tuple(line for line in handoff.findings.splitlines() if line),
        messages=tuple(CardMessage(m.role.value, m.text, m.created_at) for m in recent),
        memories=tuple(item.text for item in recalled),
        claimed_by=(
            StaffMember(handoff.claimed_by, handoff.claimed_by_name) if handoff.claimed_by else None
        ),
        closed_by=(
            StaffMember(handoff.closed_by, handoff.closed_by_name) if handoff.closed_by else None
        ),
        staff_expected=staff_expected,
        suggested_reply=suggested_reply(persona, handoff, name) if handoff.is_open else None,
    )
    newest = max((m.id for m in recent if m.id is not None), default=None)
    return card, newest
