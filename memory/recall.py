"""How recalled memories are ranked: a pure function of the query and candidates.

Hybrid score = vector similarity (USE cosine) + a lexical signal that works for
Japanese without a tokenizer (character bigrams; Japanese has no spaces) +
recency. Vector similarity alone misses exact names and rare words; bigrams
alone miss paraphrase.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

# Tuned on bench/data/memory_ja.yaml (`tomo bench memory`): with the vector weight
# fixed, recall@5 plateaus for lexical/vector 0.2–0.8 and recency/vector
# 0.05–0.1; these sit inside it. Recency mostly breaks ties between an old and
# a new statement of the same thing.
VECTOR_WEIGHT = 0.65
LEXICAL_WEIGHT = 0.30
RECENCY_WEIGHT = 0.05
RECENCY_HALF_LIFE_DAYS = 30.0

_NOT_CONTENT = re.compile(r"[\s\W_]+", re.UNICODE)
_ASCII_WORD = re.compile(r"[a-z0-9]+")


def normalise(text: str) -> str:
    """NFKC, lower case, punctuation and spaces removed."""
    return _NOT_CONTENT.sub("", unicodedata.normalize("NFKC", text).lower())


def _char_bigrams(run: str) -> set[str]:
    if len(run) < 2:
        return {run} if run else set()
    return {run[i : i + 2] for i in range(len(run) - 1)}


def bigrams(text: str) -> set[str]:
    """Lexical terms: character bigrams of Japanese (no spaces to split on), words of ASCII.

    「猫の名前」 → {猫の, の名, 名前}; "Melanie's pottery class" → {melanie, s, pottery, class}.
    """
    folded = unicodedata.normalize("NFKC", text).lower()
    terms = set(_ASCII_WORD.findall(folded))
    for run in _NOT_CONTENT.split(_ASCII_WORD.sub(" ", folded)):
        terms |= _char_bigrams(run)
    return terms


def lexical_overlap(query: set[str], memory: set[str]) -> float:
    """Share of the query's bigrams found in the memory (0…1)."""
    if not query or not memory:
        return 0.0
    return len(query & memory) / len(query)


def recency(created_at: datetime, now: datetime) -> float:
    """1.0 for now, 0.5 after one half-life, towards 0 for old memories."""
    age_days = max(0.0, (now - created_at).total_seconds() / 86400.0)
    return math.pow(0.5, age_days / RECENCY_HALF_LIFE_DAYS)


@dataclass(frozen=True)
class Candidate:
    """A memory of the customer being scored."""

    memory_id: str
    text: str
    created_at: datetime
    vector: NDArray[np.float32]


@dataclass(frozen=True)
class Scored:
    memory_id: str
    score: float
    vector_score: float
    lexical_score: float
    recency_score: float


def rank(
    query: str,
    query_vector: NDArray[np.float32],
    candidates: Sequence[Candidate],
    now: datetime,
    k: int,
) -> list[Scored]:
    """The top k candidates for the query, best first."""
    if not candidates or k <= 0:
        return []
    matrix = np.stack([candidate.vector for candidate in candidates])
    cosines = matrix @ query_vector
    query_grams = bigrams(query)
    scored = []
    for candidate, cosine in zip(candidates, cosines, strict=True):
        vector_score = max(0.0, float(cosine))
        lexical_score = lexical_overlap(query_grams, bigrams(candidate.text))
        recency_score = recency(candidate.created_at, now)
        score = (
            VECTOR_WEIGHT * vector_score
            + LEXICAL_WEIGHT * lexical_score
            + RECENCY_WEIGHT * recency_score
        )
        scored.append(
            Scored(candidate.memory_id, score, vector_score, lexical_score, recency_score)
        )
    scored.sort(key=lambda item: item.score, reverse=True)
    return scored[:k]
