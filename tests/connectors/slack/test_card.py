"""The handoff card's layout: Block Kit within Slack's limits, customer text kept literal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.escalation_policy import Priority, Reason
from bot.handoff import CardMessage, HandoffCard, StaffMember
from connectors.settings import Settings
from connectors.slack.card import lay_out, unescape
from connectors.slack.connection import SlackConfigError, slack_enabled
from memory.handoffs import HandoffState
from tests.fakes.slack_contract import block_kit_problems

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def _card(**changes: object) -> HandoffCard:
    values: dict[str, object] = {
        "handoff_id": "h1",
        "customer_id": "U" + "a" * 32,
        "customer_name": "花子",
        "channel": "line",
        "known_since": NOW - timedelta(days=12),
        "now": NOW,
        "state": HandoffState.WAITING,
        "reasons": (Reason.MONEY_CONTRACT, Reason.ANGER_COMPLAINT),
        "priority": Priority.HIGH,
        "findings": ("money_contract: 返金・請求・契約: 「返金」",),
        "messages": (CardMessage("customer", "返金してください", NOW),),
        "memories": ("敏感肌",),
        "suggested_reply": "お待たせ！",
    }
    values.update(changes)
    return HandoffCard(**values)  # type: ignore[arg-type]


def test_the_card_says_who_why_how_long_and_what_was_said() -> None:
    layout = lay_out(_card(), TOKYO)
    text = str(layout.blocks)

    assert block_kit_problems(layout.blocks) == []
    assert "花子" in layout.blocks[0]["text"]["text"]
    for expected in (
        "返金・請求・契約",
        "怒り・不満",
        "12日",
        "12:00",
        "返金してください",
        "敏感肌",
    ):
        assert expected in text
    assert layout.text.startswith("🟠 早めに")


def test_customer_text_cannot_mention_or_link_in_slack() -> None:
    layout = lay_out(
        _card(messages=(CardMessage("customer", "<!channel> <@U1> & 3>2", NOW),)), TOKYO
    )

    assert "&lt;!channel&gt; &lt;@U1&gt; &amp; 3&gt;2" in str(layout.blocks)


def test_a_very_long_conversation_stays_within_block_kit_limits() -> None:
    messages = tuple(CardMessage("customer", "あ" * 5000, NOW) for _ in range(30))
    layout = lay_out(
        _card(messages=messages, memories=("い" * 5000,) * 10, customer_name="う" * 300), TOKYO
    )

    assert block_kit_problems(layout.blocks) == []


def test_a_resolved_card_names_who_resolved_it_and_has_no_buttons() -> None:
    staff = StaffMember("U0STAFF001", "sato")
    layout = lay_out(_card(state=HandoffState.RESOLVED, claimed_by=staff, closed_by=staff), TOKYO)

    assert "<@U0STAFF001> さんが解決済みにしました" in str(layout.blocks)
    assert not [block for block in layout.blocks if block["type"] == "actions"]


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        ({"slack_bot_token": "xoxb-1"}, "SLACK_HANDOFF_CHANNEL"),
        ({"slack_handoff_channel": "C1"}, "SLACK_BOT_TOKEN"),
        ({"slack_bot_token": "xoxb-1", "slack_handoff_channel": "C1"}, "SLACK_SIGNING_SECRET"),
        ({"slack_signing_secret": "s"}, "SLACK_BOT_TOKEN"),
    ],
)
def test_a_half_configured_slack_names_what_is_missing(
    values: dict[str, str], missing: str
) -> None:
    with pytest.raises(SlackConfigError, match=missing):
        slack_enabled(Settings(**values))  # type: ignore[arg-type]


def test_socket_mode_needs_no_signing_secret() -> None:
    settings = Settings(
        slack_bot_token="xoxb-1", slack_handoff_channel="C1", slack_app_token="xapp-1"
    )
    assert slack_enabled(settings)


def test_slack_links_and_escapes_become_plain_text_for_the_customer() -> None:
    typed = "詳しくは <https://example.com/faq|こちら> へ <mailto:a@b.jp|a@b.jp> S&amp;M &lt;b&gt;"

    assert unescape(typed) == "詳しくは こちら (https://example.com/faq) へ a@b.jp S&M <b>"
