"""`tomo db upgrade|current`: the SQL schema, migrated with Alembic (memory/schema.py)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated

import typer
from sqlalchemy.exc import OperationalError

from connectors.cli_common import err, load_settings, out
from connectors.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

db_app = typer.Typer(help="The SQL database's schema (Alembic migrations).", no_args_is_help=True)


def _where(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.resolved_database_url).render_as_string(hide_password=True)


async def _upgrade(settings: Settings) -> tuple[str | None, str]:
    from memory.database import async_url
    from memory.schema import upgrade

    engine = _engine(async_url(settings.resolved_database_url))
    try:
        done = await upgrade(engine)
    finally:
        await engine.dispose()
    return done.before, done.after


async def _current(settings: Settings) -> str | None:
    from memory.database import async_url
    from memory.schema import current_revision

    engine = _engine(async_url(settings.resolved_database_url))
    try:
        return await current_revision(engine)
    finally:
        await engine.dispose()


def _engine(url: str) -> AsyncEngine:
    from sqlalchemy.ext.asyncio import create_async_engine

    return create_async_engine(url)


async def require_schema(settings: Settings) -> None:
    """Raise SchemaNotCurrent unless a database the operator named is migrated.

    The embedded default migrates itself when it opens, so it is not checked.
    """
    if settings.database_url is None:
        return
    from memory.database import open_engine

    engine = await open_engine(settings.resolved_database_url, migrate=False)
    await engine.dispose()


@db_app.command("upgrade")
def upgrade_command() -> None:
    """Apply the schema migrations this version of tomo needs (safe to run again)."""
    settings = load_settings()
    _ensure_data_dir(settings)
    try:
        before, after = asyncio.run(_upgrade(settings))
    except OperationalError as error:
        err.print(f"could not reach the database {_where(settings)}: {error.orig}", soft_wrap=True)
        raise typer.Exit(1) from error
    if before == after:
        out.print(
            f"the database {_where(settings)} is up to date (schema revision {after})",
            soft_wrap=True,
        )
    else:
        out.print(
            f"the database {_where(settings)} was upgraded from "
            f"{before or 'an empty database'} to schema revision {after}",
            soft_wrap=True,
        )


@db_app.command("current")
def current_command(
    check: Annotated[
        bool, typer.Option("--check", help="exit 1 unless the schema is what tomo needs")
    ] = False,
) -> None:
    """Which schema revision the database is at, and which this tomo needs."""
    from memory.schema import head_revision

    settings = load_settings()
    try:
        current = asyncio.run(_current(settings))
    except OperationalError as error:
        err.print(f"could not reach the database {_where(settings)}: {error.orig}", soft_wrap=True)
        raise typer.Exit(1) from error
    head = head_revision()
    out.print(
        f"database {_where(settings)}: {current or 'not migrated'}; tomo needs {head}",
        soft_wrap=True,
    )
    if check and current != head:
        raise typer.Exit(1)


def _ensure_data_dir(settings: Settings) -> None:
    if settings.database_url is None:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
