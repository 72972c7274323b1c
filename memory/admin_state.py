"""What the managers' side shares across processes: named leases and failed logins.

With several `tomo serve` processes over one database, a lock in one process's
memory serialises nothing, and a login limit in memory is one limit per
process. Both live here, in SQL, so they hold across every process on the
database (SQLite and PostgreSQL alike, with no dialect-specific statements).

- A lease (`admin_lease`) is a named lock with an expiry. It is taken by
  inserting its row (the primary key lets one insert win) or by taking over a
  row whose expiry has passed (its holder died). While held it is renewed in
  the background, so a long operation keeps it and a crashed one frees it
  within `LEASE_SECONDS`.
- A failed login (`admin_login_failure`) is one row per failure; an address
  with too many rows within the window must wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Field, SQLModel, col

from memory.models import UtcDateTime, utcnow

log = logging.getLogger(__name__)

LEASE_SECONDS = 60.0  # a holder that stops renewing loses the lease after this long
WAIT_SECONDS = 300.0  # how long a caller waits for a lease before giving up


class AdminLease(SQLModel, table=True):
    """A named lock held by one process until it releases it or stops renewing it."""

    __tablename__ = "admin_lease"

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=64, description="A random id of the holding call")
    expires_at: datetime = Field(sa_type=UtcDateTime)


class AdminLoginFailure(SQLModel, table=True):
    """One failed admin login from one address (kept only for the rate limit's window)."""

    __tablename__ = "admin_login_failure"

    id: int | None = Field(default=None, primary_key=True)
    client: str = Field(max_length=200, index=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime, index=True)


class LeaseBusy(TimeoutError):
    """The lease stayed with another holder for longer than the caller would wait."""


async def _try_take(engine: AsyncEngine, name: str, holder: str, lease: float) -> bool:
    now = utcnow()
    expires = now + timedelta(seconds=lease)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(AdminLease).values(name=name, holder=holder, expires_at=expires)
            )
        return True
    except IntegrityError:
        pass
    # Someone holds it, or held it and died: take it over only once it has expired.
    async with engine.begin() as connection:
        result = await connection.execute(
            update(AdminLease)
            .where(col(AdminLease.name) == name, col(AdminLease.expires_at) < now)
            .values(holder=holder, expires_at=expires)
        )
    return result.rowcount == 1


async def _renew(engine: AsyncEngine, name: str, holder: str, lease: float) -> None:
    while True:
        await asyncio.sleep(lease / 3)
        async with engine.begin() as connection:
            result = await connection.execute(
                update(AdminLease)
                .where(col(AdminLease.name) == name, col(AdminLease.holder) == holder)
                .values(expires_at=utcnow() + timedelta(seconds=lease))
            )
        if result.rowcount != 1:
            log.warning("the lease %r was lost while held (renewal came too late)", name)
            return


@contextlib.asynccontextmanager
async def lease(
    engine: AsyncEngine,
    name: str,
    *,
    lease_seconds: float = LEASE_SECONDS,
    wait_seconds: float = WAIT_SECONDS,
) -> AsyncIterator[None]:
    """Hold the lease `name` for the body: one holder at a time across every process.

    Waits (polling) while another holder has it; raises LeaseBusy after
    `wait_seconds`.
    """
    holder = secrets.token_hex(16)
    deadline = time.monotonic() + wait_seconds
    pause = 0.02
    while not await _try_take(engine, name, holder, lease_seconds):
        if time.monotonic() >= deadline:
            raise LeaseBusy(f"{name!r} is held by another process")
        await asyncio.sleep(pause)
        pause = min(pause * 2, 0.5)
    renewal = asyncio.create_task(_renew(engine, name, holder, lease_seconds))
    try:
        yield
    finally:
        renewal.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await renewal
        async with engine.begin() as connection:
            await connection.execute(
                delete(AdminLease).where(
                    col(AdminLease.name) == name, col(AdminLease.holder) == holder
                )
            )


class LoginLimit:
    """At most `attempts` failed logins per address within `window` seconds."""

    def __init__(self, engine: AsyncEngine, *, attempts: int, window: float) -> None:
        self._engine = engine
        self._attempts = attempts
        self._window = timedelta(seconds=window)

    async def blocked(self, client: str, now: datetime | None = None) -> bool:
        """Whether this address failed too often lately to try again yet."""
        since = (now or utcnow()) - self._window
        async with self._engine.connect() as connection:
            failures = await connection.scalar(
                select(func.count())
                .select_from(AdminLoginFailure)
                .where(col(AdminLoginFailure.client) == client, col(AdminLoginFailure.at) >= since)
            )
        return (failures or 0) >= self._attempts

    async def failed(self, client: str, now: datetime | None = None) -> None:
        moment = now or utcnow()
        async with self._engine.begin() as connection:
            # Failures older than the window count for nobody: the table stays small.
            await connection.execute(
                delete(AdminLoginFailure).where(col(AdminLoginFailure.at) < moment - self._window)
            )
            await connection.execute(insert(AdminLoginFailure).values(client=client, at=moment))

    async def succeeded(self, client: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                delete(AdminLoginFailure).where(col(AdminLoginFailure.client) == client)
            )
