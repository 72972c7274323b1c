"""A LINE webhook body → tomo's own events, after the signature is verified.

The signature check and the parsing are line-bot-sdk's (`WebhookParser`):
HMAC-SHA256 of the exact raw body with the channel secret, compared in
constant time, before the body is even read as JSON. What comes out is
translated into `bot.events` values; nothing of the SDK's types goes further.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from linebot.v3.exceptions import InvalidSignatureError
from linebot.v3.webhook import WebhookParser
from linebot.v3.webhooks import (
    AudioMessageContent,
    FileMessageContent,
    FollowEvent,
    GroupSource,
    ImageMessageContent,
    LocationMessageContent,
    MessageEvent,
    PostbackEvent,
    RoomSource,
    StickerMessageContent,
    TextMessageContent,
    UnfollowEvent,
    UnsendEvent,
    UserSource,
    VideoMessageContent,
)

from bot.events import (
    Event,
    Follow,
    Media,
    MediaKind,
    Postback,
    Sticker,
    TextMessage,
    Unfollow,
    Unknown,
    Unsend,
)

log = logging.getLogger(__name__)

_MEDIA: dict[type[Any], MediaKind] = {
    ImageMessageContent: MediaKind.IMAGE,
    VideoMessageContent: MediaKind.VIDEO,
    AudioMessageContent: MediaKind.AUDIO,
    FileMessageContent: MediaKind.FILE,
    LocationMessageContent: MediaKind.LOCATION,
}


class WebhookRejected(Exception):
    """The request is not a genuine, readable LINE webhook; answer `status` with `reason`."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Webhook:
    """What one webhook request carried: tomo's events, and what was left out (and why)."""

    events: list[Event] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # event types, for the log


def parse_webhook(parser: WebhookParser, body: bytes, signature: str) -> Webhook:
    """Verify the signature on the raw body, then parse it into tomo's events."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise WebhookRejected(400, "the body is not UTF-8") from None
    try:
        payload = parser.parse(text, signature, as_payload=True)
    except InvalidSignatureError:
        raise WebhookRejected(400, "invalid x-line-signature") from None
    except ValueError:  # json.JSONDecodeError, or an event the SDK could not read
        raise WebhookRejected(400, "the body is not a JSON LINE webhook") from None
    except (KeyError, TypeError, AttributeError):
        raise WebhookRejected(400, "the body is not a LINE webhook (no events)") from None
    webhook = Webhook()
    for sdk_event in payload.events or []:
        event = translate(sdk_event)
        if event is None or isinstance(event, Unknown):
            webhook.skipped.append(str(getattr(sdk_event, "type", "?")))
        else:
            webhook.events.append(event)
    return webhook


def translate(sdk_event: Any) -> Event | None:
    """tomo's event for an SDK event; None for chats tomo does not take part in."""
    source = getattr(sdk_event, "source", None)
    if isinstance(source, (GroupSource, RoomSource)):
        return None  # one-to-one chats only (TOMO_LINE_GROUPS=ignore)
    user_id = getattr(source, "user_id", None) if isinstance(source, UserSource) else None
    if not user_id:
        return None
    if getattr(sdk_event, "mode", None) is not None and str(sdk_event.mode.value) == "standby":
        return None  # another module holds the chat: tomo must not answer
    common: dict[str, Any] = {
        "event_id": sdk_event.webhook_event_id,
        "customer_id": user_id,
        "occurred_at": datetime.fromtimestamp(sdk_event.timestamp / 1000, UTC),
        "channel": "line",
        "reply_token": getattr(sdk_event, "reply_token", None),
        "redelivered": bool(sdk_event.delivery_context.is_redelivery),
    }
    if isinstance(sdk_event, MessageEvent):
        return _message(sdk_event, common)
    if isinstance(sdk_event, FollowEvent):
        return Follow(**common, unblocked=bool(sdk_event.follow.is_unblocked))
    if isinstance(sdk_event, UnfollowEvent):
        return Unfollow(**common)
    if isinstance(sdk_event, PostbackEvent):
        return Postback(**common, data=sdk_event.postback.data)
    if isinstance(sdk_event, UnsendEvent):
        return Unsend(**common, message_id=sdk_event.unsend.message_id)
    return Unknown(**common, type=str(getattr(sdk_event, "type", "?")))


def _message(sdk_event: MessageEvent, common: dict[str, Any]) -> Event:
    content = sdk_event.message
    if isinstance(content, TextMessageContent):
        return TextMessage(**common, message_id=content.id, text=content.text)
    if isinstance(content, StickerMessageContent):
        return Sticker(
            **common,
            message_id=content.id,
            package_id=content.package_id,
            sticker_id=content.sticker_id,
            keywords=tuple(content.keywords or ()),
            text=content.text or None,
        )
    for content_type, kind in _MEDIA.items():
        if isinstance(content, content_type):
            return Media(**common, message_id=content.id, media=kind)
    return Unknown(**common, type=f"message/{getattr(content, 'type', '?')}")
