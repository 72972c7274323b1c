from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from memory.recall import (
    Candidate,
    bigrams,
    english_words,
    lexical_overlap,
    lexical_scores,
    rank,
    recency,
    terms,
)

NOW = datetime(2026, 11, 24, tzinfo=UTC)


def _unit(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_bigrams_ignore_punctuation_width_and_case() -> None:
    assert bigrams("ミルク！") == bigrams("ﾐﾙｸ") == {"ミル", "ルク"}


def test_latin_text_is_split_into_words() -> None:
    assert bigrams("Melanie's POTTERY class") == {"melanie", "s", "pottery", "class"}
    assert bigrams("猫のMilkが好き") == {"猫の", "milk", "が好", "好き"}


def test_lexical_overlap_is_the_share_of_query_bigrams_found() -> None:
    assert lexical_overlap(bigrams("猫の名前"), bigrams("猫の名前はミルク")) == 1.0
    assert lexical_overlap(bigrams("犬"), bigrams("猫")) == 0.0


def test_recency_halves_every_thirty_days() -> None:
    assert recency(NOW, NOW) == 1.0
    assert abs(recency(NOW - timedelta(days=30), NOW) - 0.5) < 1e-9


def test_rank_puts_a_lexical_match_above_a_vague_vector_match() -> None:
    query = _unit(1, 0, 0)
    candidates = [
        Candidate("vague", "今日はいい天気", NOW, _unit(1, 1, 0)),
        Candidate("exact", "猫の名前はミルク", NOW, _unit(1, 1, 0)),
    ]
    ranked = rank("猫の名前", query, candidates, NOW, k=2)
    assert [item.memory_id for item in ranked] == ["exact", "vague"]


def test_rank_returns_at_most_k() -> None:
    candidates = [Candidate(str(i), "x", NOW, _unit(1, 0)) for i in range(5)]
    assert len(rank("x", _unit(1, 0), candidates, NOW, k=2)) == 2
    assert rank("x", _unit(1, 0), [], NOW, k=2) == []


def test_english_words_drop_stop_words_and_fold_endings() -> None:
    assert english_words("What did Melanie paint? Paintings!") == ["melanie", "paint", "paint"]
    assert english_words("classes, a class, studies, walked") == ["class", "class", "study", "walk"]
    assert terms("猫のMilkが好き") == {"猫の", "milk", "が好", "好き"}


def test_a_term_every_memory_holds_weighs_less_than_a_rare_one() -> None:
    memories = [terms(text) for text in ("Caroline: I adopted a dog", "Caroline: I like tea")]
    dog, tea = lexical_scores(terms("Caroline's dog"), memories)
    assert dog > 0.5 > tea > 0  # "caroline" is in both, "dog" only in the first
    assert lexical_scores(terms("what"), memories) == [0.0, 0.0]  # only stop words asked


def test_a_memory_said_next_to_a_match_rises_above_an_unrelated_one() -> None:
    query = _unit(1, 0, 0)
    minute = timedelta(minutes=1)
    same_talk = [
        Candidate("trip", "来月京都に行きます", NOW - 3 * minute, _unit(1, 0.2, 0)),
        Candidate("with", "母と一緒です", NOW - 2 * minute, _unit(0, 1, 0)),
    ]
    unrelated = Candidate("weather", "今日は雨ですね", NOW - 1 * minute, _unit(0, 1, 0))
    ranked = rank("京都に行く", query, [*same_talk, unrelated], NOW, k=3)
    assert [item.memory_id for item in ranked] == ["trip", "with", "weather"]

    days = timedelta(days=1)
    trip_long_ago = Candidate("trip", "来月京都に行きます", NOW - 3 * days, _unit(1, 0.2, 0))
    a_day_later = Candidate("with", "母と一緒です", NOW - 2 * days, _unit(0, 1, 0))
    ranked = rank("京都に行く", query, [trip_long_ago, a_day_later, unrelated], NOW, k=3)
    assert [item.memory_id for item in ranked] == ["trip", "weather", "with"]  # another talk


def test_only_what_follows_a_match_rises_with_it() -> None:
    query = _unit(1, 0, 0)
    minute = timedelta(minutes=1)
    before = Candidate("before", "母と一緒です", NOW - 3 * minute, _unit(0, 1, 0))
    trip = Candidate("trip", "来月京都に行きます", NOW - 2 * minute, _unit(1, 0.2, 0))
    ranked = {item.memory_id: item.score for item in rank("京都", query, [before, trip], NOW, 2)}
    assert ranked["before"] < 0.5 * ranked["trip"]
