"""Chroma as tomo's vector store, sharded by customer.

Layout: a fixed number of collections (shards); a customer's memories all live
in the shard their id hashes to, each record carrying `customer_id` in its
metadata. Recall never uses Chroma's filtered HNSW query: on this machine it
cost time in proportion to the whole collection and could silently return
nothing for a customer (FIELD-NOTES). Instead the SQL store knows each
customer's memory ids and we `get(ids=…)` exactly those — O(that customer).

Every call names the customer, and what comes back is checked against it.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings
from numpy.typing import NDArray

from memory.embedding import UseEmbeddingFunction

COLLECTION_PREFIX = "tomo_memory_"


@dataclass(frozen=True)
class VectorEntry:
    """One memory's vector, naming its customer."""

    customer_id: str
    memory_id: str
    text: str
    kind: str
    vector: NDArray[np.float32]


def shard_of(customer_id: str, shards: int) -> int:
    """The shard a customer's memories live in (stable across processes)."""
    digest = hashlib.blake2b(customer_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def open_chroma(data_dir: Path, url: str | None) -> Any:
    """An embedded PersistentClient in the data folder, or an HttpClient for a server."""
    settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if url:
        parsed = urlparse(url)
        return chromadb.HttpClient(
            host=parsed.hostname or "localhost",
            port=parsed.port or (443 if parsed.scheme == "https" else 8000),
            ssl=parsed.scheme == "https",
            settings=settings,
        )
    path = data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)


def open_vectors(data_dir: Path, url: str | None, shards: int, threads: int | None) -> VectorStore:
    """Open Chroma and its collections, one process at a time per data folder.

    Two processes opening a new folder at once (tomo serve + tomo worker) race
    in Chroma's schema and collection set-up ("table collections already
    exists"); the first creates them while the other waits on the lock.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    with (data_dir / "chroma.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return VectorStore(open_chroma(data_dir, url), shards, threads)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class VectorStore:
    """Synchronous access to the sharded collections (callers run it off the event loop)."""

    def __init__(self, client: Any, shards: int = 16, threads: int | None = None) -> None:
        if shards < 1:
            raise ValueError("shards must be at least 1")
        self.client = client
        self.shards = shards
        function = UseEmbeddingFunction(threads)
        self._collections = [
            client.get_or_create_collection(
                name=f"{COLLECTION_PREFIX}{index:03d}",
                embedding_function=function,
                configuration={"hnsw": {"space": "cosine"}},
            )
            for index in range(shards)
        ]

    def _collection(self, customer_id: str) -> Any:
        return self._collections[shard_of(customer_id, self.shards)]

    def vectors(self, customer_id: str, ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        """The vectors of these memory ids, only where they belong to this customer."""
        return self.vectors_of_many({customer_id: ids}) if ids else {}

    def vectors_of_many(
        self, ids_by_customer: Mapping[str, Sequence[str]]
    ) -> dict[str, NDArray[np.float32]]:
        """Vectors of several customers' memory ids: one `get` per shard touched."""
        by_shard: dict[int, list[str]] = defaultdict(list)
        owner: dict[str, str] = {}
        for customer_id, ids in ids_by_customer.items():
            by_shard[shard_of(customer_id, self.shards)].extend(ids)
            owner.update((memory_id, customer_id) for memory_id in ids)
        found: dict[str, NDArray[np.float32]] = {}
        for shard, ids in by_shard.items():
            got = self._collections[shard].get(ids=ids, include=["embeddings", "metadatas"])
            for memory_id, vector, metadata in zip(
                got["ids"], got["embeddings"], got["metadatas"], strict=True
            ):
                if metadata and metadata.get("customer_id") == owner.get(memory_id):
                    found[memory_id] = np.asarray(vector, dtype=np.float32)
        return found

    def add_many(self, entries: Sequence[VectorEntry]) -> None:
        """Upsert entries of several customers: one call per shard touched."""
        by_shard: dict[int, list[VectorEntry]] = defaultdict(list)
        for entry in entries:
            by_shard[shard_of(entry.customer_id, self.shards)].append(entry)
        for shard, group in by_shard.items():
            self._collections[shard].upsert(
                ids=[entry.memory_id for entry in group],
                documents=[entry.text for entry in group],
                embeddings=np.stack([entry.vector for entry in group]),
                metadatas=[{"customer_id": e.customer_id, "kind": e.kind} for e in group],
            )

    def delete(self, customer_id: str, ids: Sequence[str] | None = None) -> None:
        """Delete these ids, or every vector of the customer when ids is None."""
        collection = self._collection(customer_id)
        if ids is None:
            collection.delete(where={"customer_id": customer_id})
        elif ids:
            collection.delete(ids=list(ids), where={"customer_id": customer_id})

    def count(self, customer_id: str) -> int:
        """How many vectors this customer has (used by forget checks and tests)."""
        got = self._collection(customer_id).get(where={"customer_id": customer_id}, include=[])
        return len(got["ids"])

    def heartbeat(self) -> int:
        return int(self.client.heartbeat())
