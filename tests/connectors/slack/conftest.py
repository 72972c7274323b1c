"""Fixtures for the Slack handoff: a fake Slack Web API and a fake LINE API on free ports,
the app (with its lifespan) reached over ASGI, signed Slack requests, an injectable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.handoff_service import HandoffService
from connectors.settings import Settings
from connectors.slack.connection import SlackSide, handoff_upkeep_once
from memory.handoffs import Handoff
from memory.models import utcnow
from tests.conftest import publish_preset
from tests.connectors.line.conftest import LineFake, Tomo, line_settings_for, open_tomo
from tests.fakes import line_webhook as hook
from tests.fakes import slack_events as slack
from tests.fakes.line_api import FakeLineApi
from tests.fakes.slack_api import BOT_TOKEN, HANDOFF_CHANNEL, FakeSlackApi
from tests.fakes.waiting import wait_until


@dataclass
class SlackFake:
    api: FakeSlackApi
    url: str


class Clock:
    """A clock tests move by hand (the handoff service reads it; nothing sleeps)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def slack_settings_for(data_dir: Path, line_url: str, slack_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": slack.SIGNING_SECRET,
        "slack_handoff_channel": HANDOFF_CHANNEL,
        "slack_api_base": f"{slack_url}/api/",
        "slack_timeout": 5.0,
        "handoff_check_seconds": 3600.0,  # tests run the upkeep themselves, with their clock
        **overrides,
    }
    return line_settings_for(data_dir, line_url, **values)


@pytest.fixture
def slack_settings(
    data_dir: Path, line_fake: LineFake, slack_fake: SlackFake, database_url: str | None
) -> Settings:
    settings = slack_settings_for(
        data_dir, line_fake.url, slack_fake.url, database_url=database_url
    )
    publish_preset(settings)
    return settings


@dataclass
class Desk:
    """The running app seen from both sides: LINE customers and Slack staff."""

    tomo: Tomo
    line: FakeLineApi
    slack: FakeSlackApi
    clock: Clock

    @property
    def client(self) -> httpx.AsyncClient:
        return self.tomo.client

    @property
    def service(self) -> HandoffService:
        return self.tomo.services.runtime.handoffs

    @property
    def side(self) -> SlackSide:
        side = self.tomo.services.slack
        assert side is not None
        return side

    async def customer_says(self, user: str, text: str, *, token: bool = True) -> None:
        """A LINE text from the customer, handled to the end (answer sent, desk synced)."""
        reply_token = self.line.reply_token(user) if token else None
        response = await self.tomo.post(hook.text(user, text, reply_token=reply_token))
        assert response.status_code == 200
        await self.tomo.idle()

    async def card_of(self, user: str) -> Handoff:
        handoff = await self.service.handoffs.open_for(user)
        assert handoff is not None, "no open handoff"
        await wait_until(lambda: self._posted(handoff.id), what="the handoff card")
        reloaded = await self.service.handoffs.get(handoff.id)
        assert reloaded is not None and reloaded.slack_thread_ts is not None
        return reloaded

    async def _posted(self, handoff_id: str) -> bool:
        handoff = await self.service.handoffs.get(handoff_id)
        return handoff is not None and handoff.slack_thread_ts is not None

    async def click(self, action: str, handoff: Handoff, **who: str) -> httpx.Response:
        assert handoff.slack_thread_ts is not None
        raw, headers = slack.click(action, handoff.id, message_ts=handoff.slack_thread_ts, **who)
        return await self.client.post("/slack/events", content=raw, headers=headers)

    async def reply(
        self, handoff: Handoff, text: str, *, retry: int | None = None, **kwargs: Any
    ) -> tuple[httpx.Response, dict[str, Any]]:
        assert handoff.slack_thread_ts is not None
        body = slack.thread_reply(text, thread_ts=handoff.slack_thread_ts, **kwargs)
        raw, headers = slack.event_request(body, retry=retry)
        response = await self.client.post("/slack/events", content=raw, headers=headers)
        return response, body

    async def settled(self) -> None:
        """Every recorded Slack request handled, every LINE message sent."""
        await wait_until(self._no_staff_event_pending, what="Slack requests to be handled")
        await self.tomo.idle()

    async def _no_staff_event_pending(self) -> bool:
        return not await self.side.inbound.events.due(utcnow() + timedelta(days=1))

    async def upkeep(self) -> None:
        await handoff_upkeep_once(self.service, self.side)
        await self.tomo.idle()


@pytest.fixture
async def desk(
    slack_settings: Settings, line_fake: LineFake, slack_fake: SlackFake
) -> AsyncIterator[Desk]:
    clock = Clock()
    async with open_tomo(slack_settings) as tomo:
        tomo.services.runtime.handoffs.clock = clock
        yield Desk(tomo, line_fake.api, slack_fake.api, clock)
