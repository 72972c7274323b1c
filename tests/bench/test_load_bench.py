"""`tomo bench load` with tiny parameters: every phase runs and reports sane values.

Real processes (fake model, `tomo serve`, `tomo worker`, and for PostgreSQL a
Chroma server), all under the network guard (`subprocess_env`). The numbers are
not judged against the clock: only that each was measured and makes sense.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import replace

import pytest

from bench.load import LoadConfig, LoadReport, measure_load, render_load

# Read at import: the environment is cleaned of TOMO_* before each test runs.
TEST_DATABASE_URL = os.environ.get("TOMO_TEST_DATABASE_URL")

TINY = LoadConfig(
    rate=20,
    seconds=2,
    customers=10,
    latency_turns=3,
    turns=8,
    workers=(1,),
    reply_ms=100,
    aux_ms=50,
    drain_timeout=120,
)


def _check(report: LoadReport, backend: str) -> None:
    (result,) = report.backends
    assert result.backend == backend
    assert report.machine["cores"] == str(os.cpu_count())
    assert report.machine["python"] and report.machine["tomo-crm"]

    ack = result.ack
    assert ack.requests == 40 and ack.customers == 10
    assert ack.errors == 0 and ack.acknowledged == 40
    assert 0 < ack.p50_ms <= ack.p99_ms <= ack.max_ms
    assert 0 < ack.achieved_rate <= 2 * TINY.rate
    assert ack.drain_seconds is not None and ack.drain_seconds >= 0 and ack.left_pending == 0
    assert 1 <= ack.turns <= ack.acknowledged  # a customer's waiting texts answered together
    assert ack.cpu_sending["tomo"] > 0 and ack.cpu_sending["machine"] > 0

    latency = result.latency
    assert latency.turns == 3
    # A turn waits for the escalation judgment, then the reply.
    assert TINY.aux_ms + TINY.reply_ms <= latency.min_ms <= latency.p50_ms <= latency.max_ms

    (throughput,) = result.throughput
    assert (throughput.processes, throughput.concurrency) == (1, TINY.concurrency)
    assert throughput.answered == throughput.turns == 8
    assert throughput.turns_per_second > 0 and throughput.seconds > 0

    calls = result.llm_calls
    assert calls["reply"] >= 8 + 3 + ack.turns  # every turn asked for a reply
    assert calls["escalation"] == calls["reply"]  # and for a judgment first

    text = render_load(report)
    assert "| **(a) webhook ack**" in text and "**(c) throughput**" in text
    assert "What limits each number" in text
    assert result.stores in text
    parsed = json.loads(render_load(report, as_json=True))
    assert parsed["backends"][0]["ack"]["requests"] == 40
    assert all(math.isfinite(v) for v in parsed["backends"][0]["latency"].values())


def test_load_bench_on_the_embedded_stores(subprocess_env: dict[str, str]) -> None:
    report = measure_load(replace(TINY, backends=("embedded",)), base_env=subprocess_env)
    _check(report, "embedded")
    assert report.backends[0].versions["SQLite"]


@pytest.mark.skipif(
    not TEST_DATABASE_URL,
    reason="the PostgreSQL variant needs TOMO_TEST_DATABASE_URL "
    "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test); .ci/run sets it",
)
def test_load_bench_on_postgresql_and_a_chroma_server(subprocess_env: dict[str, str]) -> None:
    assert TEST_DATABASE_URL is not None
    config = replace(TINY, backends=("postgresql",), postgres_url=TEST_DATABASE_URL)
    report = measure_load(config, base_env=subprocess_env)
    _check(report, "postgresql")
    versions = report.backends[0].versions
    assert versions["PostgreSQL"] and versions["Chroma server"]
    assert report.backends[0].ack.cpu_sending.get("chroma", 0) >= 0
