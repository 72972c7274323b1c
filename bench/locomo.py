"""Recall on LoCoMo (a public long-conversation memory benchmark, English).

`tomo bench locomo PATH` reads `locomo10.json` from a path you give (nothing is
downloaded), stores each conversation's turns as one customer's memories dated
by session, and for every question with evidence measures how many evidence
turns come back in the top k — for tomo's hybrid recall and, beside it, USE
cosine alone and Okapi BM25 alone (over plain words, and over the words tomo
ranks by: stop words dropped, stemmed). Adversarial questions (category 5) have no
answer in the conversation and are left out, as is usual for this benchmark.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from memory.embedding import SentenceEncoder
from memory.recall import Candidate, english_words, rank

_WORD = re.compile(r"[a-z0-9]+")
ADVERSARIAL = 5


@dataclass(frozen=True)
class Turn:
    dia_id: str
    text: str
    when: datetime


@dataclass(frozen=True)
class Question:
    question: str
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class LocomoResult:
    conversations: int
    questions: int
    evidence: int
    k: int
    tomo: float
    vector_only: float
    bm25_only: float
    bm25_stemmed: float


def _session_time(raw: str | None, fallback_days: int) -> datetime:
    if raw:
        for pattern in ("%I:%M %p on %d %B, %Y", "%I:%M %p on %d %b, %Y"):
            try:
                return datetime.strptime(raw.strip(), pattern).replace(tzinfo=UTC)
            except ValueError:
                continue
    return datetime(2023, 1, 1, tzinfo=UTC) + timedelta(days=fallback_days)


def load(path: Path) -> list[tuple[list[Turn], list[Question]]]:
    """Conversations (turns with their session time) and their answerable questions."""
    samples: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    loaded = []
    for sample in samples:
        conversation = sample["conversation"]
        turns: list[Turn] = []
        number = 1
        while f"session_{number}" in conversation:
            when = _session_time(conversation.get(f"session_{number}_date_time"), number)
            for turn in conversation[f"session_{number}"]:
                text = f"{turn['speaker']}: {turn['text']}"
                turns.append(Turn(turn["dia_id"], text, when))
            number += 1
        questions = [
            Question(str(qa["question"]), tuple(qa["evidence"]))
            for qa in sample["qa"]
            if qa.get("category") != ADVERSARIAL and qa.get("evidence")
        ]
        loaded.append((turns, questions))
    return loaded


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class Bm25:
    """Okapi BM25 over one conversation's turns (k1 1.5, b 0.75)."""

    def __init__(
        self,
        documents: Sequence[str],
        k1: float = 1.5,
        b: float = 0.75,
        words: Callable[[str], list[str]] = _words,
    ) -> None:
        self._words = words
        self._docs = [Counter(words(doc)) for doc in documents]
        self._lengths = [sum(doc.values()) for doc in self._docs]
        self._average = sum(self._lengths) / max(1, len(self._lengths))
        frequency: Counter[str] = Counter()
        for doc in self._docs:
            frequency.update(doc.keys())
        count = len(self._docs)
        self._idf = {
            term: math.log(1 + (count - seen + 0.5) / (seen + 0.5))
            for term, seen in frequency.items()
        }
        self._k1, self._b = k1, b

    def scores(self, query: str) -> list[float]:
        terms = self._words(query)
        result = []
        for doc, length in zip(self._docs, self._lengths, strict=True):
            score = 0.0
            for term in terms:
                tf = doc.get(term, 0)
                if tf:
                    norm = tf + self._k1 * (1 - self._b + self._b * length / self._average)
                    score += self._idf.get(term, 0.0) * tf * (self._k1 + 1) / norm
            result.append(score)
        return result


def evaluate(
    conversations: Sequence[tuple[list[Turn], list[Question]]],
    encoder: SentenceEncoder,
    k: int = 10,
) -> LocomoResult:
    found = {"tomo": 0, "vector": 0, "bm25": 0, "bm25_stemmed": 0}
    evidence = questions_count = 0
    for turns, questions in conversations:
        vectors = encoder.encode([turn.text for turn in turns])
        candidates = [
            Candidate(turn.dia_id, turn.text, turn.when, vector)
            for turn, vector in zip(turns, vectors, strict=True)
        ]
        bm25 = Bm25([turn.text for turn in turns])
        bm25_stemmed = Bm25([turn.text for turn in turns], words=english_words)
        now = max(turn.when for turn in turns)
        query_vectors = encoder.encode([q.question for q in questions])
        for question, query_vector in zip(questions, query_vectors, strict=True):
            tomo = {
                item.memory_id for item in rank(question.question, query_vector, candidates, now, k)
            }
            cosine = vectors @ query_vector
            vector_top = {turns[i].dia_id for i in np.argsort(-cosine)[:k]}
            bm25_scores = np.asarray(bm25.scores(question.question))
            bm25_top = {turns[i].dia_id for i in np.argsort(-bm25_scores, kind="stable")[:k]}
            stemmed_scores = np.asarray(bm25_stemmed.scores(question.question))
            stemmed_top = {turns[i].dia_id for i in np.argsort(-stemmed_scores, kind="stable")[:k]}
            questions_count += 1
            for dia_id in question.evidence:
                evidence += 1
                found["tomo"] += dia_id in tomo
                found["vector"] += dia_id in vector_top
                found["bm25"] += dia_id in bm25_top
                found["bm25_stemmed"] += dia_id in stemmed_top
    total = max(1, evidence)
    return LocomoResult(
        conversations=len(conversations),
        questions=questions_count,
        evidence=evidence,
        k=k,
        tomo=found["tomo"] / total,
        vector_only=found["vector"] / total,
        bm25_only=found["bm25"] / total,
        bm25_stemmed=found["bm25_stemmed"] / total,
    )
