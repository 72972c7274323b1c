from __future__ import annotations

from datetime import UTC, datetime

from persona.presets import build_persona
from persona.prompt import UNSURE_MARK, PromptMemory, PromptTurn, render_system_prompt


def test_the_prompt_carries_persona_memories_and_history() -> None:
    persona = build_persona("concierge")
    prompt = render_system_prompt(
        persona,
        customer_name="花子",
        memories=[
            PromptMemory("うちの猫はミルクっていう名前です", datetime(2026, 11, 1, tzinfo=UTC))
        ],
        history=[PromptTurn("customer", "こんにちは"), PromptTurn("tomo", "ようこそ")],
    )
    assert persona.relationship.statement in prompt
    assert "花子様" in prompt
    assert persona.voice.first_person in prompt
    assert persona.boundaries[0] in prompt
    assert persona.faq[0].answer in prompt
    assert "うちの猫はミルクっていう名前です" in prompt
    assert "customer: こんにちは" in prompt
    assert UNSURE_MARK in prompt


def test_sensitive_memories_are_marked_in_the_prompt() -> None:
    prompt = render_system_prompt(
        build_persona("shinyu"),
        customer_name=None,
        memories=[PromptMemory("持病がある", datetime(2026, 11, 1, tzinfo=UTC), sensitive=True)],
    )
    assert "持病がある (sensitive)" in prompt
