"""Time around a handoff: nobody claims it in time, Slack is down, business hours."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from connectors.settings import Settings
from tests.conftest import publish_preset
from tests.connectors.line.conftest import LineFake, open_tomo
from tests.connectors.slack.conftest import Clock, Desk, SlackFake, slack_settings_for
from tests.fakes import line_webhook as hook
from tests.fakes.waiting import wait_until


async def test_an_unclaimed_handoff_is_repinged_and_the_customer_told_once(desk: Desk) -> None:
    user = hook.user_id()
    await desk.customer_says(user, "返金してください")
    handoff = await desk.card_of(user)
    assert handoff.slack_thread_ts is not None
    persona = desk.tomo.services.runtime.personas.published()

    desk.clock.advance(minutes=14)
    await desk.upkeep()
    assert desk.slack.thread(handoff.slack_thread_ts) == []

    desk.clock.advance(minutes=2)
    await desk.upkeep()
    desk.clock.advance(minutes=30)
    await desk.upkeep()

    reassuring = persona.lines.handoff_reassure[0].format(you="きみ")
    _bridging, reassurance = desk.line.to(user)
    assert (reassurance.via, reassurance.texts) == ("push", [reassuring])
    reping, told = desk.slack.thread(handoff.slack_thread_ts)  # once, and what tomo said
    assert reping.text.startswith("<!here>") and reping.reply_broadcast
    assert "16 分間" in reping.text
    assert told.text == f"🤖 *tomo*: {reassuring}"


async def test_a_claimed_handoff_is_not_repinged(desk: Desk) -> None:
    user = hook.user_id()
    await desk.customer_says(user, "返金してください")
    handoff = await desk.card_of(user)
    await desk.click("tomo_claim", handoff, user="U0STAFF001", name="sato")
    await desk.settled()

    desk.clock.advance(minutes=60)
    await desk.upkeep()

    assert handoff.slack_thread_ts is not None
    assert desk.slack.thread(handoff.slack_thread_ts) == []
    assert len(desk.line.texts_to(user)) == 1


async def test_while_slack_is_down_the_customer_is_answered_and_the_card_waits(
    desk: Desk,
) -> None:
    user = hook.user_id()
    desk.slack.down = True

    await desk.customer_says(user, "返金してください")
    await desk.customer_says(user, "注文番号は A-100 です")

    assert len(desk.line.texts_to(user)) == 1  # the bridging message, Slack or not
    handoff = await desk.service.handoffs.open_for(user)
    assert handoff is not None and handoff.slack_thread_ts is None
    assert handoff.desk_attempts >= 1 and handoff.desk_error is not None
    assert desk.slack.cards() == []

    desk.slack.down = False
    desk.clock.advance(minutes=11)  # past the longest wait between tries
    await desk.upkeep()

    (card,) = desk.slack.cards()
    assert "返金してください" in card.block_text()
    assert "注文番号は A-100 です" in card.block_text()
    posted = await desk.service.handoffs.get(handoff.id)
    assert posted is not None and posted.slack_thread_ts == card.ts
    assert posted.desk_attempts == 0


async def test_a_failing_slack_is_retried_only_after_a_wait(desk: Desk) -> None:
    user = hook.user_id()
    desk.slack.down = True
    await desk.customer_says(user, "返金してください")
    tries = len(desk.slack.calls_to("chat.postMessage"))

    desk.slack.down = False
    await desk.upkeep()  # too soon: the card waits for its retry time
    assert desk.slack.cards() == []

    desk.clock.advance(seconds=20)
    await desk.upkeep()
    assert len(desk.slack.cards()) == 1
    assert len(desk.slack.calls_to("chat.postMessage")) == tries + 1


async def test_outside_business_hours_the_customer_is_told_when_staff_will_answer(
    data_dir: Path, line_fake: LineFake, slack_fake: SlackFake
) -> None:
    settings: Settings = slack_settings_for(
        data_dir, line_fake.url, slack_fake.url, business_hours="09:00-18:00"
    )
    publish_preset(settings)
    # 22:30 in Tokyo on a Tuesday: staff answer tomorrow at 9.
    clock = Clock(datetime(2026, 11, 24, 13, 30, tzinfo=UTC))
    user = hook.user_id()
    async with open_tomo(settings) as tomo:
        tomo.services.runtime.handoffs.clock = clock
        await tomo.post(
            hook.text(user, "返金してください", reply_token=line_fake.api.reply_token(user))
        )
        await tomo.idle()
        handoff = await tomo.services.runtime.handoffs.handoffs.open_for(user)

    (told,) = line_fake.api.texts_to(user)
    assert "明日の9時" in told
    assert handoff is not None and handoff.after_hours
    assert handoff.claim_due_at == datetime(2026, 11, 25, 0, 15, tzinfo=UTC)  # 9:15 in Tokyo
    await wait_until(lambda: slack_fake.api.cards(), what="the card")
    assert "明日の9時" in slack_fake.api.cards()[0].block_text()
