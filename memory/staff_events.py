"""What the staff side sent (Slack events and button clicks): each request once, none lost.

One row per request, keyed by the platform's own id for it, written before
the request is acknowledged. A retried or duplicated request hits the unique
key and is not handled twice; a request whose handling a crash cut short is
still pending and is handled again later. What was said is emptied once the
request is handled.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import Field, SQLModel, col, delete, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from memory.models import UtcDateTime, utcnow


class StaffEventStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class StaffEvent(SQLModel, table=True):
    """One request from the staff side (Slack), recorded before it is acknowledged."""

    __tablename__ = "staff_event"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True, description="The platform's id of the request")
    kind: str = Field(max_length=32)
    payload: str = Field(description="The request as JSON; emptied once handled")
    status: StaffEventStatus = Field(default=StaffEventStatus.PENDING, index=True)
    attempts: int = 0
    retry_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


def _rowcount(result: Any) -> int:
    return int(result.rowcount or 0) if isinstance(result, CursorResult) else 0


class StaffEventStore:
    """Staff-side requests over the SQL engine the memory store opened."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def receive(self, key: str, kind: str, payload: str, *, retry_at: datetime) -> bool:
        """Record a staff-side request before it is acknowledged; False if seen before.

        `retry_at`: when the request is handled again if nothing marked it done
        by then (the process handling it died).
        """
        row = {
            "key": key,
            "kind": kind,
            "payload": payload,
            "status": StaffEventStatus.PENDING,
            "attempts": 0,
            "retry_at": retry_at,
            "received_at": utcnow(),
        }
        target = SQLModel.metadata.tables[str(StaffEvent.__tablename__)]
        name = self._engine.dialect.name
        if name == "sqlite":
            insert: Any = sqlite.insert(target)
        elif name == "postgresql":
            insert = postgresql.insert(target)
        else:
            raise NotImplementedError(f"staff events support SQLite and PostgreSQL, not {name}")
        statement = (
            insert.values([row])
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(target.c.key)
        )
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
            return len(result.fetchall()) == 1

    async def event(self, key: str) -> StaffEvent | None:
        async with AsyncSession(self._engine) as session:
            rows = await session.exec(select(StaffEvent).where(col(StaffEvent.key) == key))
            return rows.first()

    async def take(self, key: str, *, now: datetime, until: datetime) -> bool:
        """Take a pending request to handle it now (until `until`); False if another has it."""
        taken = await self._update(
            update(StaffEvent)
            .where(
                col(StaffEvent.key) == key,
                col(StaffEvent.status) == StaffEventStatus.PENDING,
                col(StaffEvent.retry_at) <= now,
            )
            .values(retry_at=until, attempts=StaffEvent.attempts + 1)
        )
        return taken == 1

    async def finish(self, key: str, *, failed: bool = False) -> None:
        status = StaffEventStatus.FAILED if failed else StaffEventStatus.DONE
        await self._update(
            update(StaffEvent)
            .where(col(StaffEvent.key) == key)
            .values(status=status, payload="", finished_at=utcnow())
        )

    async def due(self, now: datetime, *, limit: int = 50) -> list[StaffEvent]:
        """Pending requests nobody is handling (a crash cut them short), oldest first."""
        async with AsyncSession(self._engine) as session:
            rows = await session.exec(
                select(StaffEvent)
                .where(
                    col(StaffEvent.status) == StaffEventStatus.PENDING,
                    col(StaffEvent.retry_at) <= now,
                )
                .order_by(col(StaffEvent.id))
                .limit(limit)
            )
            return list(rows.all())

    async def prune(self, before: datetime) -> int:
        """Drop handled staff events older than `before` (Slack retries within minutes)."""
        return await self._update(
            delete(StaffEvent).where(
                col(StaffEvent.status) != StaffEventStatus.PENDING,
                col(StaffEvent.finished_at) < before,
            )
        )

    async def _update(self, statement: Any) -> int:
        async with self._engine.begin() as connection:
            result = await connection.execute(statement)
        return _rowcount(result)


__all__ = ["StaffEvent", "StaffEventStatus", "StaffEventStore"]
