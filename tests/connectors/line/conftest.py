"""Fixtures for the LINE connector: a fake Messaging API on a free port, the app over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from connectors.app import Services, create_app
from connectors.settings import Settings
from tests.conftest import publish_preset
from tests.fakes import line_webhook as hook
from tests.fakes.line_api import ACCESS_TOKEN, FakeLineApi


@dataclass
class LineFake:
    api: FakeLineApi
    url: str


def line_settings_for(data_dir: Path, api_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "line_channel_secret": hook.CHANNEL_SECRET,
        "line_channel_access_token": ACCESS_TOKEN,
        "line_api_base": api_url,
        "line_retry_seconds": 0.01,
        "inbox_poll_seconds": 0.05,
        "inbox_lease_seconds": 30.0,
        "burst_seconds": 0.0,  # texts already waiting are still joined; see test_bursts.py
        "workers": 4,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def line_settings(data_dir: Path, line_fake: LineFake, database_url: str | None) -> Settings:
    settings = line_settings_for(data_dir, line_fake.url, database_url=database_url)
    publish_preset(settings)
    return settings


@dataclass
class Tomo:
    """The running app: post signed webhooks to it, look at what it stored."""

    app: FastAPI
    client: httpx.AsyncClient

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    async def post(self, *events: dict[str, Any]) -> httpx.Response:
        raw = hook.body(*events)
        return await self.client.post("/line/webhook", content=raw, headers=hook.headers(raw))

    async def idle(self) -> None:
        """Wait until every stored event is handled and every answer sent."""
        workers = self.services.workers
        assert workers is not None
        assert await workers.idle(within_seconds=15), "workers did not finish"

    async def runtime_settled(self, customer_id: str) -> None:
        """Wait for the memory written after a customer's turns (off the reply path)."""
        await self.services.runtime.conversation.memory_writer.settle(customer_id)


@asynccontextmanager
async def open_tomo(settings: Settings) -> AsyncIterator[Tomo]:
    """The app with its lifespan (stores, LINE client, workers), reached over ASGI."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tomo.test") as client:
            yield Tomo(app, client)


@pytest.fixture
async def tomo(line_settings: Settings) -> AsyncIterator[Tomo]:
    async with open_tomo(line_settings) as opened:
        yield opened
