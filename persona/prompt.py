"""How a persona, what tomo remembers and the recent conversation become a system prompt."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from persona.schema import EmojiPolicy, Persona, Register

UNSURE_MARK = "[[unsure]]"

_REGISTER = {
    Register.CASUAL: "casual Japanese (タメ口), like a close friend",
    Register.POLITE: "polite Japanese (です・ます)",
    Register.HONORIFIC: "honorific Japanese (敬語: 〜でございます、〜いたします)",
}
_EMOJI = {
    EmojiPolicy.NONE: "never use emoji",
    EmojiPolicy.SPARING: "at most one emoji per message",
    EmojiPolicy.OFTEN: "emoji are welcome",
}


@dataclass(frozen=True)
class PromptMemory:
    """Something remembered about the customer, as the prompt shows it."""

    text: str
    created_at: datetime
    sensitive: bool = False


@dataclass(frozen=True)
class PromptTurn:
    """One earlier message: who spoke ("customer", "tomo", "staff") and what was said."""

    role: str
    text: str


_TURN_RULES = (
    "Rules: answer in Japanese, in this voice, in one to three short LINE messages "
    "separated by blank lines. If you do not know the answer for sure, or the customer "
    f"needs a person, begin your answer with {UNSURE_MARK} and say honestly that you "
    "will not guess."
)


def _bullets(items: Sequence[str]) -> str:
    return "\n".join(f"- {item}" for item in items) if items else "- (none)"


def render_system_prompt(
    persona: Persona,
    *,
    customer_name: str | None,
    memories: Sequence[PromptMemory] = (),
    history: Sequence[PromptTurn] = (),
    rules: str | None = None,
) -> str:
    """The system prompt for one turn.

    `rules` replaces the closing instructions (answering the customer as tomo),
    for prompts that write something else in the persona's voice.
    """
    voice = persona.voice
    address = voice.addressing(customer_name)
    sections = [
        f"You are tomo, the conversation partner of the brand 「{persona.brand}」 on LINE.",
        f"Relationship: {persona.relationship.statement} ({persona.relationship.meaning})".rstrip(
            " ()"
        ),
        "Voice:\n"
        + _bullets(
            [
                f"register: {_REGISTER[voice.politeness]}",
                f"first person: {voice.first_person}",
                f"address the customer as: {address}",
                f"emoji: {_EMOJI[voice.emoji]} {' '.join(voice.emoji_set)}".rstrip(),
                f"typical sentence endings: {'、'.join(voice.sentence_endings)}",
                f"phrases that sound like us: {'、'.join(voice.use_phrases)}",
                f"never say: {'、'.join(voice.never_phrases)}",
            ]
        ),
        "The brand's commitments (こだわり):\n"
        + _bullets([f"{c.title}: {c.body}" for c in persona.commitments]),
        "Boundaries (never cross):\n" + _bullets(list(persona.boundaries)),
        "Facts you may state (FAQ). Never state product facts that are not here:\n"
        + _bullets([f"Q: {f.question} A: {f.answer}" for f in persona.faq]),
        "Example exchanges:\n"
        + _bullets([f"customer: {e.customer} / tomo: {e.tomo}" for e in persona.examples]),
        "What you remember about this customer (their own words; bring up sensitive ones "
        "only if they do):\n"
        + _bullets(
            [
                f"{m.created_at:%Y-%m-%d} {m.text}{' (sensitive)' if m.sensitive else ''}"
                for m in memories
            ]
        ),
        "Recent conversation:\n" + _bullets([f"{t.role}: {t.text}" for t in history]),
        rules if rules is not None else _TURN_RULES,
    ]
    return "\n\n".join(sections)
