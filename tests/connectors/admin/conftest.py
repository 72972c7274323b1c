"""Fixtures for the admin: the real app (create_app) over ASGI, with its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from connectors.app import Services, create_app
from connectors.runtime import Runtime
from connectors.settings import Settings
from tests.conftest import publish_preset

ADMIN_TOKEN = "test-admin-token-1234567890"
BEARER = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class Collected:
    """A Delivery that keeps what tomo would send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, tuple[str, ...]]] = []

    async def deliver(self, customer_id: str, messages: Sequence[str]) -> None:
        self.sent.append((customer_id, tuple(messages)))


@dataclass
class Admin:
    app: FastAPI
    client: httpx.AsyncClient
    runtime: Runtime

    async def say(self, customer_id: str, text: str) -> None:
        """A customer message through the real turn; memory writes are settled."""
        conversation = self.runtime.conversation
        await conversation.handle_text(customer_id, text, Collected())
        await conversation.memory_writer.settle(customer_id)


@pytest.fixture
def admin_settings(data_dir: Path) -> Settings:
    configured = Settings(data_dir=data_dir, admin_token=ADMIN_TOKEN, workers=0)
    publish_preset(configured)
    return configured


async def _open(settings: Settings) -> AsyncIterator[Admin]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        services: Services = app.state.services
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tomo.test") as client:
            yield Admin(app, client, services.runtime)


@pytest.fixture
async def admin(admin_settings: Settings) -> AsyncIterator[Admin]:
    async for opened in _open(admin_settings):
        yield opened
