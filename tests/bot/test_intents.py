from __future__ import annotations

import pytest

from bot.intents import IntentKind, classify, confirmation, worth_remembering


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("こんにちは", IntentKind.GREETING),
        ("おはようございます！", IntentKind.GREETING),
        ("ありがとう！", IntentKind.THANKS),
        ("またね〜", IntentKind.FAREWELL),
        ("おやすみなさい", IntentKind.FAREWELL),
        ("うちの猫の名前、覚えてる？", IntentKind.MEMORY_QUESTION),
        ("私の名前は花子です", IntentKind.NAME_INTRODUCTION),
        ("送料はいくらですか？", IntentKind.QUESTION),
        ("返品のしかたを教えて", IntentKind.QUESTION),
        ("今日は雨だね", IntentKind.SMALL_TALK),
        ("うちの猫はミルクっていう名前です", IntentKind.STATEMENT),
        ("ありがとう、ところで返品できますか？", IntentKind.QUESTION),
    ],
)
def test_messages_are_classified_by_what_they_do(text: str, kind: IntentKind) -> None:
    assert classify(text).kind is kind


def test_a_greeting_followed_by_a_question_is_a_question_that_greeted() -> None:
    intent = classify("こんにちは！敏感肌でも使えますか？")
    assert (intent.kind, intent.greeted, intent.topic) == (
        IntentKind.QUESTION,
        True,
        "敏感肌でも使えますか",
    )


def test_a_memory_question_keeps_only_its_topic() -> None:
    assert classify("うちの猫の名前、覚えてる？").topic == "うちの猫の名前"


@pytest.mark.parametrize("text", ["花子って呼んで", "私の名前は花子です"])
def test_a_name_introduction_carries_the_name(text: str) -> None:
    assert classify(text).name == "花子"


@pytest.mark.parametrize(
    ("text", "worth"),
    [
        ("うちの猫はミルクっていう名前です", True),
        ("最近肌が乾燥してて困ってる", True),
        ("こんにちは", False),
        ("ありがとう！", False),
        ("うん", False),
        ("なるほど", False),
        ("うちの猫の名前、覚えてる？", False),
    ],
)
def test_only_meaningful_utterances_are_worth_remembering(text: str, worth: bool) -> None:
    assert worth_remembering(text, classify(text)) is worth


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("はい", True),
        ("うん、お願い", True),
        ("やっぱり消して", True),
        ("いや、やっぱりやめとく", False),
        ("いいえ", False),
        ("送料はいくらですか？", None),
        ("はい、ところで定期便の解約の方法と送料について詳しく教えてほしいです", None),
    ],
)
def test_a_short_yes_or_no_answers_tomos_question(text: str, answer: bool | None) -> None:
    assert confirmation(text) is answer


@pytest.mark.parametrize(
    ("text", "kind", "topic"),
    [
        ("私のこと、何を覚えてる？", IntentKind.MEMORY_LIST, None),
        ("ミルクのことは忘れて", IntentKind.FORGET_TOPIC, "ミルク"),
        ("引っ越しの話は忘れてください", IntentKind.FORGET_TOPIC, "引っ越し"),
        ("全部忘れて", IntentKind.FORGET_ALL, None),
        ("私のデータを消してほしい", IntentKind.FORGET_ALL, None),
        ("嫌なことは忘れて楽しもう", IntentKind.STATEMENT, None),
    ],
)
def test_memory_requests_are_recognised(text: str, kind: IntentKind, topic: str | None) -> None:
    intent = classify(text)
    assert intent.kind is kind
    if topic is not None:
        assert intent.topic == topic
