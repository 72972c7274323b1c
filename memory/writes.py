"""Writing memories, one or many at a time, each naming its customer.

One path for both: a single `remember` and the memory writer's batches. A batch
embeds all texts at once, reads the customers' active memories in one query
(plain columns, no ORM objects), reads from Chroma only the vectors of those
whose sketch (memory.sketch) could be a near-duplicate's, writes the vectors
with one upsert per shard and then the SQL rows in one transaction. Chroma's
cost is mostly per call, so a big batch is far cheaper a memory than many
small ones.

The vectors may come embedded already: the memory writer embeds the next
batch in a child process while this one is stored (memory.encoder_process has
the numbers). Splitting one batch into chunks to the same end lost: 713
against 1,206 memories/s at 100k, with smaller Chroma calls each paying
Chroma's per-call cost, and Chroma's upsert taking twice as long (as it does
beside an encoder on two threads).
"""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import numpy as np
import sqlalchemy as sa
from numpy.typing import NDArray
from sqlalchemy import bindparam, insert, update
from sqlalchemy.ext.asyncio import AsyncEngine

from memory.embedding import DIMENSIONS, SentenceEncoder
from memory.models import MEMORY_TABLE, Author, MemoryKind, MemoryRecord, time_ordered_id, utcnow
from memory.recall import normalise
from memory.reconcile import DUPLICATE_SIMILARITY, Known, reconcile
from memory.sensitivity import sensitivity_of
from memory.sketch import differing_bits, estimated_similarity, most_differing_bits, sketches
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
    """What became of one memory written: its row as stored, and the outcome."""

    row: Mapping[str, Any]
    outcome: Outcome
    retired: tuple[str, ...] = ()

    @functools.cached_property
    def record(self) -> MemoryRecord:
        # Made when asked for: the memory writer never asks, and making one
        # cost about as much as storing it (~60 µs).
        return MemoryRecord(**self.row)


@dataclass(frozen=True)
class _Active:
    """An active memory of a batch's customer: what reconciling needs of it."""

    known: Known
    sketch: bytes | None


async def write_memories(
    engine: AsyncEngine,
    vectors: VectorStore,
    encoder: SentenceEncoder,
    items: Sequence[NewMemory],
    embedded: NDArray[np.float32] | None = None,
) -> list[Remembered]:
    """Write the memories (deduplicated, superseding by slot); results align with items.

    `embedded`: the items' vectors, when they were embedded elsewhere (the
    memory writer embeds a batch in another process while the one before it is
    stored); else `encoder` embeds them here.
    """
    if not items:
        return []
    if any(not item.customer_id for item in items):
        raise ValueError("every memory names its customer")
    if embedded is None:
        embedded = await asyncio.to_thread(encoder.encode, [item.text for item in items])
    elif embedded.shape != (len(items), DIMENSIONS):
        raise ValueError(f"{len(items)} items but vectors of shape {embedded.shape}")
    new_sketches = sketches(embedded)
    plains = [normalise(item.text) for item in items]
    active = await _active_memories(engine, sorted({item.customer_id for item in items}))
    wanted = _possible_duplicates(items, new_sketches, plains, active)
    known_vectors = await asyncio.to_thread(vectors.vectors_of_many, wanted)
    fetched = {memory_id for ids in wanted.values() for memory_id in ids}

    results: list[Remembered] = []
    added: list[tuple[dict[str, Any], NDArray[np.float32]]] = []
    touched: list[str] = []
    retire: dict[str, str] = {}  # old id → new id
    now = utcnow()
    for item, vector, sketch in zip(items, embedded, new_sketches, strict=True):
        # A memory whose vector was looked for and not found is not matched
        # against: recall could not find it either.
        pool = [
            memory
            for memory in active[item.customer_id]
            if memory.known.id not in retire
            and (memory.known.id in known_vectors or memory.known.id not in fetched)
        ]
        similarities = [_similarity(memory, vector, sketch, known_vectors) for memory in pool]
        plan = reconcile(item.text, item.key, [m.known for m in pool], similarities, item.replaces)
        if plan.duplicate_of is not None:
            touched.append(plan.duplicate_of)
            results.append(Remembered({"id": plan.duplicate_of}, Outcome.MERGED))
            continue
        row = _new_row(item, sketch, now)
        for old in plan.supersede:
            retire[old] = row["id"]
        # Later items of the same batch reconcile against this one too.
        active[item.customer_id].append(_Active(Known(row["id"], item.text, item.key), sketch))
        known_vectors[row["id"]] = vector
        added.append((row, vector))
        outcome = Outcome.SUPERSEDED if plan.supersede else Outcome.ADDED
        results.append(Remembered(row, outcome, plan.supersede))

    # Vectors before rows: if the vector store cannot be reached nothing is
    # stored, and writing again later does not find a row without its vector
    # (which it could not match, and so would store twice). A failure after
    # the upsert leaves only vectors no row names: never recalled.
    if added:
        entries = [VectorEntry(row["customer_id"], row["id"], vector) for row, vector in added]
        await asyncio.to_thread(vectors.add_many, entries)
    table = MEMORY_TABLE
    async with engine.begin() as connection:
        if added:
            await connection.execute(insert(table), [row for row, _ in added])
        if retire:
            await connection.execute(
                update(table)
                .where(table.c.id == bindparam("old"))
                .values(superseded_by=bindparam("new"), updated_at=now),
                [{"old": old, "new": new} for old, new in retire.items()],
            )
        if touched:
            await connection.execute(
                update(table).where(table.c.id.in_(touched)).values(updated_at=now)
            )
    if touched:
        merged = await _rows(engine, touched)
        results = [
            # (A memory forgotten in the meantime keeps only its id.)
            Remembered(merged.get(r.row["id"], r.row), r.outcome)
            if r.outcome is Outcome.MERGED
            else r
            for r in results
        ]
    return results


async def _active_memories(engine: AsyncEngine, customers: list[str]) -> dict[str, list[_Active]]:
    """The customers' active memories (only the columns reconciling needs)."""
    table = MEMORY_TABLE
    async with engine.connect() as connection:
        rows = await connection.execute(
            sa.select(
                table.c.id, table.c.customer_id, table.c.text, table.c.key, table.c.sketch
            ).where(table.c.customer_id.in_(customers), table.c.superseded_by.is_(None))
        )
        active: dict[str, list[_Active]] = defaultdict(list)
        for memory_id, customer_id, text, key, sketch in rows:
            active[customer_id].append(_Active(Known(memory_id, text, key), sketch))
    return active


def _possible_duplicates(
    items: Sequence[NewMemory],
    new_sketches: Sequence[bytes],
    plains: Sequence[str],
    active: Mapping[str, Sequence[_Active]],
) -> dict[str, list[str]]:
    """Per customer, the known memories whose vector must be read to reconcile the items:
    those whose sketch could be a near-duplicate's, or with no sketch, or the same text."""
    near = most_differing_bits(DUPLICATE_SIMILARITY)
    wanted: dict[str, dict[str, None]] = defaultdict(dict)
    for item, sketch, plain in zip(items, new_sketches, plains, strict=True):
        for memory in active.get(item.customer_id, ()):
            if (
                memory.sketch is None
                or memory.known.plain == plain
                or differing_bits(memory.sketch, sketch) <= near
            ):
                wanted[item.customer_id][memory.known.id] = None
    return {customer: list(ids) for customer, ids in wanted.items()}


def _similarity(
    memory: _Active,
    vector: NDArray[np.float32],
    sketch: bytes,
    known_vectors: Mapping[str, NDArray[np.float32]],
) -> float:
    """Cosine similarity: exact where the vector was read, else estimated from the sketches
    (which were too far apart for a near-duplicate)."""
    known = known_vectors.get(memory.known.id)
    if known is not None:
        return float(known @ vector)
    if memory.sketch is None:  # cannot happen: memories without a sketch are always read
        raise LookupError(f"the vector of memory {memory.known.id} was not read")
    return estimated_similarity(differing_bits(memory.sketch, sketch))


def _new_row(item: NewMemory, sketch: bytes, now: datetime) -> dict[str, Any]:
    """The SQL row of a new memory (every column)."""
    sensitivity = sensitivity_of(item.text) if item.sensitivity == AUTO else item.sensitivity
    return {
        "id": time_ordered_id(),
        "customer_id": item.customer_id,
        "kind": item.kind,
        "text": item.text,
        "author": item.author,
        "source_message_id": item.source_message_id,
        "sensitivity": sensitivity,
        "key": item.key,
        "event_date": item.event_date,
        "superseded_by": None,
        "sketch": sketch,
        "created_at": now,
        "updated_at": now,
    }


async def _rows(engine: AsyncEngine, ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
    """These memories' rows as stored."""
    async with engine.connect() as connection:
        table = MEMORY_TABLE
        rows = await connection.execute(sa.select(table).where(table.c.id.in_(set(ids))))
        return {row.id: dict(row._mapping) for row in rows}
