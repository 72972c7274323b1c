"""Requests Slack sends to tomo: contract-checked bodies, signed with the real algorithm.

The signature is Slack's v0: `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{raw
body}` with the app's signing secret, in `X-Slack-Signature`, the timestamp in
`X-Slack-Request-Timestamp`. Event bodies are validated against the Events
API contract; block_actions payloads (not in the contract) against their
documented shape (see `slack_contract`).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from tests.fakes.slack_api import BOT_TOKEN, HANDOFF_CHANNEL, TEAM_ID
from tests.fakes.slack_contract import block_actions_problems, event_problems

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"  # a test value
APP_ID = "A0TOMOAPP1"
VERIFICATION_TOKEN = "legacy-verification-token"  # Slack still sends it; tomo ignores it
_ts = itertools.count(1)


def sign(
    body: bytes, *, timestamp: int | None = None, secret: str = SIGNING_SECRET
) -> dict[str, str]:
    """The headers Slack puts on a request with this raw body."""
    moment = int(time.time()) if timestamp is None else timestamp
    base = b"v0:" + str(moment).encode() + b":" + body
    digest = hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(moment), "X-Slack-Signature": f"v0={digest}"}


def ts() -> str:
    return f"{int(time.time())}.{900000 + next(_ts):06d}"


def event_id() -> str:
    return "Ev" + secrets.token_hex(5).upper()


def thread_reply(
    text: str,
    *,
    thread_ts: str,
    user: str = "U0STAFF001",
    channel: str = HANDOFF_CHANNEL,
    event: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An Events API body: a person replied in a thread (message.channels)."""
    moment = ts()
    inner: dict[str, Any] = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": text,
        "ts": moment,
        "thread_ts": thread_ts,
        "event_ts": moment,
        "channel_type": "channel",
        "team": TEAM_ID,
    }
    inner.update(extra or {})
    body = {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": inner,
        "type": "event_callback",
        "event_id": event or event_id(),
        "event_time": int(time.time()),
        "authed_users": ["U0TOMOBOT1"],
    }
    problems = event_problems(body)
    assert problems == [], problems
    return body


def event_request(
    body: dict[str, Any], *, retry: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The raw JSON body and headers of an Events API request (a retry carries its number)."""
    raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", **sign(raw)}
    if retry is not None:
        headers["X-Slack-Retry-Num"] = str(retry)
        headers["X-Slack-Retry-Reason"] = "http_timeout"
    return raw, headers


def click(
    action_id: str,
    value: str,
    *,
    message_ts: str,
    user: str = "U0STAFF001",
    name: str = "sato",
    channel: str = HANDOFF_CHANNEL,
) -> tuple[bytes, dict[str, str]]:
    """An interactivity request: a person clicked a button on a message (block_actions)."""
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": {"id": user, "username": name, "name": name, "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(8)}",
        "team": {"id": TEAM_ID, "domain": "tomo-test"},
        "channel": {"id": channel, "name": "handoffs"},
        "message": {"type": "message", "ts": message_ts, "user": "U0TOMOBOT1", "text": ""},
        "response_url": "https://hooks.slack.com/actions/T0TOMO0001/1/abc",
        "actions": [
            {
                "action_id": action_id,
                "block_id": "tomo_handoff",
                "text": {"type": "plain_text", "text": action_id, "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": ts(),
            }
        ],
    }
    problems = block_actions_problems(payload)
    assert problems == [], problems
    raw = urlencode({"payload": json.dumps(payload, ensure_ascii=False)}).encode("utf-8")
    return raw, {"Content-Type": "application/x-www-form-urlencoded", **sign(raw)}


__all__ = ["BOT_TOKEN", "SIGNING_SECRET", "click", "event_request", "sign", "thread_reply"]
