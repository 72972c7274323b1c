"""LINE message objects stay within LINE's limits and pass the Messaging API contract."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bot.event_handler import staff_button
from connectors.line.messages import batches, split_text, text_messages, utf16_length
from tests.fakes.line_contract import messaging_schemas


def test_a_short_text_is_one_message() -> None:
    assert split_text("こんにちは。元気？") == ["こんにちは。元気？"]


def test_a_long_text_is_cut_after_a_sentence_and_its_closing_bracket() -> None:
    first = "「今日はいい天気だね。」" * 3
    second = "明日も晴れるといいな！"

    assert split_text(first + second, limit=len(first) + 3) == [first, second]


def test_a_sentence_longer_than_a_message_is_cut_without_breaking_an_emoji() -> None:
    text = "😊" * 6  # each emoji is 2 UTF-16 units, as LINE counts

    assert split_text(text, limit=5) == ["😊😊", "😊😊", "😊😊"]


@given(st.text(alphabet="あいう。！？\n 😊ab", min_size=1, max_size=400), st.integers(4, 60))
def test_every_piece_fits_and_only_whitespace_between_pieces_is_dropped(
    text: str, limit: int
) -> None:
    pieces = split_text(text, limit=limit)

    assert all(0 < utf16_length(piece) <= limit for piece in pieces)
    assert re.sub(r"\s", "", "".join(pieces)) == re.sub(r"\s", "", text)


def test_message_objects_with_the_staff_button_follow_the_contract() -> None:
    objects = text_messages(["写真ありがとう！", "スタッフにつなげるよ"], [staff_button()])

    for message in objects:
        assert messaging_schemas().problems("Message", message) == []
    assert objects[-1]["quickReply"]["items"][0]["action"]["data"] == "tomo=staff"


def test_empty_messages_are_not_sent() -> None:
    assert text_messages(["", "  ", "はい"]) == [{"type": "text", "text": "はい"}]


def test_objects_are_grouped_five_to_a_call() -> None:
    objects = text_messages([str(n) for n in range(11)])

    assert [len(group) for group in batches(objects)] == [5, 5, 1]
