"""The Slack handoff end to end: LINE in, card in Slack, staff back out to LINE."""

from __future__ import annotations

from memory.handoffs import HandoffState
from memory.models import MemoryKind, Role
from tests.connectors.slack.conftest import Desk
from tests.fakes import line_webhook as hook
from tests.fakes.waiting import wait_until

STAFF = {"user": "U0STAFF001", "name": "sato"}


async def _handed_over(desk: Desk, text: str = "返金してください") -> tuple[str, str]:
    """A LINE customer whose conversation went to staff; (customer id, card ts)."""
    user = hook.user_id()
    await desk.customer_says(user, text)
    handoff = await desk.card_of(user)
    assert handoff.slack_thread_ts is not None
    return user, handoff.slack_thread_ts


async def test_an_escalation_posts_a_card_with_reasons_and_buttons(desk: Desk) -> None:
    user = hook.user_id()

    await desk.customer_says(user, "返金してください")

    handoff = await desk.card_of(user)
    (card,) = desk.slack.cards()
    assert card.ts == handoff.slack_thread_ts
    assert card.channel == "C0HANDOFF1"
    assert "返金・請求・契約" in card.block_text()
    assert "返金してください" in card.block_text()  # what was said
    assert card.action_ids() == [
        "tomo_send_suggestion",
        "tomo_claim",
        "tomo_back_to_bot",
        "tomo_resolve",
    ]


async def test_the_customer_is_told_honestly_in_the_personas_voice(desk: Desk) -> None:
    user = hook.user_id()

    await desk.customer_says(user, "返金してください")

    persona = desk.tomo.services.runtime.personas.published()
    (bridging,) = desk.line.to(user)
    assert bridging.via == "reply"
    voiced = {
        line.format(you="きみ", me="私", brand=persona.brand) for line in persona.lines.handoff
    }
    assert bridging.texts[0] in voiced


async def test_the_card_says_what_tomo_remembers_about_the_customer(desk: Desk) -> None:
    user = hook.user_id()
    await desk.customer_says(user, "うちの猫はミルクっていう名前です")
    await desk.tomo.runtime_settled(user)

    await desk.customer_says(user, "返金してください")

    await desk.card_of(user)
    (card,) = desk.slack.cards()
    assert "うちの猫はミルクっていう名前です" in card.block_text()


async def test_the_bot_is_silent_while_waiting_and_new_messages_go_to_the_thread(
    desk: Desk,
) -> None:
    user, ts = await _handed_over(desk)

    await desk.customer_says(user, "注文番号は12345です")

    assert len(desk.line.texts_to(user)) == 1  # the bridging message only
    await wait_until(lambda: desk.slack.thread(ts), what="the relayed message")
    assert [post.text for post in desk.slack.thread(ts)] == ["💬 *お客様*: 注文番号は12345です"]


async def test_a_named_staff_member_takes_the_handoff_over(desk: Desk) -> None:
    user, ts = await _handed_over(desk)
    handoff = await desk.card_of(user)

    response = await desk.click("tomo_claim", handoff, **STAFF)

    assert response.status_code == 200
    await desk.settled()
    claimed = await desk.service.handoffs.get(handoff.id)
    assert claimed is not None
    assert (claimed.state, claimed.claimed_by, claimed.claimed_by_name) == (
        HandoffState.STAFF,
        "U0STAFF001",
        "sato",
    )
    await wait_until(lambda: desk.slack.updates_of(ts), what="the card update")
    update = desk.slack.updates_of(ts)[-1]
    assert "<@U0STAFF001> さんが対応中" in update.block_text()
    assert "tomo_claim" not in update.action_ids()


async def test_a_second_staff_member_cannot_take_a_claimed_handoff(desk: Desk) -> None:
    user, _ = await _handed_over(desk)
    handoff = await desk.card_of(user)
    await desk.click("tomo_claim", handoff, **STAFF)
    await desk.settled()

    await desk.click("tomo_claim", handoff, user="U0STAFF002", name="tanaka")
    await desk.settled()

    claimed = await desk.service.handoffs.get(handoff.id)
    assert claimed is not None and claimed.claimed_by == "U0STAFF001"
    await wait_until(lambda: desk.slack.hints_to("U0STAFF002"), what="the hint")
    assert "<@U0STAFF001> さんが対応中" in desk.slack.hints_to("U0STAFF002")[0].text


async def test_a_staff_reply_in_the_thread_reaches_the_customer_and_is_recorded(
    desk: Desk,
) -> None:
    user, _ = await _handed_over(desk)
    handoff = await desk.card_of(user)
    text = "お待たせ！スタッフの佐藤だよ。返金のこと、いっしょに確認するね"

    response, _ = await desk.reply(handoff, text)

    assert response.status_code == 200
    await desk.settled()
    push = desk.line.to(user)[-1]
    assert (push.via, push.texts) == ("push", [text])
    assert push.retry_key is not None
    last = (await desk.tomo.services.runtime.store.recent_messages(user, 1))[0]
    assert (last.role, last.text) == (Role.STAFF, text)
    replied = await desk.service.handoffs.get(handoff.id)
    assert replied is not None
    assert (replied.state, replied.claimed_by) == (HandoffState.STAFF, "U0STAFF001")


async def test_slack_escaping_is_undone_before_the_customer_reads_it(desk: Desk) -> None:
    user, _ = await _handed_over(desk)
    handoff = await desk.card_of(user)

    await desk.reply(handoff, "S&amp;M サイズ &lt;在庫あり&gt;")
    await desk.settled()

    assert desk.line.texts_to(user)[-1] == "S&M サイズ <在庫あり>"


async def test_a_memo_reply_is_kept_as_a_staff_note_and_not_sent(desk: Desk) -> None:
    user, _ = await _handed_over(desk)
    handoff = await desk.card_of(user)

    await desk.reply(handoff, "メモ: 前回も返金対応あり。丁寧に", user="U0STAFF001")
    await desk.settled()

    assert len(desk.line.texts_to(user)) == 1  # only the bridging message
    notes = [
        record
        for record in await desk.tomo.services.runtime.store.memory(user).records()
        if record.kind is MemoryKind.STAFF_NOTE
    ]
    assert [note.text for note in notes] == ["前回も返金対応あり。丁寧に"]
    await wait_until(lambda: desk.slack.hints_to("U0STAFF001"), what="the note hint")
    assert "メモとして保存しました" in desk.slack.hints_to("U0STAFF001")[0].text


async def test_a_reply_that_strays_from_the_voice_is_sent_with_a_hint(desk: Desk) -> None:
    user, _ = await _handed_over(desk)
    handoff = await desk.card_of(user)

    await desk.reply(handoff, "かしこまりました。返金の件、確認いたします。")
    await desk.settled()

    assert desk.line.texts_to(user)[-1] == "かしこまりました。返金の件、確認いたします。"
    await wait_until(lambda: desk.slack.hints_to("U0STAFF001"), what="the tone hint")
    assert "ペルソナの声" in desk.slack.hints_to("U0STAFF001")[0].text


async def test_the_suggested_reply_is_sent_in_the_personas_voice(desk: Desk) -> None:
    user, ts = await _handed_over(desk)
    handoff = await desk.card_of(user)
    persona = desk.tomo.services.runtime.personas.published()
    (suggestion,) = persona.lines.staff_reply_suggestion

    await desk.click("tomo_send_suggestion", handoff, **STAFF)
    await desk.settled()

    assert desk.line.texts_to(user)[-1] == suggestion.format(you="きみ")
    await wait_until(lambda: desk.slack.thread(ts), what="the note in the thread")
    assert desk.slack.thread(ts)[-1].text.startswith("📨 <@U0STAFF001>")


async def test_back_to_bot_lets_the_bot_answer_again(desk: Desk) -> None:
    user, ts = await _handed_over(desk)
    handoff = await desk.card_of(user)

    await desk.click("tomo_back_to_bot", handoff, **STAFF)
    await desk.settled()
    await desk.customer_says(user, "送料はいくらですか？")

    assert "送料" in desk.line.texts_to(user)[-1]
    back = await desk.service.handoffs.get(handoff.id)
    assert back is not None and back.state is HandoffState.BACK_TO_BOT
    await wait_until(lambda: desk.slack.updates_of(ts), what="the card update")
    update = desk.slack.updates_of(ts)[-1]
    assert "ボットに戻しました" in update.block_text()
    assert update.action_ids() == []


async def test_resolving_closes_the_handoff_and_the_card(desk: Desk) -> None:
    user, ts = await _handed_over(desk)
    handoff = await desk.card_of(user)
    await desk.click("tomo_claim", handoff, **STAFF)
    await desk.settled()

    await desk.click("tomo_resolve", handoff, **STAFF)
    await desk.settled()

    resolved = await desk.service.handoffs.get(handoff.id)
    assert resolved is not None
    assert (resolved.state, resolved.closed_by_name) == (HandoffState.RESOLVED, "sato")
    assert await desk.service.handoffs.open_for(user) is None
    await wait_until(
        lambda: any("解決済み" in u.block_text() for u in desk.slack.updates_of(ts)),
        what="the resolved card",
    )
    assert desk.slack.updates_of(ts)[-1].action_ids() == []


async def test_a_reply_after_the_handoff_closed_is_not_sent(desk: Desk) -> None:
    user, _ = await _handed_over(desk)
    handoff = await desk.card_of(user)
    await desk.click("tomo_resolve", handoff, **STAFF)
    await desk.settled()

    await desk.reply(handoff, "あ、もうひとつだけ")
    await desk.settled()

    assert desk.line.texts_to(user)[-1] != "あ、もうひとつだけ"
    await wait_until(lambda: desk.slack.hints_to("U0STAFF001"), what="the hint")
    assert "終わっています" in desk.slack.hints_to("U0STAFF001")[-1].text


async def test_hyperbole_does_not_go_to_staff(desk: Desk) -> None:
    user = hook.user_id()

    await desk.customer_says(user, "この香り、死ぬほど好き")

    assert await desk.service.handoffs.open_for(user) is None
    assert desk.slack.cards() == []
    assert len(desk.line.texts_to(user)) == 1  # the bot answered


async def test_someone_at_risk_is_answered_with_care_and_handed_over_urgently(
    desk: Desk,
) -> None:
    user = hook.user_id()

    await desk.customer_says(user, "もう消えてしまいたい")

    (care,) = desk.line.texts_to(user)
    assert "いのちの電話 0570-783-556" in care
    handoff = await desk.card_of(user)
    assert (handoff.priority, handoff.reason_list[0]) == ("urgent", "crisis")
    (card,) = desk.slack.cards()
    assert card.text.startswith("🔴 至急")
