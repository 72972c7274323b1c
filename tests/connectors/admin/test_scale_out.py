"""Two tomo app instances over one database (scale-out): the admin's login limit and
persona changes hold across both, as they would across `tomo serve` processes."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from connectors.admin.auth import LOGIN_ATTEMPTS
from connectors.settings import Settings
from memory.admin_state import lease
from tests.conftest import migrate, publish_preset
from tests.connectors.admin.conftest import ADMIN_TOKEN, BEARER, Admin, _open

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
async def two_apps(any_database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Admin, Admin]]:
    await migrate(any_database_url)
    async with contextlib.AsyncExitStack() as stack:
        opened = []
        for name in ("one", "two"):
            settings = Settings(
                data_dir=tmp_path / name,
                database_url=any_database_url,
                admin_token=ADMIN_TOKEN,
                workers=0,
            )
            publish_preset(settings)
            opened.append(
                await stack.enter_async_context(contextlib.asynccontextmanager(_open)(settings))
            )
        yield opened[0], opened[1]


async def _login(client: httpx.AsyncClient, token: str) -> httpx.Response:
    page = await client.get("/admin/login")
    found = CSRF.search(page.text)
    assert found
    return await client.post("/admin/login", data={"token": token, "csrf": found[1]})


async def test_two_app_instances_over_one_database_share_the_login_rate_limit(
    two_apps: tuple[Admin, Admin],
) -> None:
    one, two = two_apps
    for _ in range(LOGIN_ATTEMPTS):
        assert (await _login(one.client, "guess")).status_code == 401

    refused = await _login(two.client, ADMIN_TOKEN)

    assert refused.status_code == 429


async def test_a_persona_change_waits_while_another_instance_holds_the_persona(
    two_apps: tuple[Admin, Admin],
) -> None:
    one, two = two_apps
    draft = two.runtime.personas.draft().model_dump(mode="json")
    draft["voice"]["first_person"] = "ボク"
    async with lease(one.runtime.store.engine, "persona"):
        # The other instance's desk cannot get in while this one holds the persona.
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(1.0):
                await two.client.put("/api/persona/draft", json=draft, headers=BEARER)
    saved = await two.client.put("/api/persona/draft", json=draft, headers=BEARER)
    assert saved.status_code == 200
    assert two.runtime.personas.draft().voice.first_person == "ボク"
