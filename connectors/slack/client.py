"""The one seam to the Slack Web API: slack_sdk's AsyncWebClient, its errors mapped to ours.

Every failure becomes `bot.handoff.DeskUnavailable` — network errors,
timeouts, 429 (with Slack's Retry-After), 5xx and `ok: false` answers alike —
so the handoff service keeps the post and tries again later. Answers that
retrying cannot fix (a wrong token, a channel the app is not in, blocks Slack
refuses) are logged as errors: someone has to fix the configuration, and the
handoff waits for them rather than being lost. Every failure is counted in
`tomo_send_errors_total` (status 200: Slack answered `ok: false`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.handoff import DeskUnavailable
from bot.metrics import SEND_ERRORS

log = logging.getLogger(__name__)

# Errors a person must fix (token, scopes, channel); retrying alone will not help.
CONFIGURATION_ERRORS = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
    }
)


class SlackApi:
    """chat.postMessage, chat.update and chat.postEphemeral, with tomo's error mapping."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    @classmethod
    @asynccontextmanager
    async def open(
        cls, *, token: str, base_url: str, request_timeout: float
    ) -> AsyncIterator[SlackApi]:
        """One HTTP session for the lifespan; base_url points tests at a fake Slack."""
        async with aiohttp.ClientSession() as session:
            yield cls(
                web_client(token=token, base_url=base_url, timeout=request_timeout, session=session)
            )

    async def post_message(self, **arguments: Any) -> dict[str, Any]:
        return await self._call("chat.postMessage", self.client.chat_postMessage, arguments)

    async def update(self, **arguments: Any) -> dict[str, Any]:
        return await self._call("chat.update", self.client.chat_update, arguments)

    async def post_ephemeral(self, **arguments: Any) -> dict[str, Any]:
        return await self._call("chat.postEphemeral", self.client.chat_postEphemeral, arguments)

    async def _call(self, method: str, call: Any, arguments: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await call(**arguments)
        except SlackApiError as error:
            status = error.response.status_code
            code = _error_code(error.response.data)
            SEND_ERRORS.labels(channel="slack", status=str(status)).inc()
            retry_after = _retry_after(error.response.headers) if status == 429 else None
            if code in CONFIGURATION_ERRORS:
                log.error("Slack refused %s: %s (check the Slack app's setup)", method, code)
            raise DeskUnavailable(f"{method}: {status} {code}", retry_after=retry_after) from error
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            SEND_ERRORS.labels(channel="slack", status="network").inc()
            raise DeskUnavailable(f"{method}: {type(error).__name__}") from error
        data: dict[str, Any] = dict(response.data) if isinstance(response.data, dict) else {}
        return data


def web_client(
    *, token: str, base_url: str, timeout: float, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """The AsyncWebClient tomo uses (the Bolt app's own included)."""
    return AsyncWebClient(
        token=token,
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        timeout=int(max(1, timeout)),
        session=session,
    )


def _error_code(data: Any) -> str:
    if isinstance(data, dict):
        return str(data.get("error", "unknown"))
    return "unreadable answer"


def _retry_after(headers: Any) -> float | None:
    try:
        value = headers.get("Retry-After") if headers is not None else None
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
