"""One customer's memory: the only way to remember, recall or forget.

A `CustomerMemory` is bound to one customer id when it is made. No method takes
another id, and every SQL query and Chroma call below is filtered by the bound
id, so no call can reach another customer's memories.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from memory.embedding import SentenceEncoder
from memory.models import Author, MemoryKind, MemoryRecord, utcnow
from memory.recall import Candidate, Scored, rank
from memory.vectors import VectorStore


@dataclass(frozen=True)
class Recalled:
    """A recalled memory with its score and provenance."""

    id: str
    text: str
    kind: MemoryKind
    author: Author
    sensitivity: str | None
    source_message_id: int | None
    created_at: datetime
    score: float
    vector_score: float
    lexical_score: float


class CustomerMemory:
    """Remember, recall and forget for exactly one customer."""

    def __init__(
        self,
        customer_id: str,
        engine: AsyncEngine,
        vectors: VectorStore,
        encoder: SentenceEncoder,
    ) -> None:
        if not customer_id:
            raise ValueError("a memory handle needs a customer id")
        self._customer_id = customer_id
        self._engine = engine
        self._vectors = vectors
        self._encoder = encoder

    @property
    def customer_id(self) -> str:
        return self._customer_id

    async def remember(
        self,
        text: str,
        *,
        kind: MemoryKind = MemoryKind.EPISODIC,
        author: Author = Author.CUSTOMER,
        source_message_id: int | None = None,
        sensitivity: str | None = None,
    ) -> MemoryRecord:
        """Store one memory: the SQL row first, then its vector under the same id."""
        record = MemoryRecord(
            customer_id=self._customer_id,
            kind=kind,
            text=text,
            author=author,
            source_message_id=source_message_id,
            sensitivity=sensitivity,
        )
        async with AsyncSession(self._engine, expire_on_commit=False) as session:
            session.add(record)
            await session.commit()
        vector = await asyncio.to_thread(self._encoder.encode, [text])
        await asyncio.to_thread(
            self._vectors.add, self._customer_id, [record.id], [text], vector, [kind.value]
        )
        return record

    async def records(self) -> list[MemoryRecord]:
        """Every memory of this customer, oldest first."""
        async with AsyncSession(self._engine) as session:
            rows = await session.exec(
                select(MemoryRecord)
                .where(MemoryRecord.customer_id == self._customer_id)
                .order_by(col(MemoryRecord.created_at))
            )
            return list(rows.all())

    async def recall(self, query: str, k: int = 5) -> list[Recalled]:
        """The k memories that best match the query, best first."""
        records = await self.records()
        if not records or k <= 0:
            return []
        by_id = {record.id: record for record in records}
        query_vector, vectors = await asyncio.gather(
            asyncio.to_thread(self._encoder.encode, [query]),
            asyncio.to_thread(self._vectors.vectors, self._customer_id, list(by_id)),
        )
        candidates = [
            Candidate(memory_id, by_id[memory_id].text, by_id[memory_id].created_at, vector)
            for memory_id, vector in vectors.items()
        ]
        ranked = rank(query, query_vector[0], candidates, utcnow(), k)
        return [_recalled(by_id[item.memory_id], item) for item in ranked]

    async def recent(self, k: int = 5) -> list[Recalled]:
        """The k newest memories (score 0: nothing was asked), newest first."""
        async with AsyncSession(self._engine) as session:
            rows = await session.exec(
                select(MemoryRecord)
                .where(MemoryRecord.customer_id == self._customer_id)
                .order_by(col(MemoryRecord.created_at).desc())
                .limit(k)
            )
            return [_recalled(record, Scored(record.id, 0.0, 0.0, 0.0, 0.0)) for record in rows]

    async def forget(self, memory_ids: Sequence[str]) -> int:
        """Forget these memories of this customer; returns how many were forgotten."""
        if not memory_ids:
            return 0
        async with AsyncSession(self._engine) as session:
            owned = await session.exec(
                select(MemoryRecord.id).where(
                    MemoryRecord.customer_id == self._customer_id,
                    col(MemoryRecord.id).in_(list(memory_ids)),
                )
            )
            ids = list(owned.all())
            if not ids:
                return 0
            await session.exec(
                delete(MemoryRecord).where(
                    col(MemoryRecord.customer_id) == self._customer_id,
                    col(MemoryRecord.id).in_(ids),
                )
            )
            await session.commit()
        await asyncio.to_thread(self._vectors.delete, self._customer_id, ids)
        return len(ids)

    async def forget_all(self) -> int:
        """Forget every memory of this customer: SQL rows and every vector."""
        async with AsyncSession(self._engine) as session:
            result = await session.exec(
                delete(MemoryRecord).where(col(MemoryRecord.customer_id) == self._customer_id)
            )
            await session.commit()
        await asyncio.to_thread(self._vectors.delete, self._customer_id, None)
        return int(result.rowcount or 0)

    async def vector_count(self) -> int:
        """How many vectors Chroma holds for this customer."""
        return await asyncio.to_thread(self._vectors.count, self._customer_id)


def _recalled(record: MemoryRecord, scored: Scored) -> Recalled:
    return Recalled(
        id=record.id,
        text=record.text,
        kind=record.kind,
        author=record.author,
        sensitivity=record.sensitivity,
        source_message_id=record.source_message_id,
        created_at=record.created_at,
        score=scored.score,
        vector_score=scored.vector_score,
        lexical_score=scored.lexical_score,
    )
