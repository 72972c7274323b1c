"""The Slack handoff's promises, again on PostgreSQL (TOMO_TEST_DATABASE_URL; skipped without it).

Collected a second time with `database_url` pointing at a fresh, migrated
PostgreSQL database: Slack down then up still delivers the card while the
customer already has the bridging message, retried Slack events are handled
once, and the whole handoff round trip works.
"""

from __future__ import annotations

import pytest

from tests.connectors.slack.test_handoff_desk import (  # noqa: F401  (collected again here)
    test_a_named_staff_member_takes_the_handoff_over,
    test_a_staff_reply_in_the_thread_reaches_the_customer_and_is_recorded,
    test_back_to_bot_lets_the_bot_answer_again,
    test_the_bot_is_silent_while_waiting_and_new_messages_go_to_the_thread,
)
from tests.connectors.slack.test_handoff_timing import (  # noqa: F401
    test_an_unclaimed_handoff_is_repinged_and_the_customer_told_once,
    test_while_slack_is_down_the_customer_is_answered_and_the_card_waits,
)
from tests.connectors.slack.test_slack_requests import (  # noqa: F401
    test_a_retried_slack_event_is_handled_once,
    test_a_slack_request_a_crash_left_pending_is_handled_later,
)


@pytest.fixture
def database_url(migrated_postgres_url: str) -> str:
    return migrated_postgres_url
