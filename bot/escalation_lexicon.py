"""The Japanese language rules under the escalation policy: pure text functions.

Curated patterns (in `bot/data/escalation_lexicon.yaml`) for what no manager's
policy may switch off — a message that says someone may be at risk — and for
what keeps keyword and example matching honest in Japanese: hyperbole
(「死ぬほど好き」), negation (「返品じゃなくて」「返金は大丈夫」「怒ってない」),
「AだけどB」 where B is the point, and going round in circles with tomo.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

MASK = "_"  # replaces hyperbole; never part of a keyword
MIN_CLAUSE = 4  # shorter clauses (「え」「はい」) match every example a little
_CLAUSE_SPLIT = re.compile(r"[。.!?\n、,]+")


@dataclass(frozen=True)
class _Lexicon:
    crisis: tuple[re.Pattern[str], ...]
    hyperbole: tuple[re.Pattern[str], ...]
    negation_after: tuple[re.Pattern[str], ...]
    negated_clause: tuple[re.Pattern[str], ...]
    contrast: re.Pattern[str]
    good_news: tuple[re.Pattern[str], ...]
    positive_emotions: frozenset[str]
    repeat: re.Pattern[str]
    lost: re.Pattern[str]
    closing: re.Pattern[str]


def _compile(patterns: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(pattern, re.IGNORECASE) for pattern in patterns)


@functools.cache
def lexicon() -> _Lexicon:
    raw: Any = yaml.safe_load(
        resources.files("bot")
        .joinpath("data", "escalation_lexicon.yaml")
        .read_text(encoding="utf-8")
    )
    confusion = raw["confusion"]
    return _Lexicon(
        crisis=_compile(raw["crisis"]),
        hyperbole=_compile(raw["hyperbole"]),
        negation_after=_compile(raw["negation_after"]),
        negated_clause=_compile(raw["negated_clause"]),
        contrast=re.compile(raw["contrast"]),
        good_news=_compile(raw["good_news"]),
        positive_emotions=frozenset(raw["positive_emotions"]),
        repeat=re.compile(confusion["repeat"], re.IGNORECASE),
        lost=re.compile(confusion["lost"], re.IGNORECASE),
        closing=re.compile(confusion["closing"], re.IGNORECASE),
    )


def normalise(text: str) -> str:
    """NFKC (full-width ？ → ?, full-width digits → ASCII), trimmed."""
    return unicodedata.normalize("NFKC", text).strip()


@dataclass(frozen=True)
class Prepared:
    """A message ready for matching.

    `text` is normalised with hyperbole masked out. `aside_end`: in 「AだけどB」
    where B is good news, A ends there; what is found in A (other than crisis
    and warmth) is only an aside and does not count. 0 when there is no aside.
    """

    text: str
    aside_end: int = 0

    def counts(self, start: int) -> bool:
        """Whether a finding at this position is part of the point of the message."""
        return start >= self.aside_end


def _masked(text: str) -> str:
    for pattern in lexicon().hyperbole:
        text = pattern.sub(lambda match: MASK * len(match.group(0)), text)
    return text


def has_good_news(text: str) -> bool:
    return any(pattern.search(text) for pattern in lexicon().good_news)


def prepare(message: str) -> Prepared:
    """Normalise, mask hyperbole, and find where an aside before good news ends."""
    text = _masked(normalise(message))
    aside_end = 0
    for match in lexicon().contrast.finditer(text):
        if has_good_news(text[match.end() :]):
            aside_end = match.end()
    return Prepared(text, aside_end)


def crisis_hits(prepared: Prepared) -> tuple[str, ...]:
    """What in the message says someone may be at risk (never cancelled by an aside)."""
    return tuple(
        match.group(0) for pattern in lexicon().crisis for match in pattern.finditer(prepared.text)
    )


def is_negated(text: str, end: int) -> bool:
    """Whether what ends at `end` is negated right after it (「返金は大丈夫」)."""
    rest = text[end:]
    return any(pattern.match(rest) for pattern in lexicon().negation_after)


@dataclass(frozen=True)
class Hit:
    start: int
    text: str


def keyword_hit(prepared: Prepared, keyword: str, *, aside_counts: bool = False) -> Hit | None:
    """The first occurrence of a keyword that is neither negated nor in an aside."""
    needle = normalise(keyword)
    if not needle:
        return None
    text = prepared.text
    start = text.find(needle)
    while start >= 0:
        end = start + len(needle)
        if (aside_counts or prepared.counts(start)) and not is_negated(text, end):
            return Hit(start, needle)
        start = text.find(needle, start + 1)
    return None


def pattern_hit(
    prepared: Prepared, pattern: re.Pattern[str], *, aside_counts: bool = False
) -> Hit | None:
    """The first match of a manager's regular expression outside an aside.

    Patterns are taken literally (no negation check): a pattern says exactly
    what it means, negative forms included (「二度と(買|使)(わ|い)」).
    """
    for match in pattern.finditer(prepared.text):
        if aside_counts or prepared.counts(match.start()):
            return Hit(match.start(), match.group(0))
    return None


def matchable_clauses(message: str) -> list[str]:
    """The clauses worth comparing with example sentences.

    Hyperbole is masked, an aside before good news is dropped, and so is any
    clause that negates (「返品じゃなくて」); very short clauses are left out.
    """
    prepared = prepare(message)
    point = prepared.text[prepared.aside_end :]
    clauses = []
    for clause in _CLAUSE_SPLIT.split(point):
        clause = clause.replace(MASK, "").strip()
        if len(clause) < MIN_CLAUSE:
            continue
        if any(pattern.search(clause) for pattern in lexicon().negated_clause):
            continue
        clauses.append(clause)
    return clauses


def is_positive(emotions: Sequence[str]) -> bool:
    """Whether the lexicon's emotion categories include a happy one."""
    return any(category in lexicon().positive_emotions for category in emotions)


def says_repeat(text: str) -> bool:
    """「さっきも言った」「何回言ったら」: the customer says they are repeating themselves."""
    return lexicon().repeat.search(text) is not None


def says_lost(text: str) -> bool:
    """「意味がわからない」「???」: the customer does not understand."""
    return lexicon().lost.search(text) is not None


def is_closing(text: str) -> bool:
    """「ありがとう」「わかりました」: the customer is wrapping up."""
    return lexicon().closing.search(text) is not None


def bigram_overlap(first: str, second: str) -> float:
    """Jaccard overlap of character bigrams: the same question asked again."""

    def grams(text: str) -> set[str]:
        plain = re.sub(r"[\s\W_]+", "", normalise(text))
        return {plain[i : i + 2] for i in range(len(plain) - 1)}

    a, b = grams(first), grams(second)
    return len(a & b) / len(a | b) if a and b else 0.0
