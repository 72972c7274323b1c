from __future__ import annotations

import json
from pathlib import Path

from bench.locomo import Bm25, evaluate, load
from memory.embedding import shared_encoder

SAMPLE = [
    {
        "conversation": {
            "speaker_a": "Caroline",
            "speaker_b": "Melanie",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {"speaker": "Caroline", "dia_id": "D1:1", "text": "I went to a support group."},
                {"speaker": "Melanie", "dia_id": "D1:2", "text": "We adopted a dog, Bailey."},
                {"speaker": "Caroline", "dia_id": "D1:3", "text": "The weather is nice today."},
            ],
            "session_2_date_time": "10:37 am on 27 June, 2023",
            "session_2": [
                {"speaker": "Melanie", "dia_id": "D2:1", "text": "I signed up for pottery."},
                {"speaker": "Caroline", "dia_id": "D2:2", "text": "I want to study counseling."},
            ],
        },
        "qa": [
            {"question": "What is Melanie's dog called?", "evidence": ["D1:2"], "category": 1},
            {
                "question": "When did Melanie sign up for pottery?",
                "evidence": ["D2:1"],
                "category": 1,
            },
            {"question": "What is Caroline's cat?", "evidence": [], "category": 5},
        ],
    }
]


def test_locomo_runner_scores_three_rankers_on_answerable_questions(tmp_path: Path) -> None:
    path = tmp_path / "locomo10.json"
    path.write_text(json.dumps(SAMPLE), encoding="utf-8")

    conversations = load(path)
    result = evaluate(conversations, shared_encoder(), k=1)

    (turns, questions) = conversations[0]
    assert [turn.dia_id for turn in turns] == ["D1:1", "D1:2", "D1:3", "D2:1", "D2:2"]
    assert turns[0].when.month == 5 and turns[3].when.month == 6
    assert len(questions) == 2  # the adversarial question is left out
    assert (result.questions, result.evidence, result.k) == (2, 2, 1)
    assert result.bm25_only == 1.0  # "dog" and "Melanie" pick the turn out lexically
    assert result.bm25_stemmed == 1.0
    assert 0.0 <= result.vector_only <= 1.0
    assert result.tomo >= 0.5


def test_bm25_prefers_the_rare_word() -> None:
    scores = Bm25(["a dog named Bailey", "a sunny day", "a day at the park"]).scores("Bailey")
    assert scores[0] > 0 and scores[1] == scores[2] == 0
