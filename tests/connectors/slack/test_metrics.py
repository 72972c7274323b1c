"""What the Slack side counts: its webhook's time, and calls to Slack that failed and wait."""

from __future__ import annotations

from prometheus_client import REGISTRY

from connectors.slack.card import CLAIM
from tests.connectors.slack.conftest import Desk
from tests.fakes import line_webhook as hook


def sample(name: str, **labels: str) -> float:
    """A sample of this process's metrics (0 for a label set not seen yet)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_click_on_a_card_is_timed_as_a_slack_webhook(desk: Desk) -> None:
    user = hook.user_id()
    await desk.customer_says(user, "返金してください")
    handoff = await desk.card_of(user)
    before = sample("tomo_webhook_seconds_count", channel="slack", status="200")

    response = await desk.click(CLAIM, handoff)

    assert response.status_code == 200
    assert sample("tomo_webhook_seconds_count", channel="slack", status="200") - before == 1


async def test_a_slack_outage_counts_send_errors_and_one_retry_of_the_card(desk: Desk) -> None:
    desk.slack.down = True
    errors = sample("tomo_send_errors_total", channel="slack", status="503")
    retries = sample("tomo_send_retries_total", channel="slack")

    await desk.customer_says(hook.user_id(), "返金してください")

    failed_calls = len(desk.slack.calls_to("chat.postMessage"))
    assert failed_calls >= 1
    assert sample("tomo_send_errors_total", channel="slack", status="503") - errors == failed_calls
    assert sample("tomo_send_retries_total", channel="slack") - retries == 1
