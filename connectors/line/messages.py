"""LINE message objects from tomo's text: split to LINE's limits, buttons attached.

Limits (LINE Messaging API): a text message holds at most 5,000 characters
(counted in UTF-16 code units, so an emoji can count twice); one reply or push
carries at most 5 message objects; a message has at most 13 quick-reply
buttons, each label at most 20 characters and postback data at most 300.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from bot.event_handler import QuickReply

MAX_TEXT = 5000
MAX_MESSAGES_PER_CALL = 5
MAX_QUICK_REPLIES = 13
MAX_LABEL = 20
MAX_POSTBACK_DATA = 300

# A sentence: anything up to and including its end marks (and closing brackets after them).
_SENTENCE = re.compile(r"[^。．！？!?\n]*(?:[。．！？!?\n]+[」』）)】〕]*|$)")


def utf16_length(text: str) -> int:
    """Length as LINE counts it."""
    return len(text.encode("utf-16-le")) // 2


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """The text in pieces of at most `limit`, cut between sentences where possible."""
    if utf16_length(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for sentence in filter(None, _SENTENCE.findall(text)):
        if utf16_length(current) + utf16_length(sentence) <= limit:
            current += sentence
            continue
        if current:
            pieces.append(current)
            current = ""
        if utf16_length(sentence) <= limit:
            current = sentence
        else:  # one sentence longer than a message: cut it, never inside a character
            for chunk in _hard_split(sentence, limit):
                pieces.append(chunk)
    if current:
        pieces.append(current)
    return [piece for piece in (p.strip() for p in pieces) if piece]


def _hard_split(text: str, limit: int) -> list[str]:
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for character in text:
        width = utf16_length(character)
        if size + width > limit:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(character)
        size += width
    if current:
        chunks.append("".join(current))
    return chunks


def text_messages(
    texts: Sequence[str], quick_replies: Sequence[QuickReply] = ()
) -> list[dict[str, Any]]:
    """LINE text message objects for tomo's messages; buttons go under the last one."""
    objects: list[dict[str, Any]] = [
        {"type": "text", "text": piece}
        for text in texts
        for piece in split_text(text)
        if piece.strip()
    ]
    if objects and quick_replies:
        objects[-1]["quickReply"] = {
            "items": [
                {
                    "type": "action",
                    "action": {
                        "type": "postback",
                        "label": button.label[:MAX_LABEL],
                        "data": button.data[:MAX_POSTBACK_DATA],
                        "displayText": button.text,
                    },
                }
                for button in quick_replies[:MAX_QUICK_REPLIES]
            ]
        }
    return objects


def batches(
    objects: Sequence[dict[str, Any]], size: int = MAX_MESSAGES_PER_CALL
) -> list[list[dict[str, Any]]]:
    """Message objects grouped into API calls of at most `size`."""
    return [list(objects[start : start + size]) for start in range(0, len(objects), size)]
