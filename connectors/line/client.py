"""The one outbound seam to the LINE Messaging API (line-bot-sdk v3, async).

Built in one place with the base URL from settings (`LINE_API_BASE`; tests
point it at a local fake), and the one place where LINE's HTTP answers become
tomo's exceptions:

- 409 on a push: `AlreadyAccepted` (that retry key was accepted before)
- 429, 5xx, timeouts, connection errors: `Retryable`
- any other 4xx: `Rejected` (retrying the same request cannot help)

Every failed call (all but the 409) is counted in `tomo_send_errors_total`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from linebot.v3.messaging import (
    AsyncApiClient,
    AsyncMessagingApi,
    Configuration,
    PushMessageRequest,
    ReplyMessageRequest,
    ShowLoadingAnimationRequest,
)
from linebot.v3.messaging.exceptions import ApiException

from bot.metrics import SEND_ERRORS

log = logging.getLogger(__name__)


class LineApiError(Exception):
    """LINE did not accept a request. `status` is the HTTP status (None: no answer)."""

    def __init__(self, status: int | None, detail: str) -> None:
        super().__init__(f"LINE API {status or 'no answer'}: {detail}")
        self.status = status
        self.detail = detail


class Retryable(LineApiError):
    """Worth trying again later (429, 5xx, network)."""


class Rejected(LineApiError):
    """Refused for good (400, 401, 403, 404…)."""


class AlreadyAccepted(LineApiError):
    """409 on a push: a request with this retry key was accepted already."""


class LineApi:
    """Reply, push, loading animation and profile, mapped to tomo's exceptions."""

    def __init__(self, api: AsyncMessagingApi, *, timeout: float) -> None:
        self._api = api
        self._timeout = timeout

    @classmethod
    @asynccontextmanager
    async def open(
        cls, *, base_url: str, access_token: str, request_timeout: float
    ) -> AsyncIterator[LineApi]:
        """One HTTP client for the app's lifetime, closed on exit."""
        configuration = Configuration(host=base_url.rstrip("/"), access_token=access_token)
        client = AsyncApiClient(configuration)
        try:
            yield cls(AsyncMessagingApi(client), timeout=request_timeout)
        finally:
            await client.close()

    async def reply(self, reply_token: str, messages: Sequence[dict[str, Any]]) -> None:
        request = ReplyMessageRequest.from_dict(
            {"replyToken": reply_token, "messages": list(messages)}
        )
        await self._call(self._api.reply_message(request, _request_timeout=self._timeout))

    async def push(self, to: str, messages: Sequence[dict[str, Any]], *, retry_key: str) -> None:
        request = PushMessageRequest.from_dict({"to": to, "messages": list(messages)})
        await self._call(
            self._api.push_message(
                request, x_line_retry_key=retry_key, _request_timeout=self._timeout
            ),
            conflict_means_accepted=True,
        )

    async def show_loading(self, chat_id: str, seconds: int) -> None:
        request = ShowLoadingAnimationRequest(chatId=chat_id, loadingSeconds=seconds)
        await self._call(self._api.show_loading_animation(request, _request_timeout=self._timeout))

    async def display_name(self, user_id: str) -> str | None:
        """The name on the user's LINE profile; None when LINE does not give it."""
        try:
            profile = await self._call(
                self._api.get_profile(user_id, _request_timeout=self._timeout)
            )
        except LineApiError as error:
            log.info("no LINE profile for a customer (%s)", error.status)
            return None
        name = getattr(profile, "display_name", None)
        return str(name) if name else None

    async def _call(self, call: Any, *, conflict_means_accepted: bool = False) -> Any:
        try:
            return await call
        except ApiException as error:
            status = int(error.status or 0) or None
            detail = _error_message(error.body)
            if status == 409 and conflict_means_accepted:
                raise AlreadyAccepted(status, detail) from None
            SEND_ERRORS.labels(channel="line", status=str(status or "network")).inc()
            if status is not None and (status == 429 or status >= 500):
                raise Retryable(status, detail) from None
            raise Rejected(status, detail) from None
        except (aiohttp.ClientError, TimeoutError) as error:
            SEND_ERRORS.labels(channel="line", status="network").inc()
            raise Retryable(None, type(error).__name__) from None


def _error_message(body: Any) -> str:
    """LINE's error message (never the request, which holds what was said)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        message = json.loads(body).get("message") if body else None
    except (ValueError, AttributeError):
        message = None
    return str(message or "")[:200]
