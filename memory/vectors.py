"""Chroma as tomo's vector store, sharded by customer.

Layout: a fixed number of collections (shards); a customer's memories all live
in the shard their id hashes to, each record carrying `customer_id` in its
metadata. Recall never uses Chroma's filtered HNSW query: on this machine it
cost time in proportion to the whole collection and could silently return
nothing for a customer (FIELD-NOTES). Instead the SQL store knows each
customer's memory ids and we `get(ids=…)` exactly those — O(that customer).

Every call names the customer, and what comes back is checked against it.

A Chroma server (TOMO_CHROMA_URL) can be down, restarting or frozen while tomo
runs, and tomo must not go down with it: the store connects lazily, every call
that cannot reach the server raises `VectorsUnavailable` (callers answer
without memories, or keep writes to retry), and the next call after a short
pause tries again — the same client and collection handles work once the
server is back. The embedded store has no such outages: its errors propagate.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import chromadb
import httpx
import numpy as np
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import InternalError, NotFoundError
from numpy.typing import NDArray

from memory.embedding import UseEmbeddingFunction

COLLECTION_PREFIX = "tomo_memory_"
# tomo reads vectors by id (`get(ids=…)`), never through Chroma's HNSW search
# (see the module docstring), yet Chroma builds that graph on every write and
# its cost per record grows with the collection: on this 2-core machine, with
# Chroma's defaults (ef 100, 16 neighbours) upserts of 256 ran at ~1,100
# records/s at 100k records, with this small graph at ~2,400/s. A collection
# keeps the settings it was created with.
HNSW_SETTINGS = {"space": "cosine", "ef_construction": 8, "max_neighbors": 4}
# Collection metadata: how many collections the store was made with.
SHARDS_KEY = "tomo_shards"
# chromadb's HTTP client waits forever by default: a frozen server would hold a
# turn (and a worker thread) for good. Generous, because the first request
# after a big server starts loads its index (9 s at 1M records, FIELD-NOTES).
HTTP_TIMEOUT_SECONDS = 10.0
# After a failed call, calls fail at once for this long instead of each
# waiting on the server again.
RETRY_SECONDS = 1.0

log = logging.getLogger(__name__)

T = TypeVar("T")


class VectorsUnavailable(Exception):
    """The vector store cannot be reached now (its server is down, frozen or unreachable).

    The call did nothing that needs undoing; the same call may succeed later.
    """


@dataclass(frozen=True)
class VectorEntry:
    """One memory's vector, naming its customer.

    The text stays in SQL only: Chroma never searches documents for tomo, and
    keeping a second copy of what customers said cost writes their full-text
    index (upserts ran at ~2,250/s with documents, ~3,700/s without, 60k records).
    """

    customer_id: str
    memory_id: str
    vector: NDArray[np.float32]


def shard_of(customer_id: str, shards: int) -> int:
    """The shard a customer's memories live in (stable across processes)."""
    digest = hashlib.blake2b(customer_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % shards


def server_address(url: str) -> tuple[str, int, bool]:
    """(host, port, ssl) of a Chroma server URL."""
    parsed = urlparse(url)
    ssl = parsed.scheme == "https"
    return parsed.hostname or "localhost", parsed.port or (443 if ssl else 8000), ssl


def open_chroma(data_dir: Path, url: str | None, timeout: float = HTTP_TIMEOUT_SECONDS) -> Any:
    """An embedded PersistentClient in the data folder, or an HttpClient for a server."""
    settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if url:
        host, port, ssl = server_address(url)
        # HttpClient asks the server for its tenant with no time limit: an address
        # nobody answers at would hold start-up for minutes. Knock first.
        socket.create_connection((host, port), timeout=timeout).close()
        client = chromadb.HttpClient(host=host, port=port, ssl=ssl, settings=settings)
        _limit_waiting(client, timeout)
        return client
    path = data_dir / "chroma"
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=settings)


def _limit_waiting(client: Any, timeout: float) -> None:
    # chromadb (1.5) offers no setting for this; its FastAPI client keeps an
    # httpx.Client in `_server._session`. Should that move, calls wait without
    # a limit again, as before: tests/memory/test_chroma_server.py notices.
    session = getattr(getattr(client, "_server", None), "_session", None)
    if isinstance(session, httpx.Client):
        session.timeout = httpx.Timeout(timeout)


def open_vectors(
    data_dir: Path,
    url: str | None,
    shards: int,
    threads: int | None,
    *,
    timeout: float = HTTP_TIMEOUT_SECONDS,
    retry_seconds: float = RETRY_SECONDS,
) -> VectorStore:
    """Open Chroma and its collections, one process at a time per data folder.

    Two processes opening a new folder at once (tomo serve + tomo worker) race
    in Chroma's schema and collection set-up ("table collections already
    exists"); the first creates them while the other waits on the lock.

    A Chroma server that does not answer at start-up does not stop tomo: the
    store connects when the server answers (a warning says so meanwhile).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    if url:
        host, port, _ = server_address(url)
        return VectorStore(
            lambda: open_chroma(data_dir, url, timeout),
            shards,
            threads,
            remote=f"{host}:{port}",
            retry_seconds=retry_seconds,
        )
    with (data_dir / "chroma.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return VectorStore(lambda: open_chroma(data_dir, None), shards, threads)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


class VectorStore:
    """Synchronous access to the sharded collections (callers run it off the event loop).

    `connect` makes the Chroma client. Embedded (`remote=None`) it is called
    once, here, and must succeed. For a server (`remote` names it, for logs),
    a failure to connect or to reach it raises `VectorsUnavailable`, and for
    `retry_seconds` after a failure every call raises it at once.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        shards: int = 4,
        threads: int | None = None,
        *,
        remote: str | None = None,
        retry_seconds: float = RETRY_SECONDS,
    ) -> None:
        if shards < 1:
            raise ValueError("shards must be at least 1")
        self.shards = shards
        self._connect = connect
        self._function = UseEmbeddingFunction(threads)
        self._remote = remote
        self._retry_seconds = retry_seconds
        self._lock = threading.Lock()
        self._client: Any = None
        self._collections: list[Any] | None = None
        self._shards_checked = False
        self._retry_at = 0.0
        self._failed = False  # a call failed and none has succeeded since
        try:
            self._ready()
        except VectorsUnavailable as error:
            log.warning("%s; tomo answers without memories until it does", error)

    @property
    def client(self) -> Any:
        """The Chroma client (connecting first if need be)."""
        self._ready()
        return self._client

    def _ready(self) -> list[Any]:
        """The collection handles, opened first if need be."""
        if self._remote is None:
            if self._collections is None:
                self._client = self._connect()
                self._collections = self._open_collections()
            return self._collections
        if time.monotonic() < self._retry_at:
            raise VectorsUnavailable(f"the Chroma server at {self._remote} did not answer")
        collections = self._collections
        if collections is not None:
            return collections
        # One thread connects; the others do not queue behind a server that may hang.
        if not self._lock.acquire(blocking=False):
            raise VectorsUnavailable(f"connecting to the Chroma server at {self._remote}")
        try:
            if self._collections is None:
                if self._client is None:
                    self._client = self._connect()
                self._collections = self._open_collections()
                log.info("connected to the Chroma server at %s", self._remote)
            return self._collections
        except Exception as error:  # any failure to connect: try again later
            self._retry_at = time.monotonic() + self._retry_seconds
            raise VectorsUnavailable(
                f"the Chroma server at {self._remote} did not answer ({type(error).__name__})"
            ) from error
        finally:
            self._lock.release()

    def _open_collections(self) -> list[Any]:
        if not self._shards_checked:
            self._adopt_stored_shard_count()
        return [
            self._client.get_or_create_collection(
                name=f"{COLLECTION_PREFIX}{index:03d}",
                embedding_function=self._function,
                configuration={"hnsw": HNSW_SETTINGS},
                metadata={SHARDS_KEY: self.shards},
            )
            for index in range(self.shards)
        ]

    def _adopt_stored_shard_count(self) -> None:
        """Use the shard count the store was made with, whatever was asked for now.

        A customer's memories live in the collection their id hashes to among
        all of them: opening a store with another count would lose sight of (and
        fail to forget) what is there. Each collection records the count; a
        store from before that is counted by its collections.
        """
        stored: int | None = None
        highest = -1
        for collection in self._client.list_collections():
            suffix = collection.name.removeprefix(COLLECTION_PREFIX)
            if suffix == collection.name or not suffix.isdigit():
                continue
            highest = max(highest, int(suffix))
            recorded = (collection.metadata or {}).get(SHARDS_KEY)
            if isinstance(recorded, int):
                stored = recorded
        if stored is None and highest >= 0:
            stored = highest + 1
        if stored is not None and stored != self.shards:
            log.warning(
                "the vector store was made with %d memory collections; using %d, not %d "
                "(TOMO_MEMORY_SHARDS applies to a new store)",
                stored,
                stored,
                self.shards,
            )
            self.shards = stored
        self._shards_checked = True

    def _call(self, operation: Callable[[list[Any]], T]) -> T:
        """Run one operation on the collections, mapping an unreachable server."""
        for attempt in (1, 2):
            collections = self._ready()
            try:
                result = operation(collections)
            except NotFoundError:
                if self._remote is None or attempt == 2:
                    raise
                # The server no longer has our collections (wiped, or a new one):
                # the handles are stale. Create them again; their memories are gone.
                log.warning("the Chroma server at %s lost tomo's collections", self._remote)
                with self._lock:
                    if self._collections is collections:
                        self._collections = None
            except Exception as error:
                if self._remote is None or not _unreachable(error):
                    raise
                self._retry_at = time.monotonic() + self._retry_seconds
                self._failed = True
                raise VectorsUnavailable(
                    f"the Chroma server at {self._remote} did not answer ({type(error).__name__})"
                ) from error
            else:
                if self._failed:
                    self._failed = False
                    log.info("the Chroma server at %s answers again", self._remote)
                return result
        raise AssertionError("unreachable")  # pragma: no cover

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
        if not by_shard:
            return {}

        def get(collections: list[Any]) -> dict[str, NDArray[np.float32]]:
            found: dict[str, NDArray[np.float32]] = {}
            for shard, ids in by_shard.items():
                got = collections[shard].get(ids=ids, include=["embeddings", "metadatas"])
                for memory_id, vector, metadata in zip(
                    got["ids"], got["embeddings"], got["metadatas"], strict=True
                ):
                    if metadata and metadata.get("customer_id") == owner.get(memory_id):
                        found[memory_id] = np.asarray(vector, dtype=np.float32)
            return found

        return self._call(get)

    def add_many(self, entries: Sequence[VectorEntry]) -> None:
        """Upsert entries of several customers: one call per shard touched."""
        by_shard: dict[int, list[VectorEntry]] = defaultdict(list)
        for entry in entries:
            by_shard[shard_of(entry.customer_id, self.shards)].append(entry)
        if not by_shard:
            return

        def upsert(collections: list[Any]) -> None:
            for shard, group in by_shard.items():
                collections[shard].upsert(
                    ids=[entry.memory_id for entry in group],
                    embeddings=np.stack([entry.vector for entry in group]),
                    # Only the owner: every read checks it, deletes filter by it.
                    # (The memory's kind too cost 7-15% more an upsert, for nothing read.)
                    metadatas=[{"customer_id": entry.customer_id} for entry in group],
                )

        self._call(upsert)

    def delete(self, customer_id: str, ids: Sequence[str] | None = None) -> None:
        """Delete these ids, or every vector of the customer when ids is None."""
        shard = shard_of(customer_id, self.shards)
        if ids is None:
            self._call(lambda c: c[shard].delete(where={"customer_id": customer_id}))
        elif ids:
            self._call(lambda c: c[shard].delete(ids=list(ids), where={"customer_id": customer_id}))

    def count(self, customer_id: str) -> int:
        """How many vectors this customer has (used by forget checks and tests)."""
        shard = shard_of(customer_id, self.shards)
        got = self._call(lambda c: c[shard].get(where={"customer_id": customer_id}, include=[]))
        return len(got["ids"])

    def heartbeat(self) -> int:
        """The server's clock (ns); raises VectorsUnavailable when it cannot be reached."""
        return int(self._call(lambda _: self._client.heartbeat()))


def _unreachable(error: Exception) -> bool:
    """Whether a failed call means the server could not be reached (not a bad request)."""
    # httpx: refused, reset, timed out. InternalError: the server's own 5xx.
    # A bare Exception is chromadb's wrapping of an error answer that is not
    # Chroma's own — a proxy's 502/503 in front of a server that is down.
    return isinstance(error, (httpx.TransportError, InternalError)) or type(error) is Exception
