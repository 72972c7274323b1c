"""Measuring a message for the escalation policy, then deciding.

The decision (`bot.escalation.decide`) is pure; this is the part with models:
the sentence encoder compares the message's clauses with the policy's example
sentences, and the emotion lexicon reads its emotion words. With a language
model configured, its judgment is merged in (it can add reasons, never clear a
protected one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from langchain_core.language_models import BaseChatModel
from numpy.typing import NDArray

from bot.emotion import EmotionReader
from bot.escalation import Decision, EscalationContext, Evidence, Similarity, decide, merge
from bot.escalation_lexicon import matchable_clauses, prepare
from bot.escalation_llm import judge_with_llm
from bot.escalation_policy import EscalationPolicy
from memory.embedding import SentenceEncoder


@dataclass(frozen=True)
class _Examples:
    owners: tuple[str, ...]  # topic name of each example
    texts: tuple[str, ...]
    vectors: NDArray[np.float32]


class EscalationChecker:
    """Runs the escalation policy on customer messages."""

    def __init__(
        self,
        policy: EscalationPolicy,
        encoder: SentenceEncoder | None = None,
        emotions: EmotionReader | None = None,
        model: BaseChatModel | None = None,
        *,
        llm_timeout: float = 30.0,
    ) -> None:
        self.policy = policy
        self._encoder = encoder
        self._emotions = emotions
        self._model = model
        self._llm_timeout = llm_timeout
        self._examples: _Examples | None = None

    def _example_vectors(self, encoder: SentenceEncoder) -> _Examples:
        if self._examples is None:
            pairs = [(t.name, example) for t in self.policy.topics for example in t.examples]
            self._examples = _Examples(
                tuple(name for name, _ in pairs),
                tuple(text for _, text in pairs),
                encoder.encode([text for _, text in pairs]),
            )
        return self._examples

    def evidence(self, message: str) -> Evidence:
        """Similarity to each topic's examples and the message's emotion words."""
        similarities: dict[str, Similarity] = {}
        clauses = matchable_clauses(message)
        if self._encoder is not None and clauses:
            examples = self._example_vectors(self._encoder)
            if examples.texts:
                scores = examples.vectors @ self._encoder.encode(clauses).T  # examples × clauses
                best_per_example = scores.max(axis=1)
                for index, score in enumerate(best_per_example):
                    name = examples.owners[index]
                    if name not in similarities or score > similarities[name].score:
                        similarities[name] = Similarity(float(score), examples.texts[index])
        emotions = self._emotions.read(prepare(message).text) if self._emotions else {}
        return Evidence(similarities, emotions)

    def decide(self, message: str, context: EscalationContext) -> Decision:
        """The rules' decision, offline."""
        return decide(message, context, self.policy, self.evidence(message))

    async def check(self, message: str, context: EscalationContext) -> Decision:
        """The rules' decision, with the language model's judgment merged in when configured."""
        rule = self.decide(message, context)
        if self._model is None:
            return rule
        judgment = await judge_with_llm(
            self._model, message, context, self.policy, time_limit=self._llm_timeout
        )
        return merge(rule, judgment, self.policy)
