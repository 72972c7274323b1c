"""A verified LINE webhook body becomes tomo's own events (and nothing else gets through)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from linebot.v3.webhook import WebhookParser

from bot.events import (
    Follow,
    Media,
    MediaKind,
    Postback,
    Sticker,
    TextMessage,
    Unfollow,
    Unsend,
    decode,
    encode,
)
from connectors.line.parsing import WebhookRejected, parse_webhook
from tests.fakes import line_webhook as hook

PARSER = WebhookParser(hook.CHANNEL_SECRET)
USER = "U" + "a" * 32


def _parse(*events: dict[str, object]) -> list[object]:
    raw = hook.body(*events)
    return list(parse_webhook(PARSER, raw, hook.sign(raw)).events)


def test_a_text_message_becomes_a_text_event_with_its_ids_time_and_reply_token() -> None:
    event = hook.text(
        USER, "こんにちは", message="111", reply_token="rt1", timestamp=1_700_000_000_000
    )

    (parsed,) = _parse(event)

    assert parsed == TextMessage(
        event_id=event["webhookEventId"],
        customer_id=USER,
        occurred_at=datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
        reply_token="rt1",
        message_id="111",
        text="こんにちは",
    )


def test_each_kind_of_event_becomes_its_own_type() -> None:
    parsed = _parse(
        hook.sticker(USER, keywords=["Happy"]),
        hook.media(USER, "image"),
        hook.media(USER, "video"),
        hook.media(USER, "audio"),
        hook.media(USER, "file"),
        hook.media(USER, "location"),
        hook.follow(USER, unblocked=True),
        hook.unfollow(USER),
        hook.postback(USER, "tomo=staff", reply_token="rt"),
        hook.unsend(USER, "325708"),
    )

    assert [type(event) for event in parsed] == [
        Sticker,
        Media,
        Media,
        Media,
        Media,
        Media,
        Follow,
        Unfollow,
        Postback,
        Unsend,
    ]
    assert [event.media for event in parsed if isinstance(event, Media)] == list(MediaKind)
    assert isinstance(parsed[6], Follow) and parsed[6].unblocked
    assert isinstance(parsed[9], Unsend) and parsed[9].message_id == "325708"


def test_a_message_sticker_keeps_the_words_the_customer_typed() -> None:
    (parsed,) = _parse(hook.sticker(USER, words="ありがとう"))

    assert isinstance(parsed, Sticker) and parsed.text == "ありがとう"


def test_group_chats_standby_mode_and_unknown_types_are_left_out() -> None:
    standby = {**hook.text(USER, "こんにちは"), "mode": "standby"}
    raw = hook.body(
        hook.group_text("C" + "1" * 32, USER, "こんにちは"),
        standby,
        hook.unknown(USER, "messageEdited"),
    )

    webhook = parse_webhook(PARSER, raw, hook.sign(raw))

    assert (webhook.events, webhook.skipped) == ([], ["message", "message", "messageEdited"])


def test_a_wrong_signature_is_refused_before_the_body_is_read() -> None:
    with pytest.raises(WebhookRejected) as refused:
        parse_webhook(PARSER, b"not even json", hook.sign(b"something else"))

    assert (refused.value.status, refused.value.reason) == (400, "invalid x-line-signature")


def test_a_body_that_is_not_utf8_is_refused() -> None:
    raw = "こんにちは".encode("shift_jis")

    with pytest.raises(WebhookRejected):
        parse_webhook(PARSER, raw, hook.sign(raw))


def test_events_survive_the_inbox_round_trip() -> None:
    for event in _parse(hook.sticker(USER, keywords=["Happy", "Hello"]), hook.media(USER, "file")):
        assert decode(encode(event)) == event  # type: ignore[arg-type]


def test_a_known_type_missing_its_fields_does_not_crash_the_webhook() -> None:
    broken = {**hook.text(USER, "x")}
    broken["message"] = {"type": "text", "id": "1"}  # no text: not what LINE sends
    raw = json.dumps({"destination": hook.DESTINATION, "events": [broken]}).encode()

    webhook = parse_webhook(PARSER, raw, hook.sign(raw))

    assert webhook.events == []
