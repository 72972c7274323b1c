"""Schema migrations: Alembic, driven from code, for SQLite and PostgreSQL alike.

`tomo db upgrade` calls `upgrade`; `tomo serve` / `tomo worker` on a database
given by TOMO_DATABASE_URL call `require_current` and refuse to start on an
older schema. The embedded default (SQLite in the data folder) migrates itself
when it opens.

Two processes upgrading at once take turns: PostgreSQL through an advisory
lock held for the migration's transaction, SQLite through a lock file beside
the database.

A database made before migrations existed (tables created directly from the
models) is recognised by its tables and stamped with the first revision, whose
schema it has, then upgraded from there.

New migration (developers): `python -m memory.schema revision -m "what changed"`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fcntl
import logging
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"
FIRST_REVISION = "0001"
# The tables the first revision creates: their presence without Alembic's
# version table marks a database made before migrations existed.
_FIRST_TABLES = frozenset(
    {
        "customer",
        "message",
        "memory",
        "audit",
        "inbox_event",
        "inbox_lane",
        "outbox_message",
        "handoff",
        "staff_event",
    }
)
_PG_LOCK_KEY = 0x746F6D6F  # "tomo"


class SchemaNotCurrent(RuntimeError):
    """The database's schema is not the one this version of tomo needs."""


@dataclass(frozen=True)
class Upgrade:
    before: str | None
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The revision this version of tomo needs."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise RuntimeError(f"no migrations found in {MIGRATIONS}")
    return head


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at (None: never migrated)."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


async def require_current(engine: AsyncEngine) -> None:
    """Raise SchemaNotCurrent, saying what to run, unless the schema is at head."""
    current = await current_revision(engine)
    head = head_revision()
    if current == head:
        return
    where = engine.url.render_as_string(hide_password=True)
    if current is None:
        state = "has no tomo schema yet"
    elif current in _known_revisions():
        state = f"is at schema revision {current}"
    else:
        raise SchemaNotCurrent(
            f"the database {where} is at schema revision {current}, which this version of "
            f"tomo does not know (it needs {head}): it was migrated by a newer tomo"
        )
    raise SchemaNotCurrent(
        f"the database {where} {state}; this version of tomo needs {head}. "
        "Run `tomo db upgrade` (with the same TOMO_DATABASE_URL) first."
    )


def _known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}


async def upgrade(
    engine: AsyncEngine, *, revision: str = "head", lock_dir: Path | None = None
) -> Upgrade:
    """Bring the schema to `revision` (head); safe when several processes do it at once."""
    async with _sqlite_lock(engine, lock_dir), engine.begin() as connection:
        return await connection.run_sync(_upgrade, revision)


def _upgrade(connection: Connection, revision: str) -> Upgrade:
    if connection.dialect.name == "postgresql":
        # Held until this transaction ends: a second upgrader waits, then finds head.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    before = _current(connection)
    config = _config(connection)
    if before is None and set(inspect(connection).get_table_names()) >= _FIRST_TABLES:
        log.info("database made before migrations: stamping revision %s", FIRST_REVISION)
        command.stamp(config, FIRST_REVISION)
        before = FIRST_REVISION
    command.upgrade(config, revision)
    after = _current(connection)
    if after is None:  # pragma: no cover - Alembic always records the revision
        raise RuntimeError("the upgrade recorded no revision")
    return Upgrade(before, after)


@contextlib.asynccontextmanager
async def _sqlite_lock(engine: AsyncEngine, lock_dir: Path | None) -> AsyncIterator[None]:
    """An exclusive lock file beside a SQLite database (waited for off the event loop)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    path = (lock_dir or Path(database).parent) / (Path(database).name + ".migrate.lock")
    with path.open("a") as handle:
        await asyncio.to_thread(fcntl.flock, handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def pending_differences(connection: Connection) -> list[Any]:
    """What the models have that the migrated schema lacks (empty when in step)."""
    from alembic.autogenerate import compare_metadata
    from sqlmodel import SQLModel

    from memory import database  # noqa: F401  (registers every table)

    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


def _revision(message: str) -> None:
    """Autogenerate the next migration from the models (developers)."""
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'schema.db'}"
        engine = create_engine(url)
        with engine.begin() as connection:
            config = _config(connection)
            command.upgrade(config, "head")
            head = ScriptDirectory.from_config(config).get_current_head()
            number = int(head) + 1 if head else 1
            command.revision(config, message=message, autogenerate=True, rev_id=f"{number:04d}")
        engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m memory.schema")
    sub = parser.add_subparsers(dest="command", required=True)
    revision = sub.add_parser("revision", help="autogenerate the next migration from the models")
    revision.add_argument("-m", "--message", required=True)
    sub.add_parser("head", help="print the head revision")
    arguments = parser.parse_args(argv)
    if arguments.command == "revision":
        _revision(arguments.message)
    else:
        print(head_revision())


if __name__ == "__main__":
    main()
