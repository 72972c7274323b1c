"""LINE webhook requests as LINE sends them: contract-checked bodies, real signatures.

Every body built here is validated against `../shared/contracts/line/webhook.yml`
(event types the contract does not know, such as `messageEdited`, are checked
against the common event fields only) and signed with the real
`x-line-signature`: base64 of HMAC-SHA256 of the raw body with the channel secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import secrets
import time
from typing import Any

from tests.fakes.line_contract import webhook_problems

CHANNEL_SECRET = "test-channel-secret-0123456789ab"  # a test value
DESTINATION = "U" + "f" * 32
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_message_ids = itertools.count(600000000000000)


def sign(body: bytes, secret: str = CHANNEL_SECRET) -> str:
    """The x-line-signature LINE puts on a body."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def user_id() -> str:
    """A fresh LINE userId (U + 32 hex digits)."""
    return "U" + secrets.token_hex(16)


def event_id() -> str:
    """A fresh webhookEventId (a ULID: 48-bit time + 80 random bits, Crockford base32)."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def message_id() -> str:
    return str(next(_message_ids))


def _event(
    kind: str,
    user: str | None,
    *,
    reply_token: str | None = None,
    redelivery: bool = False,
    webhook_event_id: str | None = None,
    timestamp: int | None = None,
    source: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": kind,
        "mode": "active",
        "timestamp": timestamp if timestamp is not None else int(time.time() * 1000),
        "webhookEventId": webhook_event_id or event_id(),
        "deliveryContext": {"isRedelivery": redelivery},
        "source": source or {"type": "user", "userId": user},
        **fields,
    }
    if reply_token is not None:
        event["replyToken"] = reply_token
    return event


def text(user: str, words: str, *, message: str | None = None, **options: Any) -> dict[str, Any]:
    content = {"type": "text", "id": message or message_id(), "text": words, "quoteToken": "qt"}
    return _event("message", user, message=content, **options)


def sticker(
    user: str,
    *,
    keywords: list[str] | None = None,
    words: str | None = None,
    message: str | None = None,
    **options: Any,
) -> dict[str, Any]:
    content: dict[str, Any] = {
        "type": "sticker",
        "id": message or message_id(),
        "packageId": "446",
        "stickerId": "1988",
        "stickerResourceType": "MESSAGE" if words else "STATIC",
        "quoteToken": "qt",
    }
    if keywords:
        content["keywords"] = keywords
    if words:
        content["text"] = words
    return _event("message", user, message=content, **options)


def media(
    user: str, kind: str = "image", *, message: str | None = None, **options: Any
) -> dict[str, Any]:
    content: dict[str, Any] = {"type": kind, "id": message or message_id()}
    if kind in {"image", "video", "audio"}:
        content["contentProvider"] = {"type": "line"}
    if kind in {"image", "video"}:
        content["quoteToken"] = "qt"
    if kind == "file":
        content |= {"fileName": "receipt.pdf", "fileSize": 2048}
    if kind == "location":
        content |= {"title": "店舗", "address": "東京都", "latitude": 35.68, "longitude": 139.76}
    return _event("message", user, message=content, **options)


def follow(user: str, *, unblocked: bool = False, **options: Any) -> dict[str, Any]:
    options.setdefault("reply_token", "unused-token")
    return _event("follow", user, follow={"isUnblocked": unblocked}, **options)


def unfollow(user: str, **options: Any) -> dict[str, Any]:
    return _event("unfollow", user, **options)


def postback(user: str, data: str, **options: Any) -> dict[str, Any]:
    return _event("postback", user, postback={"data": data}, **options)


def unsend(user: str, message: str, **options: Any) -> dict[str, Any]:
    return _event("unsend", user, unsend={"messageId": message}, **options)


def group_text(group: str, user: str, words: str, **options: Any) -> dict[str, Any]:
    source = {"type": "group", "groupId": group, "userId": user}
    content = {"type": "text", "id": message_id(), "text": words, "quoteToken": "qt"}
    return _event("message", user, source=source, message=content, **options)


def unknown(user: str, kind: str = "messageEdited", **fields: Any) -> dict[str, Any]:
    """An event type tomo does not know (messageEdited is newer than the contract)."""
    return _event(kind, user, **fields)


def body(*events: dict[str, Any]) -> bytes:
    """A webhook body carrying these events, checked against the contract."""
    payload = {"destination": DESTINATION, "events": list(events)}
    problems = webhook_problems(payload)
    if problems:
        raise AssertionError(f"test webhook breaks the contract: {problems}")
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def headers(raw: bytes, secret: str = CHANNEL_SECRET) -> dict[str, str]:
    return {
        "content-type": "application/json; charset=utf-8",
        "x-line-signature": sign(raw, secret),
    }
