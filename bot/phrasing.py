"""Speaking a persona's lines: choosing an alternative and filling its placeholders."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from persona.schema import Persona


def pick(alternatives: Sequence[str], seed: str) -> str:
    """One of the alternatives, chosen stably from a seed (same input, same line)."""
    digest = hashlib.blake2b(seed.encode("utf-8"), digest_size=4).digest()
    return alternatives[int.from_bytes(digest, "big") % len(alternatives)]


def speak(
    persona: Persona,
    alternatives: Sequence[str],
    *,
    seed: str,
    customer_name: str | None,
    memory: str = "",
    answer: str = "",
    memories: str = "",
    topic: str = "",
    count: int = 0,
    when: str = "",
    what: str = "",
) -> str:
    """A line in the persona's voice with its placeholders filled in.

    {you} {me} {brand} always; {memory} {answer} {memories} {topic} {count} {when} {what}
    where given.
    """
    return pick(alternatives, seed).format(
        you=persona.voice.addressing(customer_name),
        me=persona.voice.first_person,
        brand=persona.brand,
        memory=memory,
        answer=answer,
        memories=memories,
        topic=topic,
        count=count,
        when=when,
        what=what,
    )
