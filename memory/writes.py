"""Writing memories, one or many at a time, each naming its customer.

One path for both: a single `remember` and the memory writer's batches. A batch
embeds all texts at once, reads the customers' active memories in one query,
writes the vectors with one upsert per shard and then the SQL rows in one
transaction. Chroma's cost is mostly per call, so a big batch is far cheaper a
memory than many small ones.

(Embedding the next part of a batch on another thread while this part is
stored was tried: on two cores it gained nothing measurable, 593 vs 603
memories/s, so a batch is one step.)
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import NDArray
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from memory.embedding import SentenceEncoder
from memory.models import Author, MemoryKind, MemoryRecord, utcnow
from memory.reconcile import Known, reconcile
from memory.sensitivity import sensitivity_of
from memory.vectors import VectorEntry, VectorStore

AUTO = "auto"  # sensitivity: tag from the text


class Outcome(StrEnum):
    ADDED = "added"
    MERGED = "merged"  # the same thing was known: touched, not stored twice
    SUPERSEDED = "superseded"  # added, and older facts of the same slot retired


@dataclass(frozen=True)
class NewMemory:
    """A memory to write, naming its customer."""

    customer_id: str
    text: str
    kind: MemoryKind = MemoryKind.EPISODIC
    author: Author = Author.CUSTOMER
    source_message_id: int | None = None
    sensitivity: str | None = AUTO
    key: str | None = None
    event_date: str | None = None
    replaces: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Remembered:
    record: MemoryRecord
    outcome: Outcome
    retired: tuple[str, ...] = ()


async def write_memories(
    engine: AsyncEngine,
    vectors: VectorStore,
    encoder: SentenceEncoder,
    items: Sequence[NewMemory],
) -> list[Remembered]:
    """Write the memories (deduplicated, superseding by slot); results align with items."""
    if not items:
        return []
    if any(not item.customer_id for item in items):
        raise ValueError("every memory names its customer")
    embedded = await asyncio.to_thread(encoder.encode, [item.text for item in items])
    customers = sorted({item.customer_id for item in items})
    async with AsyncSession(engine, expire_on_commit=False) as session:
        rows = await session.exec(
            select(MemoryRecord).where(
                col(MemoryRecord.customer_id).in_(customers),
                col(MemoryRecord.superseded_by).is_(None),
            )
        )
        active: dict[str, list[MemoryRecord]] = defaultdict(list)
        for row in rows:
            active[row.customer_id].append(row)
    known_vectors = await asyncio.to_thread(
        vectors.vectors_of_many,
        {customer: [record.id for record in records] for customer, records in active.items()},
    )

    results: list[Remembered] = []
    added: list[tuple[MemoryRecord, NDArray[np.float32]]] = []
    touched: list[MemoryRecord] = []
    retire: dict[str, str] = {}  # old id → new id
    for item, vector in zip(items, embedded, strict=True):
        pool = [r for r in active[item.customer_id] if r.id in known_vectors and r.id not in retire]
        known = [Known(r.id, r.text, r.key) for r in pool]
        similarities = [float(known_vectors[r.id] @ vector) for r in pool]
        plan = reconcile(item.text, item.key, known, similarities, item.replaces)
        if plan.duplicate_of is not None:
            existing = next(r for r in pool if r.id == plan.duplicate_of)
            touched.append(existing)
            results.append(Remembered(existing, Outcome.MERGED))
            continue
        record = MemoryRecord(
            customer_id=item.customer_id,
            kind=item.kind,
            text=item.text,
            author=item.author,
            source_message_id=item.source_message_id,
            sensitivity=sensitivity_of(item.text) if item.sensitivity == AUTO else item.sensitivity,
            key=item.key,
            event_date=item.event_date,
        )
        for old in plan.supersede:
            retire[old] = record.id
        # Later items of the same batch reconcile against this one too.
        active[item.customer_id].append(record)
        known_vectors[record.id] = vector
        added.append((record, vector))
        outcome = Outcome.SUPERSEDED if plan.supersede else Outcome.ADDED
        results.append(Remembered(record, outcome, plan.supersede))

    # Vectors before rows: if the vector store cannot be reached nothing is
    # stored, and writing again later does not find a row without its vector
    # (which it could not match, and so would store twice). A failure after
    # the upsert leaves only vectors no row names: never recalled.
    if added:
        entries = [
            VectorEntry(record.customer_id, record.id, record.kind.value, vector)
            for record, vector in added
        ]
        await asyncio.to_thread(vectors.add_many, entries)
    now = utcnow()
    async with AsyncSession(engine, expire_on_commit=False) as session:
        session.add_all([record for record, _ in added])
        for old, new in retire.items():
            await session.exec(
                update(MemoryRecord)
                .where(col(MemoryRecord.id) == old)
                .values(superseded_by=new, updated_at=now)
            )
        if touched:
            await session.exec(
                update(MemoryRecord)
                .where(col(MemoryRecord.id).in_([record.id for record in touched]))
                .values(updated_at=now)
            )
        await session.commit()
    return results
