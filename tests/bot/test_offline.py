from __future__ import annotations

from collections.abc import Sequence

import pytest

from bot.turn import Conversation, TurnResult
from connectors.runtime import Runtime
from persona.presets import build_persona
from persona.schema import Persona


class Ignore:
    async def deliver(self, customer_id: str, messages: Sequence[str]) -> None:
        return None


async def _say(runtime: Runtime, text: str, customer: str = "hanako") -> TurnResult:
    return await runtime.conversation.handle_text(customer, text, Ignore())


def _voiced_by(persona: Persona, reply: str, lines: Sequence[str]) -> bool:
    """Whether the reply starts like one of the persona's lines (before any placeholder)."""
    return any(reply.startswith(line.split("{")[0]) for line in lines)


async def test_a_greeting_is_answered_in_the_personas_voice(runtime: Runtime) -> None:
    persona = runtime.personas.published()
    result = await _say(runtime, "こんにちは")
    assert not result.unsure
    assert _voiced_by(persona, result.replies[0], persona.lines.greeting)


async def test_a_faq_question_is_answered_with_the_faqs_own_answer(runtime: Runtime) -> None:
    persona = runtime.personas.published()
    shipping = next(entry for entry in persona.faq if "送料" in entry.question)

    result = await _say(runtime, "送料っていくらかかりますか？")

    assert not result.unsure
    assert shipping.answer in result.replies[-1]


async def test_an_unknown_question_is_answered_honestly_and_marked_unsure(
    runtime: Runtime,
) -> None:
    persona = runtime.personas.published()
    result = await _say(runtime, "来月の新商品の発売日はいつですか？")
    assert result.unsure
    assert _voiced_by(persona, result.replies[-1], persona.lines.unsure)
    assert not any(entry.answer in result.replies[-1] for entry in persona.faq)


async def test_tomo_remembers_what_the_customer_told_it(runtime: Runtime) -> None:
    await _say(runtime, "うちの猫はミルクっていう名前です")
    result = await _say(runtime, "うちの猫の名前、覚えてる？")
    assert "ミルク" in result.replies[-1]
    assert not result.unsure


async def test_tomo_says_honestly_when_it_was_not_told(runtime: Runtime) -> None:
    persona = runtime.personas.published()
    await _say(runtime, "うちの猫はミルクっていう名前です", customer="taro")
    result = await _say(runtime, "うちの猫の名前、覚えてる？")
    assert "ミルク" not in "".join(result.replies)
    assert _voiced_by(persona, result.replies[-1], persona.lines.not_remembered)


async def test_a_returning_customer_is_welcomed_back(runtime: Runtime) -> None:
    persona = runtime.personas.published()
    await _say(runtime, "うちの猫はミルクっていう名前です")
    result = await _say(runtime, "こんにちは")
    assert _voiced_by(persona, result.replies[0], persona.lines.greeting_returning)


@pytest.mark.parametrize("text", ["こんにちは", "送料はいくらですか？", "ありがとう！"])
async def test_the_same_message_sounds_different_under_two_presets(
    runtime: Runtime, text: str
) -> None:
    replies = []
    for preset in ("shinyu", "concierge"):
        persona = build_persona(preset)
        conversation = Conversation(runtime.store, lambda p=persona: p, runtime.responder)
        result = await conversation.handle_text(f"c-{preset}", text, Ignore())
        replies.append("".join(result.replies))
    casual, honorific = replies
    assert casual != honorific
    assert "わたくし" in honorific or "ございます" in honorific or "いたします" in honorific
    assert "ございます" not in casual
