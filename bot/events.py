"""tomo's own event types: what a customer did on a channel, whatever the channel.

Connectors translate the platform's webhook objects into these frozen values
(and nothing else reaches `bot/`). They are stored in the durable inbox as
JSON (`encode` / `decode`) and handed to the event handler by the workers.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, cast


class MediaKind(StrEnum):
    """A message tomo cannot read as text."""

    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    FILE = "file"
    LOCATION = "location"


@dataclass(frozen=True, kw_only=True)
class CustomerEvent:
    """Common to every event: which event, whose, when, and how to answer it."""

    kind: ClassVar[str] = "event"

    event_id: str  # the channel's own id (LINE webhookEventId): the inbox key
    customer_id: str  # the channel's customer key (LINE userId)
    occurred_at: datetime
    channel: str = "line"
    reply_token: str | None = None  # answering with it is free; single use, short-lived
    redelivered: bool = False


@dataclass(frozen=True, kw_only=True)
class TextMessage(CustomerEvent):
    kind: ClassVar[str] = "text"

    message_id: str
    text: str


@dataclass(frozen=True, kw_only=True)
class Sticker(CustomerEvent):
    kind: ClassVar[str] = "sticker"

    message_id: str
    package_id: str
    sticker_id: str
    keywords: tuple[str, ...] = ()
    text: str | None = None  # message stickers carry the customer's own words


@dataclass(frozen=True, kw_only=True)
class Media(CustomerEvent):
    """A photo, video, voice message, file or location: tomo cannot see inside it."""

    kind: ClassVar[str] = "media"

    message_id: str
    media: MediaKind


@dataclass(frozen=True, kw_only=True)
class Follow(CustomerEvent):
    """The customer added tomo as a friend (or unblocked it)."""

    kind: ClassVar[str] = "follow"

    unblocked: bool = False


@dataclass(frozen=True, kw_only=True)
class Unfollow(CustomerEvent):
    """The customer blocked tomo: no more messages can reach them."""

    kind: ClassVar[str] = "unfollow"


@dataclass(frozen=True, kw_only=True)
class Postback(CustomerEvent):
    """The customer tapped a button (quick reply, rich menu) that carries data."""

    kind: ClassVar[str] = "postback"

    data: str


@dataclass(frozen=True, kw_only=True)
class Unsend(CustomerEvent):
    """The customer took a message back: it must be forgotten."""

    kind: ClassVar[str] = "unsend"

    message_id: str


@dataclass(frozen=True, kw_only=True)
class Unknown(CustomerEvent):
    """An event type tomo does not handle (yet): acknowledged and logged only."""

    kind: ClassVar[str] = "unknown"

    type: str


Event = TextMessage | Sticker | Media | Follow | Unfollow | Postback | Unsend | Unknown

_TYPES: dict[str, type[CustomerEvent]] = {
    cls.kind: cls
    for cls in (TextMessage, Sticker, Media, Follow, Unfollow, Postback, Unsend, Unknown)
}


def encode(event: CustomerEvent) -> str:
    """The event as JSON, for the inbox."""
    data: dict[str, Any] = asdict(event)
    data["occurred_at"] = event.occurred_at.isoformat()
    data["kind"] = event.kind
    return json.dumps(data, ensure_ascii=False)


def decode(payload: str) -> Event:
    """The event an `encode` made."""
    data: dict[str, Any] = json.loads(payload)
    cls = _TYPES[data.pop("kind")]
    names = {field.name for field in fields(cls)}
    values = {name: value for name, value in data.items() if name in names}
    values["occurred_at"] = datetime.fromisoformat(values["occurred_at"])
    if cls is Sticker:
        values["keywords"] = tuple(values.get("keywords") or ())
    if cls is Media:
        values["media"] = MediaKind(values["media"])
    return cast(Event, cls(**values))  # every registered class is one of the union
