"""What a drafted suggested reply is asked from, and when a draft may be suggested."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.escalation_policy import Priority, Reason
from bot.suggested_reply import (
    CARD_WAIT_LIMIT,
    DraftRequest,
    SuggestedReplyWriter,
    draft_prompt,
    vet_draft,
)
from persona.presets import build_persona
from persona.prompt import PromptMemory, PromptTurn
from persona.schema import Persona
from tests.fakes.chat_model import RecordingChatModel

GOOD = (
    "お待たせ！ここからはスタッフが話を聞くね。"
    "返金のこと、いっしょに確認するから、注文番号を教えてくれる？"
)


@pytest.fixture(scope="module")
def shinyu() -> Persona:
    return build_persona("shinyu")


def _request(**overrides: object) -> DraftRequest:
    values: dict[str, object] = {
        "customer_name": None,
        "reasons": (Reason.MONEY_CONTRACT, Reason.ANGER_COMPLAINT),
        "priority": Priority.HIGH,
        "findings": ("money_contract: 返金・請求・契約: 「返金」",),
        "memories": (PromptMemory("猫のミルクを飼っている", datetime(2026, 5, 1, tzinfo=UTC)),),
        "history": (
            PromptTurn("customer", "届いた化粧水が漏れてた"),
            PromptTurn("tomo", "それは困ったね…"),
            PromptTurn("customer", "返金してください"),
        ),
        **overrides,
    }
    return DraftRequest(**values)  # type: ignore[arg-type]


def test_the_prompt_carries_the_voice_what_tomo_remembers_and_the_conversation(
    shinyu: Persona,
) -> None:
    system, _ = draft_prompt(shinyu, _request())

    content = str(system.content)
    assert shinyu.relationship.statement in content
    assert "、".join(shinyu.voice.never_phrases) in content
    assert "猫のミルクを飼っている" in content
    assert "customer: 届いた化粧水が漏れてた" in content
    assert "[[unsure]]" not in content  # the turn's rules are replaced, not added to


def test_the_prompt_says_why_how_urgent_and_what_the_customer_said_last(
    shinyu: Persona,
) -> None:
    _, handoff = draft_prompt(shinyu, _request())

    content = str(handoff.content)
    assert "money_contract, anger_complaint" in content
    assert "Priority: high" in content
    assert "「返金」" in content
    assert content.index("返金してください") > content.index("latest message")


def test_a_draft_in_the_personas_voice_is_suggested(shinyu: Persona) -> None:
    assert vet_draft(GOOD, shinyu).text == GOOD


def test_quotes_around_the_whole_draft_are_taken_off(shinyu: Persona) -> None:
    assert vet_draft(f"「{GOOD}」\n", shinyu).text == GOOD


def test_an_unsure_mark_is_not_left_in_the_draft(shinyu: Persona) -> None:
    assert vet_draft(f"[[unsure]]{GOOD}", shinyu).text == GOOD


def test_a_quoted_forbidden_phrase_is_still_found(shinyu: Persona) -> None:
    vetted = vet_draft("「今だけ特別に返金するね！」", shinyu)

    assert vetted.text is None
    assert vetted.rejected is not None and "forbidden_phrase" in vetted.rejected


@pytest.mark.parametrize(
    ("draft", "kind"),
    [
        ("お待たせ！返金のこと、今だけすぐ確認するね", "forbidden_phrase"),
        ("お待たせ！残りわずかだから、ついでにもう1本どうかな？", "pushy_sales"),
        ("お待たせいたしました。返金の件、確認いたします。", "register"),
    ],
)
def test_a_draft_that_breaks_the_voice_or_a_boundary_is_not_suggested(
    shinyu: Persona, draft: str, kind: str
) -> None:
    vetted = vet_draft(draft, shinyu)

    assert vetted.text is None
    assert vetted.rejected is not None and kind in vetted.rejected


@pytest.mark.parametrize(
    ("draft", "why"),
    [
        ("", "empty"),
        ("  [[unsure]]\n", "empty"),
        ("スタッフの[担当者名]だよ！返金のこと確認するね", "placeholder"),
        ("スタッフの〇〇だよ！返金のこと確認するね", "placeholder"),
        ("返金のこと、確認するね。" * 40, "too long"),
    ],
)
def test_a_draft_staff_could_not_send_as_it_is_is_not_suggested(
    shinyu: Persona, draft: str, why: str
) -> None:
    assert vet_draft(draft, shinyu).rejected == why


def test_a_long_llm_timeout_does_not_hold_the_card_longer_than_the_limit() -> None:
    model = RecordingChatModel(script=[])

    assert SuggestedReplyWriter(model, timeout=120.0).time_limit == CARD_WAIT_LIMIT
    assert SuggestedReplyWriter(model, timeout=2.0).time_limit == 2.0


async def test_a_failing_model_gives_no_draft(shinyu: Persona) -> None:
    writer = SuggestedReplyWriter(RecordingChatModel(script=[ConnectionError("down")]))

    assert await writer.draft(shinyu, _request()) is None
