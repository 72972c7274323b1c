"""The SQL engine: SQLite in the data folder by default, any SQLAlchemy URL otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from memory import (
    admin_state,  # noqa: F401  (the admin's leases and failed logins, shared by processes)
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


async def open_engine(url: str, *, migrate: bool = True) -> AsyncEngine:
    """Create the engine; migrate the schema to head, or require that it is there.

    `migrate=False` is for databases that operators manage (TOMO_DATABASE_URL):
    the schema is changed only by `tomo db upgrade`, and opening an older one
    raises `SchemaNotCurrent` saying so.
    """
    from memory.schema import require_current, upgrade

    target = async_url(url)
    if target.startswith("sqlite"):
        database = make_url(target).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    # hide_parameters: a database error's message would otherwise quote the
    # statement's values (what customers said) into the log.
    # pool_pre_ping: a PostgreSQL restart leaves dead connections in the pool, and
    # the ping finds them. A SQLite file has none, and the ping cost a round trip
    # through aiosqlite's thread per session (a recall's SQL: 3.65 → 3.18 ms p50).
    engine = create_async_engine(
        target, pool_pre_ping=not target.startswith("sqlite"), hide_parameters=True
    )
    if engine.dialect.name == "sqlite":
        event.listen(engine.sync_engine, "connect", _tune_sqlite)
    try:
        if migrate:
            await upgrade(engine)
        else:
            await require_current(engine)
    except BaseException:
        await engine.dispose()
        raise
    return engine
