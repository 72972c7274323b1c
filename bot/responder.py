"""What a responder is given and what it returns, and the Protocol both kinds implement.

Two responders exist: the built-in offline one (no model) and one over any
LangChain chat model. The turn does not care which.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.intents import Intent
from memory.customer_memory import Recalled
from memory.models import Message
from persona.schema import Persona

LINE_MESSAGES_PER_CALL = 5


@dataclass(frozen=True)
class TurnContext:
    """Everything a responder may use to answer one customer message."""

    persona: Persona
    customer_id: str
    customer_name: str | None
    returning: bool  # the customer talked with tomo before this message
    text: str
    intent: Intent
    memories: Sequence[Recalled]
    history: Sequence[Message]


@dataclass(frozen=True)
class Reply:
    """The messages to send, and whether tomo was unsure (a person should look)."""

    messages: tuple[str, ...]
    unsure: bool = False

    def __post_init__(self) -> None:
        if not self.messages or not all(m.strip() for m in self.messages):
            raise ValueError("a reply needs at least one non-empty message")


class Responder(Protocol):
    """Makes the reply for one turn."""

    async def respond(self, context: TurnContext) -> Reply: ...
