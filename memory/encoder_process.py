"""USE in a child process on one BLAS thread, for embedding while this process stores.

The memory writer stores one batch while the next is embedded here. On this
2-core machine, 1M memories in 4 collections, 512 a batch, measured side by
side (2026-11-25):

- a 1-thread encoder in another process beside Chroma's upserts: each ran at
  its solo speed (0.68 ms a text; 0.46 against 0.49 ms a vector);
- a 2-thread encoder beside them slowed both (0.85 ms a text, 1.17 ms a vector);
- in a thread of this process nothing overlaps: Chroma's upsert holds the GIL.

Vectors are the same as embedding here (BLAS splits no sums by thread count).

The child is `python -m memory.encoder_process`, started on first use; it
loads the weights itself (~2 s). Not `multiprocessing`: its spawned children
run the parent's main script again, which a script without a `__main__` guard
does not survive. The protocol, over the child's stdin and stdout: a line of
JSON (the texts) in; the row count (8 bytes, little-endian) and the float32
vectors out. Should the child die, the texts are embedded here and the next
call starts a new child.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys

import numpy as np
from numpy.typing import NDArray

from memory.embedding import DIMENSIONS, SentenceEncoder

log = logging.getLogger(__name__)

_COUNT_BYTES = 8
_STOP_SECONDS = 5.0


class EncoderProcess:
    """Embeds texts in a child process; `fallback` embeds them here if the child fails."""

    def __init__(self, fallback: SentenceEncoder) -> None:
        self._fallback = fallback
        self._child: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self.encoded = 0  # texts the child embedded (for tests and the bench)

    @property
    def pid(self) -> int | None:
        """The child's process id, while it runs."""
        return self._child.pid if self._child is not None else None

    async def encode(self, texts: list[str]) -> NDArray[np.float32]:
        """(N, 512) unit vectors, as `SentenceEncoder.encode` gives."""
        if not texts:
            return self._fallback.encode([])
        async with self._lock:
            try:
                vectors = await self._ask(texts)
            except asyncio.CancelledError:
                # Its answer may still come, and the next question would read it.
                self._kill()
                raise
            except (OSError, EOFError, asyncio.IncompleteReadError, ValueError) as error:
                log.warning(
                    "the encoder process failed (%s); embedding here, a new one starts next time",
                    type(error).__name__,
                )
                await self._stop()
                return await asyncio.to_thread(self._fallback.encode, list(texts))
        self.encoded += len(texts)
        return vectors

    async def _ask(self, texts: list[str]) -> NDArray[np.float32]:
        if self._child is None:
            self._child = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "memory.encoder_process",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
        child = self._child
        if child.stdin is None or child.stdout is None:  # cannot happen: both are pipes
            raise EOFError("the encoder process has no pipes")
        child.stdin.write(json.dumps(list(texts), ensure_ascii=False).encode("utf-8") + b"\n")
        await child.stdin.drain()
        count = int.from_bytes(await child.stdout.readexactly(_COUNT_BYTES), "little")
        if count != len(texts):
            raise ValueError(f"asked for {len(texts)} vectors, the encoder process gave {count}")
        data = await child.stdout.readexactly(count * DIMENSIONS * 4)
        return np.frombuffer(data, dtype=np.float32).reshape(count, DIMENSIONS).copy()

    async def close(self) -> None:
        """Stop the child (it exits when its input ends); the next `encode` starts another."""
        async with self._lock:
            await self._stop()

    def _kill(self) -> None:
        child, self._child = self._child, None
        if child is not None and child.returncode is None:
            child.kill()  # the event loop reaps it and closes its pipes

    async def _stop(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        if child.stdin is not None:
            child.stdin.close()
        try:
            await asyncio.wait_for(child.wait(), _STOP_SECONDS)
        except TimeoutError:
            child.kill()
            await child.wait()


def serve(encoder: SentenceEncoder) -> None:
    """The child: embed each line of texts from stdin, answer on stdout, until stdin ends."""
    out = sys.stdout.buffer
    for line in sys.stdin.buffer:
        texts = json.loads(line)
        vectors = np.ascontiguousarray(encoder.encode(texts), dtype=np.float32)
        out.write(len(vectors).to_bytes(_COUNT_BYTES, "little"))
        out.write(vectors.tobytes())
        out.flush()


if __name__ == "__main__":
    serve(SentenceEncoder(threads=1))
