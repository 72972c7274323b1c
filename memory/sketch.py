"""A memory's sketch: 256 bits that say roughly where its vector points.

Writing a memory compares it with the customer's known memories, to store a
near-duplicate once (cosine ≥ `reconcile.DUPLICATE_SIMILARITY`). Reading every
known vector back from Chroma for that was a third of a write (~0.9 ms a
memory at 100k). Each SQL row therefore keeps a sketch of its vector: bit i is
the side of the i-th fixed random hyperplane the vector lies on (SimHash).
Two vectors at angle θ differ in each bit with probability θ/π, so the number
of differing bits estimates their similarity; only known memories whose sketch
could belong to a near-duplicate have their exact vectors fetched.

The hyperplanes are ±1 vectors spelled out by BLAKE2b from a fixed label, not
by a random generator whose stream a library upgrade could change: a sketch
stored today matches one made by any later version.
"""

from __future__ import annotations

import functools
import hashlib
import math

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import ThreadpoolController

from memory.embedding import DIMENSIONS

BITS = 256
_LABEL = b"tomo memory sketch v1"


@functools.cache
def _hyperplanes() -> NDArray[np.float32]:
    """(DIMENSIONS, BITS) matrix of ±1."""
    needed = DIMENSIONS * BITS // 8
    stream = b"".join(
        hashlib.blake2b(_LABEL + index.to_bytes(4, "big"), digest_size=64).digest()
        for index in range(-(-needed // 64))
    )[:needed]
    bits = np.unpackbits(np.frombuffer(stream, dtype=np.uint8)).reshape(DIMENSIONS, BITS)
    return (bits.astype(np.float32) * 2.0 - 1.0).astype(np.float32)


@functools.cache
def _blas() -> ThreadpoolController:
    # A batch's sketches are one (512, 512) x (512, 256) product: ~1 ms on one
    # BLAS thread. On two, OpenBLAS's second thread spins for a while after
    # each product, taking the core that the memory writer's encoder process
    # and Chroma's threads need: 17% of the CPU time of tomo's process while
    # its writer worked through a backlog into 1M memories. On one thread the
    # process used 7.3-7.8 s of CPU for 10,240 memories instead of 9.0-9.2 s,
    # and stored them 4-7% sooner (2026-11-25). The limit holds process-wide
    # for that millisecond; an encoder running meanwhile is slower, not different.
    return ThreadpoolController()


def sketches(vectors: NDArray[np.float32]) -> list[bytes]:
    """The sketch of each row of an (N, DIMENSIONS) array, 32 bytes each."""
    if len(vectors) == 0:
        return []
    with _blas().limit(limits=1, user_api="blas"):
        signs = np.asarray(vectors, dtype=np.float32) @ _hyperplanes() >= 0.0
    return [row.tobytes() for row in np.packbits(signs, axis=1)]


def differing_bits(a: bytes, b: bytes) -> int:
    """How many bits two sketches differ in."""
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def estimated_similarity(bits: int) -> float:
    """The cosine similarity that `bits` differing bits suggest."""
    return math.cos(math.pi * bits / BITS)


@functools.cache
def most_differing_bits(similarity: float, miss: float = 1e-9) -> int:
    """The fewest differing bits that two vectors at least `similarity` apart exceed
    with probability below `miss` (a binomial tail over the hyperplanes)."""
    p = math.acos(max(-1.0, min(1.0, similarity))) / math.pi
    tail = 1.0
    for bits in range(BITS + 1):
        tail -= math.comb(BITS, bits) * p**bits * (1 - p) ** (BITS - bits)
        if tail < miss:
            return bits
    return BITS
