from __future__ import annotations

from pathlib import Path

from bench.memory import measure_latency, measure_quality, measure_writes


async def test_hybrid_recall_is_at_least_as_good_as_either_signal_alone(tmp_path: Path) -> None:
    result = await measure_quality(tmp_path)
    assert result.probes >= 40 and result.customers >= 10
    assert result.hybrid >= result.vector_only
    assert result.hybrid > result.lexical_only


async def test_latency_bench_recalls_through_a_filled_store(tmp_path: Path) -> None:
    result = await measure_latency(tmp_path, memories=500, samples=20, shards=2, writes=40)
    assert (result.memories, result.customers) == (500, 50)
    assert 0 < result.p50_ms <= result.p95_ms
    assert result.writes_per_second > 0


async def test_write_bench_writes_every_memory(tmp_path: Path) -> None:
    result = await measure_writes(tmp_path, memories=100, batch=32)
    assert result.memories == 100
    assert result.batched_per_second > 0 and result.single_per_second > 0
    assert result.embedded_per_second > 0
