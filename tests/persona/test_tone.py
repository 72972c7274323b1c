"""The tone check: register, never-phrases, pushy sales, emoji and address."""

from __future__ import annotations

import pytest

from bot.phrasing import speak
from persona.presets import build_persona, preset_keys
from persona.schema import Persona
from persona.tone import FindingKind, check_tone


def _kinds(text: str, persona: Persona) -> list[tuple[str, str]]:
    return [(finding.kind.value, finding.text) for finding in check_tone(text, persona)]


@pytest.fixture(scope="module")
def shinyu() -> Persona:
    return build_persona("shinyu")


@pytest.fixture(scope="module")
def concierge() -> Persona:
    return build_persona("concierge")


@pytest.fixture(scope="module")
def ouendan() -> Persona:
    return build_persona("ouendan")


def _preset_texts(persona: Persona) -> list[str]:
    texts = [example.tomo for example in persona.examples]
    for _, alternatives in persona.lines:
        for index, _line in enumerate(alternatives):
            for name in (None, "花子"):
                texts.append(
                    speak(
                        persona,
                        [alternatives[index]],
                        seed="x",
                        customer_name=name,
                        memory="肌が乾燥してる",
                        answer=persona.faq[0].answer,
                        memories="- 猫を飼っている",
                        topic="猫",
                        count=1,
                    ).replace("{what}", "写真")
                )
    return texts


@pytest.mark.parametrize("preset", preset_keys())
def test_every_shipped_line_and_example_passes_its_own_preset(preset: str) -> None:
    persona = build_persona(preset)
    flagged = {
        text: [f.reason for f in check_tone(text, persona)] for text in _preset_texts(persona)
    }
    assert {text: reasons for text, reasons in flagged.items() if reasons} == {}


def test_casual_ending_in_an_honorific_voice_is_a_register_finding(concierge: Persona) -> None:
    text = "ご注文ありがとうございます。すぐ届くよ。"
    (finding,) = check_tone(text, concierge)
    assert (finding.kind, finding.text, text[finding.start : finding.end]) == (
        FindingKind.REGISTER,
        "よ",
        "よ",
    )
    assert "タメ口" in finding.reason


def test_desu_masu_in_a_casual_voice_is_a_register_finding(shinyu: Persona) -> None:
    assert _kinds("送料は550円です。またね😊", shinyu) == [("register", "です")]


def test_honorific_voice_without_any_keigo_is_reported_once(concierge: Persona) -> None:
    findings = check_tone("送料は550円です。明日発送します。", concierge)
    assert [(f.kind, f.text) for f in findings] == [(FindingKind.REGISTER, "送料は550円です")]
    assert "敬語" in findings[0].reason


def test_stiff_keigo_in_a_soft_polite_voice_is_reported(ouendan: Persona) -> None:
    assert _kinds("確認いたします。少々お待ちくださいませ。", ouendan) == [
        ("register", "くださいませ")
    ]


def test_never_phrase_is_found_whatever_its_width(shinyu: Persona) -> None:
    findings = check_tone("それ、知らないの?", shinyu)
    assert [(f.kind, f.text) for f in findings] == [(FindingKind.FORBIDDEN_PHRASE, "知らないの?")]


def test_pushy_sales_names_the_boundary_it_goes_against(ouendan: Persona) -> None:
    findings = check_tone("数量限定です！急いでください！", ouendan)
    assert [(f.kind, f.text) for f in findings] == [
        (FindingKind.PUSHY_SALES, "数量限定"),
        (FindingKind.PUSHY_SALES, "急いで"),
    ]
    assert "急かす、不安をあおる" in findings[0].reason


def test_never_phrase_that_is_also_pushy_is_reported_once(ouendan: Persona) -> None:
    assert _kinds("今だけです！", ouendan) == [("forbidden_phrase", "今だけ")]


def test_emoji_in_a_voice_without_emoji_is_reported(concierge: Persona) -> None:
    assert _kinds("承知いたしました😊", concierge) == [("emoji", "😊")]


def test_sparing_emoji_allows_one_at_the_end_only(ouendan: Persona) -> None:
    assert _kinds("応援しています！📣", ouendan) == []
    assert _kinds("応援📣しています！", ouendan) == [("emoji", "📣")]
    findings = check_tone("応援しています！🎉🎉", ouendan)
    assert [(f.text, f.start) for f in findings] == [("🎉", 9)]
    assert "1つまで" in findings[0].reason


def test_emoji_sequences_count_as_one(concierge: Persona) -> None:
    assert _kinds("よろしくお願いいたします👍🏽", concierge) == [("emoji", "👍🏽")]


def test_other_form_of_address_is_reported_with_the_expected_one(concierge: Persona) -> None:
    findings = check_tone("花子さん、ご連絡ありがとうございます。", concierge)
    assert [(f.kind, f.text) for f in findings] == [(FindingKind.ADDRESS, "さん")]
    assert "〜様" in findings[0].reason


def test_words_that_only_look_like_an_address_are_not_reported(shinyu: Persona) -> None:
    assert _kinds("たくさん話してくれてありがとう、ちゃんと覚えておくね", shinyu) == []


def test_pronoun_other_than_the_voice_is_reported(shinyu: Persona) -> None:
    assert _kinds("お客様の話、ちゃんと覚えておくね", shinyu) == [("address", "お客様")]


def test_quoted_words_are_not_the_voice(shinyu: Persona) -> None:
    assert _kinds("「今だけって言われました」って教えてくれたよね", shinyu) == []


def test_the_personas_own_faq_answer_is_not_checked(shinyu: Persona) -> None:
    answer = shinyu.faq[0].answer
    assert _kinds(f"それはね、{answer}ほかにも聞いてね😊", shinyu) == []


def test_spans_point_into_the_original_text(concierge: Persona) -> None:
    text = "ＡＢＣ、花子さん、今だけ！"
    for finding in check_tone(text, concierge):
        assert text[finding.start : finding.end] == finding.text


def test_findings_serialise_with_span_kind_and_reason(concierge: Persona) -> None:
    (finding,) = check_tone("承知いたしました😊", concierge)
    assert finding.to_json() == {
        "kind": "emoji",
        "start": 8,
        "end": 9,
        "text": "😊",
        "reason": "このペルソナは絵文字を使いません。",
    }
    assert finding.span == (8, 9)


def test_empty_text_has_no_findings(concierge: Persona) -> None:
    assert check_tone("", concierge) == []


def test_a_push_to_buy_is_reported_once_not_also_as_register(shinyu: Persona) -> None:
    assert _kinds("お早めにご購入ください", shinyu) == [
        ("pushy_sales", "お早めに"),
        ("pushy_sales", "ご購入ください"),
    ]
