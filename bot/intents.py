"""What a customer message is doing: a pure classification, no I/O.

The offline responder uses it to pick a line of the persona; the turn uses it
to decide what is worth remembering.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any

import yaml


class IntentKind(StrEnum):
    GREETING = "greeting"
    THANKS = "thanks"
    FAREWELL = "farewell"
    MEMORY_QUESTION = "memory_question"
    MEMORY_LIST = "memory_list"  # 「私のこと、何を覚えてる？」
    FORGET_TOPIC = "forget_topic"  # 「ミルクのことは忘れて」 (topic = ミルク)
    FORGET_ALL = "forget_all"  # 「全部忘れて」
    NAME_INTRODUCTION = "name_introduction"
    QUESTION = "question"
    SMALL_TALK = "small_talk"
    STATEMENT = "statement"


@dataclass(frozen=True)
class Intent:
    """The main intent of a message, plus what else it carries."""

    kind: IntentKind
    greeted: bool  # it began with a greeting (the main intent may be another)
    topic: str  # the message with greetings and "do you remember" wording removed
    name: str | None = None  # for NAME_INTRODUCTION


@functools.cache
def _patterns() -> dict[str, list[re.Pattern[str]]]:
    raw: Any = yaml.safe_load(
        resources.files("bot").joinpath("data", "intents.yaml").read_text(encoding="utf-8")
    )
    return {
        kind: [re.compile(pattern, re.IGNORECASE) for pattern in patterns]
        for kind, patterns in raw.items()
    }


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def _search(kind: str, text: str) -> re.Match[str] | None:
    for pattern in _patterns()[kind]:
        match = pattern.search(text)
        if match:
            return match
    return None


_TRIM = "、。,.!?！？〜~ ー　"


def classify(text: str) -> Intent:
    """Classify one customer message."""
    plain = _normalise(text)
    greeting = _search("greeting", plain)
    rest = plain[greeting.end() :].strip(_TRIM) if greeting else plain
    greeted = greeting is not None

    def intent(kind: IntentKind, topic: str = rest, name: str | None = None) -> Intent:
        return Intent(kind, greeted, topic.strip(_TRIM) or plain, name)

    if not rest:
        return intent(IntentKind.GREETING, plain)
    if _search("memory_list", rest):
        return intent(IntentKind.MEMORY_LIST)
    if _search("forget_all", rest):
        return intent(IntentKind.FORGET_ALL)
    forgetting = _search("forget_topic", rest)
    if forgetting and forgetting.group("topic").strip(_TRIM):
        return intent(IntentKind.FORGET_TOPIC, forgetting.group("topic"))
    named = _search("name_introduction", rest)
    if named and named.group("name"):
        return intent(IntentKind.NAME_INTRODUCTION, name=named.group("name"))
    remembering = _search("memory_question", rest)
    if remembering:
        topic = (rest[: remembering.start()] + rest[remembering.end() :]).strip(_TRIM)
        return intent(IntentKind.MEMORY_QUESTION, topic or rest)
    is_question = _search("question", rest) is not None
    if not is_question and len(rest) <= 30:
        if _search("thanks", rest):
            return intent(IntentKind.THANKS)
        if _search("farewell", rest):
            return intent(IntentKind.FAREWELL)
    if is_question:
        return intent(IntentKind.QUESTION)
    if _search("small_talk", rest) and len(rest) <= 40:
        return intent(IntentKind.SMALL_TALK)
    return intent(IntentKind.STATEMENT)


CONFIRMATION_MAX_LENGTH = 20


def confirmation(text: str) -> bool | None:
    """A yes (True) or no (False) to a question tomo asked, or None if neither.

    Only a short message can be an answer: a longer one is something new.
    """
    plain = _normalise(text).lower()
    if len(plain) > CONFIRMATION_MAX_LENGTH:
        return None
    if _search("confirm_no", plain):
        return False
    if _search("confirm_yes", plain):
        return True
    return None


_FILLERS = re.compile(
    r"^(はい|うん|ええ|そう|そうそう|なるほど|了解|りょうかい|ok|おけ|笑|w+|草)+$"
)


def worth_remembering(text: str, intent: Intent) -> bool:
    """Whether what the customer said is worth keeping as an episodic memory.

    Greetings, thanks, farewells, questions about memory and fillers are not;
    nor is a name introduction (the name is kept on the customer record).
    """
    if intent.kind in {
        IntentKind.GREETING,
        IntentKind.NAME_INTRODUCTION,
        IntentKind.THANKS,
        IntentKind.FAREWELL,
        IntentKind.MEMORY_QUESTION,
        IntentKind.MEMORY_LIST,
        IntentKind.FORGET_TOPIC,
        IntentKind.FORGET_ALL,
    }:
        return False
    content = re.sub(r"[\s\W_]+", "", _normalise(intent.topic).lower())
    return len(content) >= 4 and not _FILLERS.match(content)
