"""The escalation decision: pure rules, the policy file, the LLM merge, the labelled set."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.escalation import LABELLED, load_labelled, measure_escalation
from bot.emotion import EmotionReader
from bot.escalation import (
    Decision,
    EscalationContext,
    Evidence,
    HandoffState,
    LlmJudgment,
    Priority,
    Reason,
    Similarity,
    Turn,
    decide,
    merge,
)
from bot.escalation_evidence import EscalationChecker
from bot.escalation_llm import judge_with_llm
from bot.escalation_policy import (
    EscalationPolicy,
    PolicyError,
    default_policy_text,
    load_policy,
    parse_policy,
)
from memory.embedding import shared_encoder
from persona.schema import Register
from tests.fakes.chat_model import RecordingChatModel

NO_CONTEXT = EscalationContext()


@pytest.fixture(scope="module")
def policy() -> EscalationPolicy:
    return load_policy()[0]


def rules(text: str, policy: EscalationPolicy, context: EscalationContext = NO_CONTEXT) -> Decision:
    """The decision from wording alone (no model measured anything)."""
    return decide(text, context, policy)


# --- someone may be at risk --------------------------------------------------


def test_a_wish_to_disappear_escalates_urgently(policy: EscalationPolicy) -> None:
    decision = rules("もう消えてしまいたい", policy)
    assert (decision.escalate, decision.reasons, decision.priority) == (
        True,
        (Reason.CRISIS,),
        Priority.URGENT,
    )


@pytest.mark.parametrize("register", list(Register))
def test_someone_at_risk_is_told_about_a_public_support_line(
    policy: EscalationPolicy, register: Register
) -> None:
    care = rules("死にたい", policy).care
    assert care is not None
    assert "いのちの電話" in care.text(register)
    assert "0570-783-556" in care.text(register)


def test_negation_does_not_cancel_a_crisis(policy: EscalationPolicy) -> None:
    decision = rules("死にたいわけじゃないけど、毎日しんどい", policy)
    assert decision.priority is Priority.URGENT
    assert Reason.CRISIS in decision.reasons


def test_good_news_after_a_crisis_does_not_cancel_it(policy: EscalationPolicy) -> None:
    assert rules("消えたいけど、このクリームは好き", policy).priority is Priority.URGENT


# --- not fooled by Japanese ----------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "この香り、死ぬほど好き",
        "ゆずのクリーム、いい匂いすぎて死ぬ笑",
        "昨日の夜は死ぬかと思うくらい笑いました",
        "可愛すぎて消えそう",
        "泣くほど嬉しい！",
        "消えたいくらい恥ずかしい笑",
    ],
)
def test_hyperbole_stays_with_tomo(policy: EscalationPolicy, text: str) -> None:
    assert rules(text, policy).escalate is False


@pytest.mark.parametrize(
    "text",
    [
        "返品じゃなくて、もう1個買いたい",
        "返金は大丈夫です。次も買いますね",
        "解約するつもりはないです",
        "怒ってないですよ、大丈夫です！",
        "不満はないです",
        "壊れてはいなかったので安心しました",
    ],
)
def test_negation_cancels_a_topic(policy: EscalationPolicy, text: str) -> None:
    assert rules(text, policy).escalate is False


@pytest.mark.parametrize("text", ["ふざけないでください", "これ以上待たせないでほしい"])
def test_a_request_not_to_do_something_is_not_negation(policy: EscalationPolicy, text: str) -> None:
    assert rules(text, policy).reasons == (Reason.ANGER_COMPLAINT,)


def test_talking_about_people_is_not_asking_for_one(policy: EscalationPolicy) -> None:
    assert rules("人と話すのが苦手なのでLINEで助かる", policy).escalate is False


def test_asking_for_a_person_escalates(policy: EscalationPolicy) -> None:
    assert rules("人と話したいです", policy).reasons == (Reason.HUMAN_REQUEST,)


def test_a_past_problem_before_good_news_is_an_aside(policy: EscalationPolicy) -> None:
    assert rules("前は肌荒れしたけど、今はすっかり落ち着きました", policy).escalate is False


def test_grief_stays_grief_whatever_follows(policy: EscalationPolicy) -> None:
    decision = rules("母が亡くなりましたけど、母の好きだった香りで元気が出ます", policy)
    assert decision.reasons == (Reason.WARMTH,)


def test_an_faq_question_with_a_charged_word_stays_with_tomo(policy: EscalationPolicy) -> None:
    assert rules("解約に手数料はかかりますか？", policy).escalate is False


def test_the_most_urgent_reason_sets_the_priority(policy: EscalationPolicy) -> None:
    decision = rules("届いた瓶が割れて指を切ってしまいました。返金してください", policy)
    assert decision.priority is Priority.URGENT
    assert decision.reasons[0] is Reason.HEALTH_SAFETY
    assert {Reason.ORDER_PROBLEM, Reason.MONEY_CONTRACT} <= set(decision.reasons)


# --- evidence measured by models -------------------------------------------------


def test_a_close_example_sentence_is_a_finding(policy: EscalationPolicy) -> None:
    evidence = Evidence(similarities={"注文・配送のトラブル": Similarity(0.9, "数が足りません")})
    assert decide("ひとつ少ない", NO_CONTEXT, policy, evidence).reasons == (Reason.ORDER_PROBLEM,)


def test_a_distant_example_sentence_is_not(policy: EscalationPolicy) -> None:
    evidence = Evidence(similarities={"注文・配送のトラブル": Similarity(0.5, "数が足りません")})
    assert decide("ひとつ少ない", NO_CONTEXT, policy, evidence).escalate is False


def test_a_happy_message_does_not_escalate_on_similarity_alone(policy: EscalationPolicy) -> None:
    evidence = Evidence(
        similarities={"注文・配送のトラブル": Similarity(0.9, "数が足りません")},
        emotions={"yorokobi": ("嬉しい",)},
    )
    assert decide("ひとつ少ないけど嬉しい", NO_CONTEXT, policy, evidence).escalate is False


def test_an_anger_word_from_the_lexicon_is_a_finding(policy: EscalationPolicy) -> None:
    evidence = Evidence(emotions={"ikari": ("憤る",)})
    assert decide("本当に憤りを感じます", NO_CONTEXT, policy, evidence).reasons == (
        Reason.ANGER_COMPLAINT,
    )


def test_a_negated_anger_word_from_the_lexicon_is_not(policy: EscalationPolicy) -> None:
    evidence = Evidence(emotions={"ikari": ("憤る",)})
    assert decide("別に憤ってないよ", NO_CONTEXT, policy, evidence).escalate is False


def test_a_loose_lexicon_match_not_in_the_message_is_not_trusted(
    policy: EscalationPolicy,
) -> None:
    evidence = Evidence(emotions={"ikari": ("わがまま≈",)})
    text = "オペレーターさんじゃなくて、このままLINEでいいです"
    assert decide(text, NO_CONTEXT, policy, evidence).escalate is False


def test_ordinary_skincare_words_are_not_anger(policy: EscalationPolicy) -> None:
    evidence = Evidence(emotions={"ikari": ("荒れる",)})
    assert (
        decide("手荒れに効くクリームを探しています", NO_CONTEXT, policy, evidence).escalate is False
    )


# --- the conversation around the message -------------------------------------------

UNSURE_TWICE = (
    Turn("customer", "男性でも使えますか？"),
    Turn("tomo", "ごめんね、わからないんだ。", unsure=True),
    Turn("customer", "男の人が使っても平気？"),
    Turn("tomo", "ごめんね、自信がないんだ。", unsure=True),
)


def test_tomo_not_knowing_escalates(policy: EscalationPolicy) -> None:
    context = EscalationContext(bot_unsure=True)
    assert rules("詰め替え用はありますか？", policy, context).reasons == (Reason.BOT_UNSURE,)


def test_going_round_in_circles_escalates(policy: EscalationPolicy) -> None:
    context = EscalationContext(turns=UNSURE_TWICE)
    assert rules("じゃあ肌が弱い人は？", policy, context).reasons == (Reason.REPEATED_CONFUSION,)


def test_thanks_after_tomo_did_not_know_does_not_escalate(policy: EscalationPolicy) -> None:
    assert (
        rules("わかりました、ありがとう", policy, EscalationContext(turns=UNSURE_TWICE)).escalate
        is False
    )


def test_saying_it_again_escalates_after_any_answer(policy: EscalationPolicy) -> None:
    context = EscalationContext(
        turns=(Turn("customer", "住所を変えたい"), Turn("tomo", "発送前なら変更できるよ。"))
    )
    assert rules("さっきも言ったけど、もう発送されてるの", policy, context).reasons == (
        Reason.REPEATED_CONFUSION,
    )


def test_not_understanding_at_the_start_is_not_confusion(policy: EscalationPolicy) -> None:
    assert rules("使い方がわからないです", policy).escalate is False


@pytest.mark.parametrize("state", [HandoffState.WAITING_FOR_STAFF, HandoffState.STAFF])
def test_while_staff_hold_the_conversation_only_urgent_escalates_again(
    policy: EscalationPolicy, state: HandoffState
) -> None:
    context = EscalationContext(handoff=state)
    refund = rules("返金はまだですか", policy, context)
    crisis = rules("もう消えたい", policy, context)
    assert (refund.escalate, refund.reasons, refund.priority) == (False, (), None)
    assert [f.reason for f in refund.findings] == [Reason.MONEY_CONTRACT]
    assert (crisis.escalate, crisis.priority) == (True, Priority.URGENT)


def test_the_decision_is_a_json_line(policy: EscalationPolicy) -> None:
    assert rules("返金してください", policy).as_json("返金してください") == {
        "text": "返金してください",
        "escalate": True,
        "reasons": ["money_contract"],
        "priority": "high",
    }


# --- the policy file ------------------------------------------------------------


def test_a_company_policy_next_to_the_persona_replaces_the_default(tmp_path: Path) -> None:
    own = default_policy_text().replace("similarity_threshold: 0.72", "similarity_threshold: 0.9")
    (tmp_path / "escalation.yaml").write_text(own, encoding="utf-8")
    policy, source = load_policy(tmp_path)
    assert policy.similarity_threshold == 0.9
    assert source == str(tmp_path / "escalation.yaml")


def test_without_a_company_policy_the_default_is_used(tmp_path: Path) -> None:
    assert load_policy(tmp_path)[1] == "default"


def test_a_bad_policy_names_the_field() -> None:
    bad = default_policy_text().replace("reason: order_problem", "reason: shipping", 1)
    with pytest.raises(PolicyError, match=r"topics\.\d+\.reason"):
        parse_policy(bad)


def test_a_crisis_message_without_a_support_line_is_refused() -> None:
    bad = default_policy_text().replace("0570-783-556", "").replace("0120-279-338", "")
    with pytest.raises(PolicyError, match=r"care\.crisis\.casual"):
        parse_policy(bad)


def test_a_broken_regular_expression_is_refused() -> None:
    bad = default_policy_text().replace("    patterns:\n", '    patterns:\n      - "(broken"\n', 1)
    with pytest.raises(PolicyError, match=r"topics\.0\.patterns"):
        parse_policy(bad)


def test_crisis_cannot_be_made_less_than_urgent() -> None:
    bad = default_policy_text().replace("  crisis: urgent", "  crisis: normal")
    with pytest.raises(PolicyError, match=r"priorities"):
        parse_policy(bad)


# --- with a language model ---------------------------------------------------------


def model(*answers: str | BaseException) -> RecordingChatModel:
    return RecordingChatModel(script=list(answers))


async def test_a_model_saying_no_cannot_clear_a_crisis(policy: EscalationPolicy) -> None:
    text = "もう消えてしまいたい"
    judgment = await judge_with_llm(
        model('{"escalate": false, "reasons": [], "priority": null, "note": "雑談"}'),
        text,
        NO_CONTEXT,
        policy,
    )
    assert judgment == LlmJudgment(escalate=False, note="雑談")
    merged = merge(rules(text, policy), judgment, policy)
    assert (merged.escalate, merged.reasons, merged.priority) == (
        True,
        (Reason.CRISIS,),
        Priority.URGENT,
    )
    assert merged.care is not None


async def test_a_model_can_add_a_reason(policy: EscalationPolicy) -> None:
    text = "最近、家族のことで少し参っています"
    answer = '```json\n{"escalate": true, "reasons": ["warmth"], "priority": "high"}\n```'
    judgment = await judge_with_llm(model(answer), text, NO_CONTEXT, policy)
    merged = merge(rules(text, policy), judgment, policy)
    assert (merged.reasons, merged.priority) == ((Reason.WARMTH,), Priority.HIGH)


async def test_a_model_can_clear_a_reason_found_by_wording_alone(policy: EscalationPolicy) -> None:
    text = "返金の手続きって、どのくらいで終わるものなんですか？一般論として知りたくて"
    judgment = await judge_with_llm(model('{"escalate": false, "reasons": []}'), text, NO_CONTEXT)
    assert rules(text, policy).escalate is True
    assert merge(rules(text, policy), judgment, policy).escalate is False


async def test_a_model_cannot_lower_a_health_problem(policy: EscalationPolicy) -> None:
    text = "子どもがクリームを食べちゃったみたい"
    answer = '{"escalate": true, "reasons": ["order_problem"], "priority": "normal"}'
    merged = merge(
        rules(text, policy), await judge_with_llm(model(answer), text, NO_CONTEXT), policy
    )
    assert merged.priority is Priority.URGENT
    assert merged.reasons[0] is Reason.HEALTH_SAFETY


async def test_a_failing_model_leaves_the_rules_to_decide(policy: EscalationPolicy) -> None:
    text = "返金してください"
    judgment = await judge_with_llm(model(TimeoutError("slow")), text, NO_CONTEXT)
    assert judgment is None
    assert merge(rules(text, policy), judgment, policy) == rules(text, policy)


@pytest.mark.parametrize("answer", ["はい、引き継ぎましょう", '{"reasons": ["legal"]}', "[1, 2]"])
async def test_an_answer_that_is_not_a_judgment_gives_none(answer: str) -> None:
    assert await judge_with_llm(model(answer), "こんにちは", NO_CONTEXT) is None


async def test_unknown_reasons_from_a_model_are_dropped() -> None:
    answer = '{"escalate": true, "reasons": ["vip", "legal"], "priority": "very"}'
    judgment = await judge_with_llm(model(answer), "弁護士", NO_CONTEXT)
    assert judgment == LlmJudgment(escalate=True, reasons=(Reason.LEGAL,), priority=None)


async def test_the_model_sees_the_conversation_and_the_company_topics(
    policy: EscalationPolicy,
) -> None:
    fake = model('{"escalate": false}')
    context = EscalationContext(turns=UNSURE_TWICE, bot_unsure=True)
    await judge_with_llm(fake, "じゃあ女性は？", context, policy)
    system, human = fake.prompts[0]
    assert "返金・請求・契約 → money_contract" in str(system.content)
    assert "[tomo (unsure)] ごめんね、自信がないんだ。" in str(human.content)
    assert "bot unsure about this message: true" in str(human.content)


async def test_the_checker_merges_the_model_into_the_rules(policy: EscalationPolicy) -> None:
    checker = EscalationChecker(policy, model=model('{"escalate": false}'))
    decision = await checker.check("死にたい", NO_CONTEXT)
    assert decision.priority is Priority.URGENT


# --- the labelled Japanese set -------------------------------------------------------


def test_the_labelled_set_covers_every_reason_and_tricky_cases() -> None:
    items = load_labelled()
    assert len(items) >= 150
    assert {reason for item in items for reason in item.reasons} == set(Reason)
    assert sum(1 for item in items if item.tricky and not item.escalate) >= 30
    assert all(item.escalate == bool(item.reasons) for item in items)
    assert all((item.priority is None) == (not item.escalate) for item in items)


@pytest.fixture(scope="module")
def checker(policy: EscalationPolicy) -> EscalationChecker:
    return EscalationChecker(policy, shared_encoder(), EmotionReader())


def test_no_tricky_non_escalation_goes_to_staff(checker: EscalationChecker) -> None:
    escalated = [
        item.text
        for item in load_labelled()
        if item.tricky and not item.escalate
        if checker.decide(item.text, item.context.context()).escalate
    ]
    assert escalated == []


def test_every_urgent_message_in_the_labelled_set_is_found_urgent(
    checker: EscalationChecker,
) -> None:
    missed = [
        item.text
        for item in load_labelled()
        if item.priority is Priority.URGENT
        if checker.decide(item.text, item.context.context()).priority is not Priority.URGENT
    ]
    assert missed == []


def test_the_labelled_set_scores_stay_where_they_were(checker: EscalationChecker) -> None:
    report = measure_escalation(LABELLED, checker=checker)
    assert report.recall >= 0.95
    assert report.precision >= 0.97
    assert report.false_escalation_rate <= 0.03
