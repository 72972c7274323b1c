"""The LINE path's promises, again on PostgreSQL (TOMO_TEST_DATABASE_URL; skipped without it).

The same tests as on the embedded SQLite store, collected here a second time
with `database_url` pointing at a fresh, migrated PostgreSQL database: the
code is the same, only the setting changes.
"""

from __future__ import annotations

import pytest

from tests.connectors.line.test_end_to_end import (  # noqa: F401  (collected again here)
    test_a_500_then_200_from_line_delivers_exactly_one_message_with_one_key,
    test_a_text_is_answered_through_the_reply_endpoint_after_the_loading_animation,
    test_an_expired_reply_token_is_answered_by_push_with_a_stored_retry_key,
    test_an_unsent_message_is_deleted_with_every_memory_made_from_it,
    test_two_messages_of_one_customer_posted_together_are_answered_as_one_turn,
)
from tests.connectors.line.test_webhook import (  # noqa: F401
    test_a_redelivered_event_is_answered_once,
    test_an_event_is_stored_and_acknowledged_before_it_is_handled,
    test_the_same_event_posted_twice_is_answered_once,
)


@pytest.fixture
def database_url(migrated_postgres_url: str) -> str:
    return migrated_postgres_url
