"""The SQL engine: SQLite in the data folder by default, any SQLAlchemy URL otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import SQLModel

from memory import (
    handoffs,  # noqa: F401  (handoffs to staff)
    models,  # noqa: F401  (registers the tables on SQLModel.metadata)
    queue,  # noqa: F401  (the inbox and outbox tables)
    staff_events,  # noqa: F401  (what staff sent from Slack)
)

_ASYNC_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg2": "postgresql+psycopg",
    "postgresql+asyncpg": "postgresql+asyncpg",
}


def default_database_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'tomo.db').resolve()}"


def async_url(url: str) -> str:
    """The async-driver form of a SQLAlchemy URL (sqlite → aiosqlite, postgresql → psycopg)."""
    parsed = make_url(url)
    driver = _ASYNC_DRIVERS.get(parsed.drivername, parsed.drivername)
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def _tune_sqlite(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the terminal chat, `tomo customer …` and the server read while one writes.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


async def open_engine(url: str) -> AsyncEngine:
    """Create the engine and the tables that do not exist yet."""
    target = async_url(url)
    if target.startswith("sqlite"):
        database = make_url(target).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(target, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
    await _create_tables(engine)
    return engine


async def _create_tables(engine: AsyncEngine) -> None:
    """create_all, safe when two processes start on a new database at once.

    `tomo serve` and `tomo worker` started together both see a table missing and
    both create it; the loser gets "already exists". Trying again then finds
    everything there.
    """
    for attempt in range(3):
        try:
            async with engine.begin() as connection:
                await connection.run_sync(SQLModel.metadata.create_all)
            return
        except (OperationalError, ProgrammingError, IntegrityError) as error:
            if "already exists" not in str(error) or attempt == 2:
                raise
