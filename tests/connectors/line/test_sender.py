"""Sending to LINE: reply first, push with one retry key, retries, limits, the outbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.event_handler import QuickReply
from bot.events import TextMessage
from connectors.line.client import LineApi
from connectors.line.sender import LineDelivery, LineSender, SendPolicy
from memory.queue import EventQueue, OutboxStatus
from tests.connectors.line.conftest import LineFake
from tests.fakes import line_webhook as hook
from tests.fakes.line_api import ACCESS_TOKEN, Scripted


@dataclass
class Sending:
    sender: LineSender
    queue: EventQueue
    fake: LineFake

    def delivery(self, user: str, *, reply_token: str | None = None) -> LineDelivery:
        event = TextMessage(
            event_id=hook.event_id(),
            customer_id=user,
            occurred_at=datetime.now(UTC),
            reply_token=reply_token,
            message_id=hook.message_id(),
            text="こんにちは",
        )
        return self.sender.delivery(event)


@pytest.fixture
async def sending(any_engine: AsyncEngine, line_fake: LineFake) -> AsyncIterator[Sending]:
    queue = EventQueue(any_engine)
    async with LineApi.open(
        base_url=line_fake.url, access_token=ACCESS_TOKEN, request_timeout=5
    ) as api:
        policy = SendPolicy(attempts=3, backoff_seconds=0.01)
        yield Sending(LineSender(api, queue, policy), queue, line_fake)


async def test_the_reply_token_is_used_first(sending: Sending) -> None:
    user = hook.user_id()
    token = sending.fake.api.reply_token(user)

    await sending.delivery(user, reply_token=token).deliver(user, ["やっほー😊"])

    (delivered,) = sending.fake.api.to(user)
    assert (delivered.via, delivered.texts) == ("reply", ["やっほー😊"])


async def test_an_expired_reply_token_falls_back_to_a_push_with_a_retry_key(
    sending: Sending,
) -> None:
    user = hook.user_id()
    token = sending.fake.api.reply_token(user)
    sending.fake.api.expire(token)

    await sending.delivery(user, reply_token=token).deliver(user, ["おまたせ！"])

    (delivered,) = sending.fake.api.to(user)
    assert delivered.via == "push"
    (row,) = await sending.queue.outbox(user)
    assert delivered.retry_key == row.retry_key
    assert (row.status, row.sent_via) == (OutboxStatus.SENT, "push")


async def test_a_500_then_200_on_push_delivers_one_message_with_one_retry_key(
    sending: Sending,
) -> None:
    user = hook.user_id()
    sending.fake.api.script("push", Scripted(500))

    await sending.delivery(user).deliver(user, ["おまたせ！"])

    assert len(sending.fake.api.to(user)) == 1
    pushes = [call for call in sending.fake.api.calls if call.endpoint == "push"]
    assert [call.status for call in pushes] == [500, 200]
    assert len({call.retry_key for call in pushes}) == 1


async def test_429_and_500_on_reply_are_retried_and_the_answer_stays_a_free_reply(
    sending: Sending,
) -> None:
    user = hook.user_id()
    token = sending.fake.api.reply_token(user)
    sending.fake.api.script("reply", Scripted(429, "Too many requests"), Scripted(500))

    await sending.delivery(user, reply_token=token).deliver(user, ["おまたせ！"])

    assert [(item.via, item.texts) for item in sending.fake.api.to(user)] == [
        ("reply", ["おまたせ！"])
    ]


async def test_409_after_a_lost_answer_counts_as_delivered_and_nothing_is_sent_twice(
    sending: Sending,
) -> None:
    user = hook.user_id()
    # LINE accepts the push but the answer is lost (500); the retry with the same key gets 409.
    sending.fake.api.script("push", Scripted(500, accept=True))

    await sending.delivery(user).deliver(user, ["一度だけ届くね"])

    assert sending.fake.api.texts_to(user) == ["一度だけ届くね"]
    assert [call.status for call in sending.fake.api.calls] == [500, 409]
    (row,) = await sending.queue.outbox(user)
    assert (row.status, row.last_status) == (OutboxStatus.SENT, 409)


async def test_a_push_that_keeps_failing_stays_in_the_outbox_and_later_goes_out_with_the_same_key(
    sending: Sending,
) -> None:
    user = hook.user_id()
    sending.fake.api.script("push", *[Scripted(503)] * 3)

    await sending.delivery(user).deliver(user, ["あとで届くね"])

    (waiting,) = await sending.queue.due_outbox(user)
    assert (waiting.status, waiting.attempts, sending.fake.api.to(user)) == (
        OutboxStatus.PENDING,
        1,
        [],
    )
    # (a worker flushes the customer's outbox when the row is due)
    await sending.queue.postpone(waiting.id or 0, attempts=1, status=503, delay=timedelta(0))
    await sending.sender.flush(user)

    (delivered,) = sending.fake.api.to(user)
    keys = {call.retry_key for call in sending.fake.api.calls}
    assert keys == {waiting.retry_key}
    assert delivered.texts == ["あとで届くね"]


async def test_a_push_line_refuses_is_marked_failed_and_not_retried(sending: Sending) -> None:
    user = hook.user_id()
    sending.fake.api.script("push", Scripted(400, "The property, 'to', is invalid"))

    await sending.delivery(user).deliver(user, ["とどかない"])

    (row,) = await sending.queue.outbox(user)
    assert (row.status, row.last_status, row.messages) == (OutboxStatus.FAILED, 400, "")
    assert len(sending.fake.api.calls) == 1


async def test_a_text_over_5000_characters_is_split_between_sentences(sending: Sending) -> None:
    user = hook.user_id()
    sentence = "今日はいい天気ですね。" * 300  # 3,300 characters
    long_reply = sentence + "とても長いお返事です！" + sentence

    await sending.delivery(user, reply_token=sending.fake.api.reply_token(user)).deliver(
        user, [long_reply]
    )

    (delivered,) = sending.fake.api.to(user)
    assert len(delivered.texts) == 2
    assert all(len(text) <= 5000 for text in delivered.texts)
    assert all(text.endswith(("。", "！")) for text in delivered.texts)
    assert "".join(delivered.texts) == long_reply


async def test_more_than_five_messages_go_out_as_a_reply_then_a_push(sending: Sending) -> None:
    user = hook.user_id()
    messages = [f"{number}つめのメッセージです。" for number in range(1, 8)]

    await sending.delivery(user, reply_token=sending.fake.api.reply_token(user)).deliver(
        user, messages
    )

    delivered = sending.fake.api.to(user)
    assert [(item.via, len(item.messages)) for item in delivered] == [("reply", 5), ("push", 2)]
    assert [text for item in delivered for text in item.texts] == messages


async def test_quick_replies_go_under_the_last_message_and_are_at_most_13(
    sending: Sending,
) -> None:
    user = hook.user_id()
    buttons = [
        QuickReply(f"ボタン{n}", f"tomo=button{n}", f"ボタン{n}を押しました") for n in range(15)
    ]

    await sending.delivery(user, reply_token=sending.fake.api.reply_token(user)).deliver(
        user, ["ひとつめ", "ふたつめ"], quick_replies=buttons
    )

    (delivered,) = sending.fake.api.to(user)
    first, last = delivered.messages
    assert "quickReply" not in first
    assert len(last["quickReply"]["items"]) == 13


async def test_messages_stored_before_a_crash_are_sent_when_the_customer_is_next_handled(
    sending: Sending,
) -> None:
    user = hook.user_id()
    # The turn stored its answer in the outbox; the process died before sending it.
    await sending.sender.enqueue(user, ["落とさないよ"], event_id=hook.event_id(), reply_token=None)

    await sending.sender.flush(user)

    assert sending.fake.api.texts_to(user) == ["落とさないよ"]


async def test_the_loading_animation_is_shown_before_the_answer(sending: Sending) -> None:
    user = hook.user_id()
    delivery = sending.delivery(user, reply_token=sending.fake.api.reply_token(user))

    delivery.show_working()
    await delivery.deliver(user, ["できたよ"])

    assert sending.fake.api.endpoints_for(user) == ["loading", "reply"]


async def test_a_failing_loading_animation_does_not_stop_the_answer(sending: Sending) -> None:
    user = hook.user_id()
    sending.fake.api.script("loading", Scripted(400, "Invalid chatId"))
    delivery = sending.delivery(user, reply_token=sending.fake.api.reply_token(user))

    delivery.show_working()
    await delivery.deliver(user, ["できたよ"])

    assert sending.fake.api.texts_to(user) == ["できたよ"]
