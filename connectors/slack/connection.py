"""Opening the Slack side for the lifespan: desk, Bolt app, Socket Mode, and the handoff upkeep.

Slack is optional: without SLACK_BOT_TOKEN and SLACK_HANDOFF_CHANNEL,
handoffs are still opened, answered honestly and listed, and wait for a desk.
With them, one of SLACK_SIGNING_SECRET (HTTP at /slack/events) or
SLACK_APP_TOKEN (Socket Mode) is needed to hear back from staff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.handoff_service import HandoffService
from bot.staff_actions import StaffActions
from connectors.settings import Settings
from connectors.slack.client import SlackApi, web_client
from connectors.slack.desk import SlackDesk
from connectors.slack.events import SlackInbound, build_bolt_app
from memory.staff_events import StaffEventStore

log = logging.getLogger(__name__)

STAFF_EVENTS_KEPT = timedelta(days=1)  # Slack retries within minutes


class SlackConfigError(RuntimeError):
    """A Slack setting is missing; the message names the variable."""


def slack_enabled(settings: Settings) -> bool:
    """Whether Slack is configured; a half configuration is an error naming what is missing."""
    token, channel = settings.slack_bot_token, settings.slack_handoff_channel
    if not token and not channel:
        if settings.slack_signing_secret or settings.slack_app_token:
            raise SlackConfigError("SLACK_BOT_TOKEN and SLACK_HANDOFF_CHANNEL are not set")
        return False
    if not token:
        raise SlackConfigError("SLACK_BOT_TOKEN is not set (SLACK_HANDOFF_CHANNEL is)")
    if not channel:
        raise SlackConfigError("SLACK_HANDOFF_CHANNEL is not set (SLACK_BOT_TOKEN is)")
    if not settings.slack_signing_secret and not settings.slack_app_token:
        raise SlackConfigError(
            "SLACK_SIGNING_SECRET is not set (needed for /slack/events; or set SLACK_APP_TOKEN "
            "for Socket Mode)"
        )
    return True


@dataclass(frozen=True)
class SlackSide:
    """The Slack side, open for the lifespan."""

    desk: SlackDesk
    inbound: SlackInbound
    bolt: AsyncApp
    http: bool  # /slack/events is served (a signing secret is set)

    @property
    def http_bolt(self) -> AsyncApp | None:
        """The Bolt app for /slack/events, or None when requests cannot be verified."""
        return self.bolt if self.http else None


@asynccontextmanager
async def open_slack(
    settings: Settings, service: HandoffService, *, socket_mode: bool = True
) -> AsyncIterator[SlackSide | None]:
    """Connect the handoff service to Slack (when configured) for the duration of the block."""
    if not slack_enabled(settings):
        log.info("Slack is not configured: handoffs are recorded and wait for a desk")
        yield None
        return
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    channel = settings.slack_handoff_channel or ""
    secret = settings.slack_signing_secret
    async with AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession())
        client = web_client(
            token=token,
            base_url=settings.slack_api_base,
            timeout=settings.slack_timeout,
            session=session,
        )
        desk = SlackDesk(SlackApi(client), channel, settings.business.zone)
        inbound = SlackInbound(
            service.handoffs,
            StaffEventStore(service.store.engine),
            StaffActions(service),
            clock=lambda: service.clock(),
        )
        bolt = build_bolt_app(
            client=client,
            signing_secret=secret.get_secret_value() if secret else None,
            inbound=inbound,
        )
        service.connect_desk(desk)
        stack.callback(service.connect_desk, None)
        if socket_mode and settings.slack_app_token is not None:
            await stack.enter_async_context(
                _socket_mode(bolt, settings.slack_app_token.get_secret_value(), client)
            )
        yield SlackSide(desk, inbound, bolt, http=secret is not None)


@asynccontextmanager
async def _socket_mode(
    bolt: AsyncApp, app_token: str, client: AsyncWebClient
) -> AsyncIterator[None]:
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    # The client's base URL (SLACK_API_BASE) serves apps.connections.open too.
    handler: Any = AsyncSocketModeHandler(bolt, app_token, web_client=client)
    await handler.connect_async()
    log.info("Slack Socket Mode connected")
    try:
        yield
    finally:
        await handler.close_async()


async def handoff_upkeep_once(service: HandoffService, slack: SlackSide | None) -> None:
    """One round: Slack requests left pending, unclaimed handoffs, posts that failed."""
    if slack is not None:
        await slack.inbound.recover()
    await service.upkeep()


@asynccontextmanager
async def handoff_upkeep(
    service: HandoffService, slack: SlackSide | None, *, every_seconds: float
) -> AsyncIterator[None]:
    """Run `handoff_upkeep_once` every few seconds while the block runs."""
    stop = asyncio.Event()

    async def loop() -> None:
        rounds = 0
        while not stop.is_set():
            try:
                await handoff_upkeep_once(service, slack)
                rounds += 1
                if slack is not None and rounds % 240 == 1:
                    await slack.inbound.events.prune(service.clock() - STAFF_EVENTS_KEPT)
            except Exception:
                log.exception("handoff upkeep failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_seconds)

    task = asyncio.create_task(loop(), name="tomo-handoff-upkeep")
    try:
        yield
    finally:
        stop.set()
        await task
