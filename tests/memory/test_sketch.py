"""Sketches: near-duplicates always look near, unrelated memories rarely do."""

from __future__ import annotations

import itertools
import math

import numpy as np

from bench.memory import load_set
from memory.embedding import DIMENSIONS, shared_encoder
from memory.reconcile import DUPLICATE_SIMILARITY
from memory.sketch import (
    BITS,
    differing_bits,
    estimated_similarity,
    most_differing_bits,
    sketches,
)


def test_a_sketch_is_the_same_for_every_version_of_tomo() -> None:
    # Stored sketches are compared with new ones for as long as a store lives:
    # if this changes, every stored sketch must be made again (a migration).
    vector = np.zeros((1, DIMENSIONS), dtype=np.float32)
    vector[0, :8] = [1, -2, 3, -4, 5, -6, 7, -8]

    assert sketches(vector)[0].hex() == (
        "5ff80e562ffb389d0ac900a0865f6d3b6bf81887ebe86c7c9586c23d0c0d4654"
    )


def test_opposite_vectors_differ_in_every_bit_and_equal_ones_in_none() -> None:
    vector = np.random.default_rng(3).standard_normal((1, DIMENSIONS)).astype(np.float32)
    same, opposite = sketches(np.vstack([vector, vector]))[1], sketches(-vector)[0]
    first = sketches(vector)[0]

    assert len(first) == BITS // 8
    assert differing_bits(first, same) == 0
    assert differing_bits(first, opposite) == BITS
    assert estimated_similarity(0) == 1.0
    assert math.isclose(estimated_similarity(BITS), -1.0)


def test_the_near_bound_misses_a_near_duplicate_with_tiny_probability_and_means_dissimilar() -> (
    None
):
    near = most_differing_bits(DUPLICATE_SIMILARITY)
    p = math.acos(DUPLICATE_SIMILARITY) / math.pi
    beyond = sum(math.comb(BITS, k) * p**k * (1 - p) ** (BITS - k) for k in range(near + 1, BITS))

    assert beyond < 1e-9
    # Anything estimated beyond the bound is far from a duplicate.
    assert estimated_similarity(near + 1) < DUPLICATE_SIMILARITY - 0.2


def test_real_near_duplicates_look_near_and_most_other_lines_do_not() -> None:
    lines = sorted(
        {line for c in load_set()["customers"] for session in c["sessions"] for line in session}
    )
    variants = lines + [line + "。" for line in lines] + [line + "！" for line in lines]
    vectors = shared_encoder().encode(variants)
    signs = sketches(vectors)
    near = most_differing_bits(DUPLICATE_SIMILARITY)

    duplicates, others, others_near = 0, 0, 0
    for a, b in itertools.combinations(range(len(variants)), 2):
        similarity = float(vectors[a] @ vectors[b])
        bits = differing_bits(signs[a], signs[b])
        if similarity >= DUPLICATE_SIMILARITY:
            duplicates += 1
            assert bits <= near, (variants[a], variants[b], similarity, bits)
        elif similarity < 0.6:
            others += 1
            others_near += bits <= near

    assert duplicates >= len(lines)  # every line and its punctuated forms at least
    assert others_near / others < 0.01
