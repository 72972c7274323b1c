"""The built-in offline responder: no model, no network, no invented facts.

It answers from the persona's FAQ by embedding similarity plus character
bigrams, handles greetings, thanks, farewells and small talk with the
persona's own lines, brings up what the customer told it, and when it does
not know, says so and marks the turn unsure.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from bot.intents import IntentKind
from bot.phrasing import speak
from bot.responder import Reply, TurnContext
from memory.customer_memory import Recalled
from memory.embedding import SentenceEncoder
from memory.recall import bigrams, lexical_overlap
from persona.schema import FaqEntry, Persona

# Bigrams of polite endings and question forms: every FAQ question has them, so
# they say nothing about which question it is (「男性でも使えますか？」 is not
# about sensitive skin just because 「敏感肌でも使えますか？」 ends the same way).
FUNCTION_BIGRAMS = frozenset(
    [
        "です",
        "すか",
        "ます",
        "まし",
        "した",
        "ませ",
        "せん",
        "でき",
        "きま",
        "きる",
        "でし",
        "しょ",
        "ょう",
        "うか",
        "くだ",
        "ださ",
        "さい",
        "ても",
        "でも",
        "えま",
        "えて",
        "いま",
        "てい",
        "てる",
        "って",
        "けど",
        "のか",
        "かな",
        "なの",
        "んで",
        "です",
        "えば",
    ]
)


def content_bigrams(text: str) -> set[str]:
    """Character bigrams without those of polite endings and question forms."""
    return bigrams(text) - FUNCTION_BIGRAMS


# Thresholds measured on the demo brand's FAQ (see tests/bot/test_offline.py).
FAQ_MATCH_FOR_QUESTION = 0.55
FAQ_MATCH_FOR_STATEMENT = 0.62  # a statement must match more clearly to be taken as asking
MEMORY_MATCH = 0.40


@dataclass(frozen=True)
class FaqMatch:
    entry: FaqEntry
    score: float


class FaqIndex:
    """The persona's FAQ, embedded once: every question and its variants."""

    def __init__(self, faq: Sequence[FaqEntry], encoder: SentenceEncoder) -> None:
        self._owners: list[int] = []
        texts: list[str] = []
        for index, entry in enumerate(faq):
            for text in (entry.question, *entry.variants):
                self._owners.append(index)
                texts.append(text)
        self._faq = list(faq)
        self._texts = texts
        self._grams = [content_bigrams(text) for text in texts]
        self._vectors: NDArray[np.float32] = encoder.encode(texts)

    def best(self, query: str, query_vector: NDArray[np.float32]) -> FaqMatch | None:
        if not self._faq:
            return None
        cosines = self._vectors @ query_vector
        grams = content_bigrams(query)
        scores = [
            0.6 * max(0.0, float(cosine)) + 0.4 * lexical_overlap(grams, text_grams)
            for cosine, text_grams in zip(cosines, self._grams, strict=True)
        ]
        best = int(np.argmax(scores))
        return FaqMatch(self._faq[self._owners[best]], scores[best])


class OfflineResponder:
    """Answers in the persona's voice without a language model."""

    def __init__(self, encoder: SentenceEncoder) -> None:
        self._encoder = encoder
        self._indexes: dict[tuple[FaqEntry, ...], FaqIndex] = {}

    def _index(self, persona: Persona) -> FaqIndex:
        index = self._indexes.get(persona.faq)
        if index is None:
            index = self._indexes[persona.faq] = FaqIndex(persona.faq, self._encoder)
        return index

    async def respond(self, context: TurnContext) -> Reply:
        persona = context.persona
        lines = persona.lines
        intent = context.intent
        seed = f"{context.customer_id}:{context.text}:{len(context.history)}"

        def say(alternatives: Sequence[str], memory: str = "", answer: str = "") -> str:
            return speak(
                persona,
                alternatives,
                seed=seed,
                customer_name=context.customer_name,
                memory=memory,
                answer=answer,
            )

        opening: list[str] = []
        if intent.greeted and intent.kind is not IntentKind.GREETING:
            opening.append(say(lines.greeting_returning if context.returning else lines.greeting))

        match intent.kind:
            case IntentKind.GREETING:
                if not context.returning:
                    return Reply((say(lines.greeting),))
                follow_up = _latest_shareable(context.memories)
                if follow_up is None or not lines.follow_up:
                    return Reply((say(lines.greeting_returning),))
                return Reply(
                    (say(lines.greeting_returning), say(lines.follow_up, memory=follow_up.text))
                )
            case IntentKind.THANKS:
                return Reply((*opening, say(lines.thanks)))
            case IntentKind.FAREWELL:
                return Reply((*opening, say(lines.farewell)))
            case IntentKind.NAME_INTRODUCTION:
                return Reply((*opening, say(lines.name_learned or lines.acknowledge)))
            case IntentKind.MEMORY_QUESTION:
                memory = _relevant(context.memories)
                if memory is None:
                    return Reply((*opening, say(lines.not_remembered)))
                return Reply((*opening, say(lines.remembered, memory=memory.text)))
            case IntentKind.QUESTION | IntentKind.STATEMENT | IntentKind.SMALL_TALK:
                # 「定期便を休みたい」 reads like small talk but asks the FAQ: FAQ first.
                match = await self._faq(persona, intent.topic)
                threshold = (
                    FAQ_MATCH_FOR_QUESTION
                    if intent.kind is IntentKind.QUESTION
                    else FAQ_MATCH_FOR_STATEMENT
                )
                if match is not None and match.score >= threshold:
                    return Reply((*opening, say(lines.faq, answer=match.entry.answer)))
                if intent.kind is IntentKind.QUESTION:
                    return Reply((*opening, say(lines.unsure)), unsure=True)
                if intent.kind is IntentKind.SMALL_TALK:
                    return Reply((*opening, say(lines.small_talk)))
                return Reply((*opening, say(lines.acknowledge)))
        raise AssertionError(f"unhandled intent {intent.kind}")  # pragma: no cover

    async def _faq(self, persona: Persona, text: str) -> FaqMatch | None:
        # Embedding is CPU work: off the event loop, or webhooks wait behind it.
        index = await asyncio.to_thread(self._index, persona)
        vector = await asyncio.to_thread(self._encoder.encode, [text])
        return index.best(text, vector[0])


def _relevant(memories: Sequence[Recalled]) -> Recalled | None:
    """The best recalled memory if it really answers the question."""
    if not memories:
        return None
    best = memories[0]
    return best if best.score >= MEMORY_MATCH else None


def _latest_shareable(memories: Sequence[Recalled]) -> Recalled | None:
    """The newest memory that is fine to bring up unprompted (nothing sensitive)."""
    shareable = [memory for memory in memories if not memory.sensitivity]
    return max(shareable, key=lambda memory: memory.created_at) if shareable else None
