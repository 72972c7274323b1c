"""`tomo bench memory`: recall quality, recall latency at scale, write throughput, RSS, disk.

Quality: the project's own Japanese multi-session set (bench/data/memory_ja.yaml),
stored the way the offline turn stores it, probed with recall@5 for tomo's
hybrid ranking beside a vector-only (USE cosine) and a lexical-only baseline.

Scale: a store filled with synthetic unit vectors (10 memories per customer),
then recall for random customers through the real `CustomerMemory.recall`
(query embedding included).
"""

from __future__ import annotations

import asyncio
import gc
import random
import resource
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from sqlalchemy import insert, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.intents import classify, worth_remembering
from bot.memory_writer import BATCH as WRITE_BATCH
from bot.memory_writer import MemoryWriter
from connectors.heap import freeze_start_up_objects
from memory.database import default_database_url
from memory.embedding import DIMENSIONS
from memory.models import (
    Author,
    Customer,
    MemoryKind,
    MemoryRecord,
    MemoryStatus,
    Role,
    time_ordered_id,
    utcnow,
)
from memory.recall import bigrams, lexical_overlap
from memory.sketch import sketches
from memory.store import MemoryStore
from memory.vectors import VectorEntry
from memory.writes import NewMemory

Progress = Callable[[str, int], Callable[[int], None]]  # (label, total) → advance(n)


def _no_progress(label: str, total: int) -> Callable[[int], None]:
    return lambda n: None


@dataclass(frozen=True)
class QualityResult:
    customers: int
    memories: int
    probes: int
    evidence: int
    hybrid: float  # share of expected memories found in the top k
    vector_only: float
    lexical_only: float
    k: int


@dataclass(frozen=True)
class LatencyResult:
    memories: int
    customers: int
    p50_ms: float
    p95_ms: float
    load_seconds: float
    writes_per_second: float  # real texts into the filled store, the memory writer's path


@dataclass(frozen=True)
class WriteResult:
    memories: int
    seconds: float
    batched_per_second: float
    single_per_second: float
    # The same texts embedded alone, `batch` at a time: the share of a write that
    # is the model, which runs at very different speeds from day to day here.
    embedded_per_second: float


@asynccontextmanager
async def _started() -> AsyncIterator[None]:
    """What a started tomo does (connectors.heap): start-up objects frozen; thawed after."""
    freeze_start_up_objects()
    try:
        yield
    finally:
        gc.unfreeze()


def load_set() -> dict[str, Any]:
    text = resources.files("bench").joinpath("data", "memory_ja.yaml").read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


async def _store_sessions(store: MemoryStore, data: dict[str, Any]) -> int:
    """Store every customer's utterances as the offline turn would, dated by session."""
    now = utcnow()
    stored = 0
    for customer in data["customers"]:
        customer_id = customer["id"]
        await store.touch_customer(customer_id, channel="bench")
        sessions = customer["sessions"]
        for number, session in enumerate(sessions):
            age = timedelta(days=30 * (len(sessions) - 1 - number))
            items = [
                NewMemory(customer_id, text)
                for text in session
                if worth_remembering(text, classify(text))
            ]
            results = await store.remember_batch(items)
            new_ids = [r.record.id for r in results if r.outcome != "merged"]
            stored += len(new_ids)
            async with AsyncSession(store.engine) as session_db:
                # A session's lines, a few seconds apart in the order they were said.
                for position, memory_id in enumerate(new_ids):
                    said = now - age + timedelta(seconds=10 * position)
                    await session_db.exec(
                        update(MemoryRecord)
                        .where(col(MemoryRecord.id) == memory_id)
                        .values(created_at=said, updated_at=said)
                    )
                await session_db.commit()
    return stored


async def _baseline(
    store: MemoryStore,
    customer_id: str,
    query: str,
    k: int,
    score: Callable[[float, float], float],
) -> list[str]:
    """Rank one customer's memories by a single signal (a baseline beside tomo's hybrid)."""
    records = await store.memory(customer_id).records(active_only=True)
    vectors = store.vectors.vectors(customer_id, [r.id for r in records])
    query_vector = store.encoder.encode([query])[0]
    grams = bigrams(query)
    scored = sorted(
        (
            score(float(vectors[r.id] @ query_vector), lexical_overlap(grams, bigrams(r.text))),
            r.text,
        )
        for r in records
        if r.id in vectors
    )
    return [text for _, text in reversed(scored[-k:])]


async def measure_quality(
    data_dir: Path, k: int = 5, progress: Progress = _no_progress
) -> QualityResult:
    data = load_set()
    async with MemoryStore.open(
        database_url=default_database_url(data_dir), data_dir=data_dir
    ) as store:
        stored = await _store_sessions(store, data)
        probes = data["probes"]
        advance = progress("recall@5 probes", len(probes))
        found = {"hybrid": 0, "vector": 0, "lexical": 0}
        evidence = 0
        for probe in probes:
            memory = store.memory(probe["customer"])
            hybrid = [item.text for item in await memory.recall(probe["query"], k)]
            customer = probe["customer"]
            vector = await _baseline(store, customer, probe["query"], k, lambda v, _: v)
            lexical = await _baseline(store, customer, probe["query"], k, lambda _, lex: lex)
            for expected in probe["expect"]:
                evidence += 1
                found["hybrid"] += expected in hybrid
                found["vector"] += expected in vector
                found["lexical"] += expected in lexical
            advance(1)
    return QualityResult(
        customers=len(data["customers"]),
        memories=stored,
        probes=len(probes),
        evidence=evidence,
        hybrid=found["hybrid"] / evidence,
        vector_only=found["vector"] / evidence,
        lexical_only=found["lexical"] / evidence,
        k=k,
    )


def _unit_vectors(count: int, rng: np.random.Generator) -> np.ndarray:
    vectors = rng.standard_normal((count, DIMENSIONS)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


async def fill_synthetic(
    store: MemoryStore,
    memories: int,
    per_customer: int = 10,
    progress: Progress = _no_progress,
    chunk: int = 5_000,
) -> list[str]:
    """Bulk-load synthetic memories (random unit vectors); returns the customer ids."""
    rng = np.random.default_rng(7)
    customers = [f"synthetic-{index:07d}" for index in range(memories // per_customer)]
    now = utcnow()
    advance = progress(f"loading {memories:,} memories", memories)
    async with store.engine.begin() as connection:
        for start in range(0, len(customers), chunk):
            await connection.execute(
                insert(Customer),
                [
                    {
                        "id": c,
                        "channel": "bench",
                        "active": True,
                        "created_at": now,
                        "last_seen_at": now,
                    }
                    for c in customers[start : start + chunk]
                ],
            )
    texts = ["肌が乾燥しています", "うちの猫はミルクです", "来月京都に行きます", "送料はいくら？"]
    for start in range(0, len(customers), chunk // per_customer):
        group = customers[start : start + chunk // per_customer]
        rows = []
        entries = []
        vectors = _unit_vectors(len(group) * per_customer, rng)
        signs = sketches(vectors)
        for index, customer in enumerate(group):
            for number in range(per_customer):
                memory_id = time_ordered_id()
                text = texts[number % len(texts)]
                rows.append(
                    {
                        "id": memory_id,
                        "customer_id": customer,
                        "kind": MemoryKind.EPISODIC,
                        "text": text,
                        "author": Author.CUSTOMER,
                        "sketch": signs[index * per_customer + number],
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                vector = vectors[index * per_customer + number]
                entries.append(VectorEntry(customer, memory_id, vector))
        async with store.engine.begin() as connection:
            await connection.execute(insert(MemoryRecord), rows)
        await asyncio.to_thread(store.vectors.add_many, entries)
        advance(len(rows))
    return customers


async def measure_latency(
    data_dir: Path,
    memories: int,
    samples: int = 300,
    progress: Progress = _no_progress,
    shards: int = 4,
    writes: int = 2_048,
) -> LatencyResult:
    async with (
        MemoryStore.open(
            database_url=default_database_url(data_dir), data_dir=data_dir, shards=shards
        ) as store,
        _started(),
    ):
        started = time.perf_counter()
        customers = await fill_synthetic(store, memories, progress=progress)
        load_seconds = time.perf_counter() - started
        rng = random.Random(11)
        await store.memory(customers[0]).recall("猫の名前")  # warm the encoder and indexes
        advance = progress(f"recall at {memories:,}", samples)
        timings = []
        for _ in range(samples):
            customer = rng.choice(customers)
            began = time.perf_counter()
            await store.memory(customer).recall("猫の名前は？", k=5)
            timings.append((time.perf_counter() - began) * 1000)
            advance(1)
        writes_per_second = await _write_into(store, customers, rng, progress, writes)
    timings.sort()
    return LatencyResult(
        memories=memories,
        customers=len(customers),
        p50_ms=statistics.median(timings),
        p95_ms=timings[int(0.95 * (len(timings) - 1))],
        load_seconds=load_seconds,
        writes_per_second=writes_per_second,
    )


def _real_texts(customers: list[str], count: int, rng: random.Random) -> list[NewMemory]:
    """Lines of the Japanese set (each made unique) for random customers."""
    data = load_set()
    pool = [text for customer in data["customers"] for s in customer["sessions"] for text in s]
    return [
        NewMemory(rng.choice(customers), f"{rng.choice(pool)} ({index})") for index in range(count)
    ]


async def _write_batched(
    store: MemoryStore, items: list[NewMemory], batch: int, advance: Callable[[int], None]
) -> float:
    """Seconds for the memory writer to remember the items, `batch` at a time.

    They are stored first as customer messages waiting for their memory write,
    as a turn leaves them, and scheduled all at once: a backlog, so the writer
    embeds each next batch in its child process while one is stored. The child
    is started before the clock: a running tomo starts it once.
    """
    said: list[tuple[str, int]] = []  # (customer, message id): a turn keeps no more
    for item in items:
        message = await store.record_message(
            item.customer_id, Role.CUSTOMER, item.text, memory_status=MemoryStatus.PENDING
        )
        said.append((message.customer_id, message.id or 0))
    writer = MemoryWriter(store, batch=batch)
    if writer.encoder_process is not None:
        await writer.encoder_process.encode(["warm"])
    per_customer = Counter(customer_id for customer_id, _ in said)

    async def settled(customer_id: str) -> None:
        await writer.settle(customer_id)
        advance(per_customer[customer_id])

    started = time.perf_counter()
    for customer_id, message_id in said:
        writer.schedule(customer_id, message_id)
    await asyncio.gather(*map(settled, per_customer))
    seconds = time.perf_counter() - started
    await writer.drain()
    return seconds


async def _write_into(
    store: MemoryStore,
    customers: list[str],
    rng: random.Random,
    progress: Progress,
    count: int,
    batch: int = WRITE_BATCH,
) -> float:
    """Memories/s for real texts written into a filled store (embedded, deduplicated)."""
    items = _real_texts(customers, count, rng)
    advance = progress("writes into the filled store", count)
    return count / await _write_batched(store, items, batch, advance)


async def measure_writes(
    data_dir: Path,
    memories: int = 5_000,
    batch: int = WRITE_BATCH,
    progress: Progress = _no_progress,
) -> WriteResult:
    """Real texts, real embeddings: batched (the memory writer's path) and one by one."""
    rng = random.Random(5)
    async with (
        MemoryStore.open(database_url=default_database_url(data_dir), data_dir=data_dir) as store,
        _started(),
    ):
        customers = [f"w{index:05d}" for index in range(max(1, memories // 20))]
        for customer in customers:
            await store.touch_customer(customer, channel="bench")
        items = _real_texts(customers, memories, rng)
        embedded_per_second = _embedding_rate(store, [item.text for item in items], batch)
        seconds = await _write_batched(store, items, batch, progress("batched writes", memories))
        singles = items[:200]
        began = time.perf_counter()
        for item in singles:
            await store.memory(item.customer_id).remember(item.text + " single")
        single_seconds = time.perf_counter() - began
    return WriteResult(
        memories, seconds, memories / seconds, len(singles) / single_seconds, embedded_per_second
    )


def _embedding_rate(store: MemoryStore, texts: list[str], batch: int) -> float:
    """Texts/s for the store's encoder alone, `batch` at a time (warmed up first)."""
    store.encoder.encode(texts[:batch])
    began = time.perf_counter()
    for start in range(0, len(texts), batch):
        store.encoder.encode(texts[start : start + batch])
    return len(texts) / (time.perf_counter() - began)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def disk_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1024 / 1024
