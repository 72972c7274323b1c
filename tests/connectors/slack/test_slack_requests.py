"""What Slack sends to tomo: signatures, retries, url verification, crashes in between."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

from bot.handoff import StaffMember
from bot.staff_actions import StaffActions
from connectors.settings import Settings
from connectors.slack.events import Recorded
from memory.staff_events import StaffEventStatus
from tests.conftest import publish_preset
from tests.connectors.line.conftest import LineFake, line_settings_for, open_tomo
from tests.connectors.slack.conftest import Desk, SlackFake
from tests.fakes import line_webhook as hook
from tests.fakes import slack_events as slack
from tests.fakes.waiting import wait_until


async def test_a_retried_slack_event_is_handled_once(desk: Desk) -> None:
    user = hook.user_id()
    await desk.customer_says(user, "返金してください")
    handoff = await desk.card_of(user)
    first, body = await desk.reply(handoff, "確認するね、少し待ってて")
    await desk.settled()

    raw, headers = slack.event_request(body, retry=1)
    again = await desk.client.post("/slack/events", content=raw, headers=headers)
    await desk.settled()

    assert (first.status_code, again.status_code) == (200, 200)
    pushes = [item for item in desk.line.to(user) if item.via == "push"]
    assert [item.texts for item in pushes] == [["確認するね、少し待ってて"]]


async def test_a_bad_signature_gets_401_and_nothing_is_kept(desk: Desk) -> None:
    user = hook.user_id()
    await desk.customer_says(user, "返金してください")
    handoff = await desk.card_of(user)
    assert handoff.slack_thread_ts is not None
    body = slack.thread_reply("届く？", thread_ts=handoff.slack_thread_ts)
    raw, headers = slack.event_request(body)
    headers["X-Slack-Signature"] = "v0=" + "0" * 64

    response = await desk.client.post("/slack/events", content=raw, headers=headers)

    assert response.status_code == 401
    assert await desk.side.inbound.events.event(f"event:{body['event_id']}") is None
    assert len(desk.line.texts_to(user)) == 1


async def test_a_request_signed_ten_minutes_ago_gets_401(desk: Desk) -> None:
    raw = json.dumps({"type": "url_verification", "challenge": "c", "token": "t"}).encode()
    headers = {
        "Content-Type": "application/json",
        **slack.sign(raw, timestamp=int(time.time()) - 600),
    }

    response = await desk.client.post("/slack/events", content=raw, headers=headers)

    assert response.status_code == 401


async def test_slacks_url_verification_is_answered_with_the_challenge(desk: Desk) -> None:
    # Not an event_callback: the Events API contract's envelope does not describe it.
    raw = json.dumps({"type": "url_verification", "challenge": "3eZbrw1a", "token": "t"}).encode()
    headers = {"Content-Type": "application/json", **slack.sign(raw)}

    response = await desk.client.post("/slack/events", content=raw, headers=headers)

    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1a"}


async def test_a_reply_in_a_thread_that_is_not_a_handoff_is_ignored(desk: Desk) -> None:
    body = slack.thread_reply("ランチどこ行く？", thread_ts="1700000000.000001")
    raw, headers = slack.event_request(body)

    response = await desk.client.post("/slack/events", content=raw, headers=headers)

    assert response.status_code == 200
    assert await desk.side.inbound.events.event(f"event:{body['event_id']}") is None


async def test_the_apps_own_and_other_bots_messages_are_not_sent_to_customers(
    desk: Desk,
) -> None:
    user = hook.user_id()
    await desk.customer_says(user, "返金してください")
    handoff = await desk.card_of(user)

    await desk.reply(handoff, "自動メッセージ", extra={"bot_id": "B0OTHER001"})
    await desk.reply(handoff, "編集しました", extra={"subtype": "message_changed"})
    await desk.settled()

    assert len(desk.line.texts_to(user)) == 1


async def test_a_slack_request_a_crash_left_pending_is_handled_later(desk: Desk) -> None:
    user = hook.user_id()
    await desk.customer_says(user, "返金してください")
    handoff = await desk.card_of(user)
    assert handoff.slack_thread_ts is not None
    # Recorded (and answered 200) by a process that died before handling it:
    wrote = {
        "channel": handoff.slack_channel,
        "thread_ts": handoff.slack_thread_ts,
        "user": "U0STAFF001",
        "text": "お待たせ、確認したよ",
    }
    assert await desk.side.inbound.record(Recorded("event:EvCRASHED01", "wrote", wrote))

    desk.clock.advance(minutes=2)
    await desk.upkeep()

    assert desk.line.texts_to(user)[-1] == "お待たせ、確認したよ"
    stored = await desk.side.inbound.events.event("event:EvCRASHED01")
    assert stored is not None and stored.status is StaffEventStatus.DONE


async def test_slack_events_answer_503_while_slack_is_not_configured(
    data_dir: Path, line_fake: LineFake
) -> None:
    settings = line_settings_for(data_dir, line_fake.url)
    publish_preset(settings)
    async with open_tomo(settings) as tomo:
        raw = b'{"type":"url_verification","challenge":"c"}'
        response = await tomo.client.post(
            "/slack/events", content=raw, headers={"Content-Type": "application/json"}
        )
    assert response.status_code == 503
    assert "SLACK_BOT_TOKEN" in response.json()["detail"]


async def test_an_action_on_an_unknown_handoff_is_acknowledged_and_ignored(desk: Desk) -> None:
    raw, headers = slack.click("tomo_claim", "no-such-handoff", message_ts="1700000000.000001")

    response = await desk.client.post("/slack/events", content=raw, headers=headers)
    await desk.settled()

    assert response.status_code == 200
    assert desk.slack.hints_to("U0STAFF001") == []


async def test_the_slack_ack_comes_before_the_work(desk: Desk) -> None:
    """The answer to Slack does not wait for LINE: staff actions run after the ack."""
    user = hook.user_id()
    await desk.customer_says(user, "返金してください")
    handoff = await desk.card_of(user)
    gate_open = False
    pushes: list[str] = []
    messenger = desk.service.messenger("line")
    assert messenger is not None

    class SlowMessenger:
        async def push(self, customer_id: str, texts: Sequence[str]) -> None:
            await wait_until(lambda: gate_open, what="the test to open the gate")
            pushes.extend(texts)
            assert messenger is not None
            await messenger.push(customer_id, texts)

    desk.service.connect_messenger("line", SlowMessenger())
    response, _ = await desk.reply(handoff, "いま確認中だよ")

    assert response.status_code == 200 and pushes == []  # answered while the push waits
    gate_open = True
    await desk.settled()
    assert pushes == ["いま確認中だよ"]


async def test_who_took_the_handoff_is_named_in_the_store(desk: Desk) -> None:
    user = hook.user_id()
    await desk.customer_says(user, "返金してください")
    handoff = await desk.card_of(user)

    outcome = await StaffActions(desk.service).claim(handoff.id, StaffMember("U0STAFF009", "kato"))

    assert outcome.handled
    listed = await desk.service.handoffs.find("with_staff")
    assert [(h.customer_id, h.claimed_by_name) for h in listed] == [(user, "kato")]


async def test_handoffs_survive_a_restart(
    slack_settings: Settings, line_fake: LineFake, slack_fake: SlackFake
) -> None:
    user = hook.user_id()
    async with open_tomo(slack_settings) as first:
        await first.post(hook.text(user, "返金してください"))
        await first.idle()

    async with open_tomo(slack_settings) as restarted:
        await restarted.post(hook.text(user, "まだですか？"))
        await restarted.idle()
        handoff = await restarted.services.runtime.handoffs.handoffs.open_for(user)

    assert handoff is not None and handoff.is_open
    assert len(line_fake.api.texts_to(user)) == 1  # the bot stayed silent after the restart
    assert handoff.slack_thread_ts is not None
    (relayed,) = slack_fake.api.thread(handoff.slack_thread_ts)
    assert relayed.text == "💬 *お客様*: まだですか？"
