"""Leases and failed logins in SQL: shared by every process on one database.

Each "process" is its own engine on the same database (SQLite file, and
PostgreSQL where the machine has it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.admin_state import AdminLease, LeaseBusy, LoginLimit, lease
from memory.database import open_engine
from memory.models import utcnow


@pytest.fixture
async def engines(any_database_url: str) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    first = await open_engine(any_database_url, migrate=True)
    second = await open_engine(any_database_url, migrate=True)
    try:
        yield first, second
    finally:
        await first.dispose()
        await second.dispose()


async def test_a_held_lease_keeps_another_process_out_until_it_is_released(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    one, other = engines
    async with lease(one, "persona"):
        with pytest.raises(LeaseBusy):
            async with lease(other, "persona", wait_seconds=0.2):
                pass
    async with lease(other, "persona", wait_seconds=2), one.connect() as connection:
        holders = (await connection.execute(select(AdminLease.name))).scalars().all()
    assert holders == ["persona"]


async def test_other_names_are_not_held_by_a_lease(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    one, other = engines
    async with lease(one, "persona"), lease(other, "escalation", wait_seconds=0.2):
        pass


async def test_the_expired_lease_of_a_holder_that_died_is_taken_over(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    one, _ = engines
    async with one.begin() as connection:
        await connection.execute(
            insert(AdminLease).values(
                name="persona", holder="crashed", expires_at=utcnow() - timedelta(seconds=1)
            )
        )
    async with lease(one, "persona", wait_seconds=0.5), one.connect() as connection:
        holder = await connection.scalar(select(AdminLease.holder))
    assert holder != "crashed"


async def test_a_long_operation_keeps_its_lease_by_renewing_it(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    one, other = engines
    async with lease(one, "persona", lease_seconds=0.3):
        await asyncio.sleep(0.6)  # twice the lease: only renewal keeps it
        with pytest.raises(LeaseBusy):
            async with lease(other, "persona", wait_seconds=0.1):
                pass


async def test_failed_logins_in_one_process_block_the_address_in_another(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    one, other = engines
    here = LoginLimit(one, attempts=3, window=600)
    there = LoginLimit(other, attempts=3, window=600)
    for _ in range(3):
        assert not await there.blocked("203.0.113.7")
        await here.failed("203.0.113.7")
    assert await there.blocked("203.0.113.7")
    assert not await there.blocked("198.51.100.1")
    await there.succeeded("203.0.113.7")
    assert not await here.blocked("203.0.113.7")


async def test_failed_logins_older_than_the_window_do_not_count(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    one, _ = engines
    limit = LoginLimit(one, attempts=2, window=600)
    long_ago = utcnow() - timedelta(seconds=601)
    await limit.failed("203.0.113.7", now=long_ago)
    await limit.failed("203.0.113.7", now=long_ago)
    assert await limit.blocked("203.0.113.7", now=long_ago)
    assert not await limit.blocked("203.0.113.7")
