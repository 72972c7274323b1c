"""Socket Mode (SLACK_APP_TOKEN): the same handoff, with Slack's requests over a WebSocket."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import publish_preset
from tests.connectors.line.conftest import LineFake, open_tomo
from tests.connectors.slack.conftest import SlackFake, slack_settings_for
from tests.fakes import line_webhook as hook
from tests.fakes import slack_events as slack
from tests.fakes.slack_api import APP_TOKEN
from tests.fakes.waiting import wait_until


async def test_a_staff_reply_over_socket_mode_reaches_the_customer(
    data_dir: Path, line_fake: LineFake, slack_fake: SlackFake
) -> None:
    settings = slack_settings_for(
        data_dir,
        line_fake.url,
        slack_fake.url,
        slack_signing_secret=None,
        slack_app_token=APP_TOKEN,
    )
    publish_preset(settings)
    user = hook.user_id()
    async with open_tomo(settings) as tomo:
        await wait_until(slack_fake.api.socket_connected.is_set, what="the Socket Mode connection")
        await tomo.post(hook.text(user, "返金してください"))
        await tomo.idle()
        await wait_until(slack_fake.api.cards, what="the card")
        (card,) = slack_fake.api.cards()
        body = slack.thread_reply("お待たせ、確認するね", thread_ts=card.ts)

        slack_fake.api.send_envelope(
            {
                "envelope_id": "env-1",
                "type": "events_api",
                "accepts_response_payload": False,
                "retry_attempt": 0,
                "retry_reason": "",
                "payload": body,
            }
        )

        await wait_until(
            lambda: "お待たせ、確認するね" in line_fake.api.texts_to(user),
            what="the push",
            within=15,
        )
        assert "env-1" in slack_fake.api.acks
        # Without a signing secret nothing over HTTP is trusted.
        raw, headers = slack.event_request(body)
        refused = await tomo.client.post("/slack/events", content=raw, headers=headers)
        assert refused.status_code == 503
