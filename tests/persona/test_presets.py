from __future__ import annotations

from collections.abc import Sequence

import pytest

from persona.presets import (
    TITLE_LENGTH,
    build_persona,
    choose_preset,
    commitment_from_text,
    preset_keys,
)
from persona.schema import Commitment, Persona, Register

PLACEHOLDERS: dict[str, object] = {
    "you": "花子さん",
    "me": "私",
    "memory": "猫はミルク",
    "answer": "答え",
    "brand": "b",
    "memories": "・猫はミルク",
    "topic": "猫",
    "count": 1,
    "when": "明日の9時",
}


def test_at_least_four_relationship_presets_ship() -> None:
    assert {"shinyu", "ouendan", "concierge", "kazoku"} <= set(preset_keys())


@pytest.mark.parametrize("key", preset_keys())
def test_every_preset_makes_a_valid_persona_with_the_demo_brand(key: str) -> None:
    persona = build_persona(key)
    assert persona.brand == "つむぎ"
    assert persona.relationship.word in persona.relationship.statement
    assert persona.faq and persona.boundaries and persona.examples and persona.test_messages


@pytest.mark.parametrize("key", preset_keys())
def test_every_line_fills_its_placeholders(key: str) -> None:
    lines = build_persona(key).lines
    for field in type(lines).model_fields:
        for line in getattr(lines, field):
            assert "{" not in line.format(**PLACEHOLDERS), (field, line)


def test_presets_speak_in_clearly_different_voices() -> None:
    personas = [build_persona(key) for key in ("shinyu", "ouendan", "concierge", "kazoku")]
    first_persons = {p.voice.first_person for p in personas}
    greetings = {p.lines.greeting for p in personas}
    assert len(greetings) == 4
    assert len(first_persons) >= 3
    registers = {p.relationship.word: p.voice.politeness for p in personas}
    assert registers["親友"] is Register.CASUAL
    assert registers["コンシェルジュ"] is Register.HONORIFIC


@pytest.mark.parametrize(
    ("word", "key"),
    [
        ("親友", "shinyu"),
        ("「応援団」", "ouendan"),
        ("家族のような見守り", "kazoku"),
        ("コンシェルジュのような関係", "concierge"),
    ],
)
def test_a_relationship_word_picks_its_preset(word: str, key: str) -> None:
    choice = choose_preset(word)
    assert (choice.key, choice.exact) == (key, True)


def test_an_unknown_word_picks_the_closest_preset_and_says_it_was_not_exact() -> None:
    def similarity(text: str, candidates: Sequence[str]) -> list[float]:
        return [1.0 if "コンシェルジュ" in candidate else 0.0 for candidate in candidates]

    choice = choose_preset("執事", similarity)
    assert (choice.key, choice.exact) == ("concierge", False)


def test_an_unknown_word_without_similarity_names_the_presets() -> None:
    with pytest.raises(KeyError, match="親友"):
        choose_preset("執事")


def test_a_persona_round_trips_through_its_yaml_form() -> None:
    from persona.repository import persona_from_yaml, persona_to_yaml

    persona = build_persona("concierge")
    text = persona_to_yaml(persona)
    assert "register: honorific" in text
    assert persona_from_yaml(text) == persona
    assert isinstance(persona, Persona)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "朝採れ: その日の朝に採れた野菜だけ",
            Commitment(title="朝採れ", body="その日の朝に採れた野菜だけ"),
        ),
        (
            "朝採れ：その日の朝に採れた野菜だけ",
            Commitment(title="朝採れ", body="その日の朝に採れた野菜だけ"),
        ),
        (
            "農家さんの顔が見える野菜を、その日のうちに並べます。",
            Commitment(
                title="農家さんの顔が見える野菜を",
                body="農家さんの顔が見える野菜を、その日のうちに並べます。",
            ),
        ),
        ("量り売り", Commitment(title="量り売り", body="量り売り")),
    ],
)
def test_a_free_text_commitment_keeps_its_words_and_gets_a_title(
    text: str, expected: Commitment
) -> None:
    assert commitment_from_text(text) == expected


def test_a_commitment_without_a_clause_break_gets_a_short_title() -> None:
    text = "あ" * (TITLE_LENGTH + 5)
    assert commitment_from_text(text) == Commitment(title="あ" * TITLE_LENGTH + "…", body=text)
