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

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings
from numpy.typing import NDArray

from memory.embedding import UseEmbeddingFunction

COLLECTION_PREFIX = "tomo_memory_"


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

    def add(
        self,
        customer_id: str,
        ids: Sequence[str],
        texts: Sequence[str],
        vectors: NDArray[np.float32],
        kinds: Sequence[str],
    ) -> None:
        self._collection(customer_id).upsert(
            ids=list(ids),
            documents=list(texts),
            embeddings=vectors,
            metadatas=[{"customer_id": customer_id, "kind": kind} for kind in kinds],
        )

    def vectors(self, customer_id: str, ids: Sequence[str]) -> dict[str, NDArray[np.float32]]:
        """The vectors of these memory ids, only where they belong to this customer."""
        if not ids:
            return {}
        got = self._collection(customer_id).get(ids=list(ids), include=["embeddings", "metadatas"])
        found: dict[str, NDArray[np.float32]] = {}
        for memory_id, vector, metadata in zip(
            got["ids"], got["embeddings"], got["metadatas"], strict=True
        ):
            if metadata and metadata.get("customer_id") == customer_id:
                found[memory_id] = np.asarray(vector, dtype=np.float32)
        return found

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
