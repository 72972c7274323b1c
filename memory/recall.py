"""How recalled memories are ranked: a pure function of the query and candidates.

Hybrid score = vector similarity (USE cosine) + a lexical signal + recency,
then context: a memory said right after a well-matching one (in the same
conversation) rises with it.

- Lexical terms work for Japanese without a tokenizer (character bigrams;
  Japanese has no spaces) and for English (words, stop words dropped, plural
  and -ing/-ed endings folded). A term counts by how rare it is among the
  customer's own memories (IDF), so 「です」 or a name in every line weighs little.
- Vector similarity alone misses exact names and rare words; terms alone miss
  paraphrase. USE is weak at matching a question to the statement that answers
  it: on LoCoMo (English, `tomo bench locomo`) cosine alone found 28% of the
  evidence turns in its top 10, Okapi BM25 41% (48% with stop words dropped
  and stems), this ranking 57%.
- Context: an answer is often spread over neighbouring lines (「来月京都に行きます」
  then 「母と一緒です」); a memory ranks at least at a share of the score of the
  lines just before it in the same conversation (memories less than an hour apart).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources

import numpy as np
import yaml
from numpy.typing import NDArray

# Tuned on bench/data/memory_ja.yaml (`tomo bench memory`, recall@5 95%, as
# vector similarity alone) and LoCoMo (`tomo bench locomo`, recall@10 57%); more
# weight on context found more on LoCoMo but lost Japanese answers. Recency
# mostly breaks ties between an old and a new statement of the same thing.
VECTOR_WEIGHT = 0.45
LEXICAL_WEIGHT = 0.50
RECENCY_WEIGHT = 0.05
RECENCY_HALF_LIFE_DAYS = 30.0
# A memory ranks at least at this share of the score of the memory said just
# before it (and two before) in the same conversation: what was said right
# after a good match is often the rest of the answer.
CONTEXT_WEIGHTS = (0.8, 0.6)
CONVERSATION_GAP = timedelta(hours=1)

_STOP_WORDS: frozenset[str] = frozenset(
    yaml.safe_load(
        resources.files("memory").joinpath("data", "english_stop_words.yaml").read_text("utf-8")
    )
)
# Plurals much as Porter's step 1a, then -ing and -ed; "ss" ends the folding ("class").
_SUFFIXES = (("sses", "ss"), ("ies", "y"), ("ss", "ss"), ("s", ""), ("ing", ""), ("ed", ""))

_NOT_CONTENT = re.compile(r"[\s\W_]+", re.UNICODE)
_ASCII_WORD = re.compile(r"[a-z0-9]+")


def normalise(text: str) -> str:
    """NFKC, lower case, punctuation and spaces removed."""
    return _NOT_CONTENT.sub("", _fold(text))


def _char_bigrams(run: str) -> set[str]:
    if len(run) < 2:
        return {run} if run else set()
    return {run[i : i + 2] for i in range(len(run) - 1)}


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def _bigrams_between_words(folded: str) -> set[str]:
    """Character bigrams of what is not Latin-script words (Japanese has no spaces)."""
    found: set[str] = set()
    for run in _NOT_CONTENT.split(_ASCII_WORD.sub(" ", folded)):
        found |= _char_bigrams(run)
    return found


def bigrams(text: str) -> set[str]:
    """Lexical terms: character bigrams of Japanese (no spaces to split on), words of ASCII.

    「猫の名前」 → {猫の, の名, 名前}; "Melanie's pottery class" → {melanie, s, pottery, class}.
    """
    folded = _fold(text)
    return set(_ASCII_WORD.findall(folded)) | _bigrams_between_words(folded)


def _stem(word: str) -> str:
    """Fold plural and -ing/-ed endings ("paintings" → "paint"), keeping 3+ letters."""
    for _ in range(2):  # "paintings": the plural, then the -ing
        for suffix, replacement in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                if suffix == replacement:
                    return word
                word = word[: len(word) - len(suffix)] + replacement
                break
        else:
            break
    return word


def english_words(text: str) -> list[str]:
    """The Latin-script words of a text, stop words dropped, stemmed, in order."""
    return _english_words(_fold(text))


def _english_words(folded: str) -> list[str]:
    return [_stem(word) for word in _ASCII_WORD.findall(folded) if word not in _STOP_WORDS]


def terms(text: str) -> set[str]:
    """Ranking terms: Japanese character bigrams; English words without stop words, stemmed.

    "What did Melanie paint?" → {melanie, paint}; 「猫の名前」 → {猫の, の名, 名前}.
    """
    folded = _fold(text)
    return set(_english_words(folded)) | _bigrams_between_words(folded)


def lexical_scores(query: set[str], documents: Sequence[set[str]]) -> list[float]:
    """How much of the query each document holds (0…1), each term weighted by its rarity.

    The weight is Okapi's IDF over these documents (the customer's own
    memories): a term in every memory says little about which one is meant.
    """
    count = len(documents)
    frequency = {term: sum(term in document for document in documents) for term in query}
    weight = {
        term: math.log(1 + (count - seen + 0.5) / (seen + 0.5)) for term, seen in frequency.items()
    }
    total = sum(weight.values())
    if not total:
        return [0.0] * count
    return [sum(weight[term] for term in query & document) / total for document in documents]


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


def _with_context(scores: NDArray[np.float64], times: Sequence[datetime]) -> NDArray[np.float64]:
    """Each score raised to a share of the scores just before it in the same conversation.

    Scores and times are in time order. Only what follows a match rises: an
    answer follows its question, 「母と一緒です」 follows 「来月京都に行きます」.
    (Lifting what came before too found more on LoCoMo but pushed answers out
    of the top 5 on the Japanese set.)
    """
    conversation = np.zeros(len(times), dtype=np.int64)
    for index in range(1, len(times)):
        gap = times[index] - times[index - 1]
        conversation[index] = conversation[index - 1] + (gap > CONVERSATION_GAP)
    result = scores.copy()
    for distance, weight in enumerate(CONTEXT_WEIGHTS, start=1):
        if distance >= len(scores):
            break
        same = conversation[distance:] == conversation[:-distance]
        before = np.where(same, scores[:-distance], 0.0)  # the memory `distance` lines earlier
        result[distance:] = np.maximum(result[distance:], weight * before)
    return result


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
    ordered = sorted(candidates, key=lambda candidate: candidate.created_at)
    matrix = np.stack([candidate.vector for candidate in ordered])
    vector_scores = np.maximum(matrix @ query_vector, 0.0).astype(np.float64)
    lexical = np.asarray(lexical_scores(terms(query), [terms(c.text) for c in ordered]))
    recent = np.asarray([recency(candidate.created_at, now) for candidate in ordered])
    own = VECTOR_WEIGHT * vector_scores + LEXICAL_WEIGHT * lexical + RECENCY_WEIGHT * recent
    total = _with_context(own, [candidate.created_at for candidate in ordered])
    scored = [
        Scored(
            candidate.memory_id,
            float(total[index]),
            float(vector_scores[index]),
            float(lexical[index]),
            float(recent[index]),
        )
        for index, candidate in enumerate(ordered)
    ]
    scored.sort(key=lambda item: item.score, reverse=True)
    return scored[:k]
