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


# A labelled set for the FAQ threshold: questions the demo FAQ answers (with the
# entry that answers them), and questions it does not answer.
ANSWERED = [
    ("送料っていくらかかりますか？", "送料はいくらですか？"),
    ("何日で届く？", "注文してから、どのくらいで届きますか？"),
    ("返品ってできますか？", "返品や交換はできますか？"),
    ("肌が弱いんだけど平気？", "敏感肌や妊娠中でも使えますか？"),
    ("ラッピングできますか？", "ギフト包装はできますか？"),
    ("クレジットカード使えますか？", "支払い方法は何がありますか？"),
    ("定期便を休みたい", "定期便の内容変更やお休み、解約はできますか？"),
    ("住所変更できますか？", "注文したあとで、お届け先を変更できますか？"),
]
NOT_ANSWERED = [
    "来月の新商品の発売日はいつですか？",
    "お店のスタッフは何人いますか？",
    "男性でも使えますか？",
    "日焼け止めは売っていますか？",
    "何歳から使えますか？",
    "工場見学はできますか？",
    "使用期限はどれくらいですか？",
]


@pytest.mark.parametrize(("text", "question"), ANSWERED)
async def test_faq_questions_asked_in_other_words_get_their_answer(
    runtime: Runtime, text: str, question: str
) -> None:
    persona = runtime.personas.published()
    (entry,) = [entry for entry in persona.faq if entry.question == question]
    result = await _say(runtime, text)
    assert not result.unsure
    assert entry.answer in result.replies[-1]


@pytest.mark.parametrize("text", NOT_ANSWERED)
async def test_questions_the_faq_does_not_answer_are_not_guessed(
    runtime: Runtime, text: str
) -> None:
    persona = runtime.personas.published()
    result = await _say(runtime, text)
    assert result.unsure
    assert not any(entry.answer in "".join(result.replies) for entry in persona.faq)


async def test_a_customer_who_gives_their_name_hears_it_back(runtime: Runtime) -> None:
    result = await _say(runtime, "私の名前は花子です")
    assert "花子ちゃん" in result.replies[-1]
    assert not result.remembered
