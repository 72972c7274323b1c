"""Schema migrations (Alembic) on SQLite and PostgreSQL: in step with the models, safe to race."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from memory.database import async_url, open_engine
from memory.models import Customer
from memory.schema import (
    FIRST_REVISION,
    SchemaNotCurrent,
    current_revision,
    head_revision,
    pending_differences,
    upgrade,
)


async def test_the_migrated_schema_is_exactly_what_the_models_describe(
    any_database_url: str,
) -> None:
    engine = await open_engine(any_database_url, migrate=True)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(pending_differences)
        assert differences == []
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_an_unmigrated_database_is_refused_with_the_command_to_run(
    any_database_url: str,
) -> None:
    with pytest.raises(SchemaNotCurrent, match=r"tomo db upgrade"):
        await open_engine(any_database_url, migrate=False)


async def test_upgrading_twice_changes_nothing_the_second_time(any_database_url: str) -> None:
    engine = create_async_engine(async_url(any_database_url))
    try:
        first = await upgrade(engine)
        second = await upgrade(engine)
    finally:
        await engine.dispose()
    assert (first.before, first.after) == (None, head_revision())
    assert not second.changed


async def test_processes_upgrading_at_once_take_turns(any_database_url: str) -> None:
    engines = [create_async_engine(async_url(any_database_url)) for _ in range(3)]
    try:
        results = await asyncio.gather(*(upgrade(engine) for engine in engines))
    finally:
        for engine in engines:
            await engine.dispose()
    assert {result.after for result in results} == {head_revision()}


async def test_a_database_made_before_migrations_is_adopted_and_keeps_its_rows(
    any_database_url: str,
) -> None:
    engine = create_async_engine(async_url(any_database_url))
    try:
        # The first revision's tables without Alembic's record: what tomo made before.
        await upgrade(engine, revision=FIRST_REVISION)
        async with engine.begin() as connection:
            await connection.execute(text("DROP TABLE alembic_version"))
            await connection.execute(
                SQLModel.metadata.tables["customer"]
                .insert()
                .values(
                    id="花子",
                    channel="terminal",
                    active=True,
                    created_at=Customer().created_at,
                    last_seen_at=Customer().last_seen_at,
                )
            )
        done = await upgrade(engine)
        assert done.after == head_revision()
        async with engine.connect() as connection:
            count = await connection.scalar(text("SELECT count(*) FROM customer"))
        assert count == 1
    finally:
        await engine.dispose()
