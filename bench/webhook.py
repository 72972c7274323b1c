"""LINE webhook acknowledgement latency, and one text turn end to end, on this machine.

A real `tomo serve` process (uvicorn, SQLite + Chroma in a fresh data folder,
the offline responder, its workers running) receives signed webhook requests
over loopback HTTP at a fixed rate (open loop: a slow answer does not slow the
sender down). Its LINE API is a stand-in that accepts every call. Measured:

- acknowledgement latency: request sent → 200 received, per request;
- one text turn end to end: request sent → reply received by the LINE stand-in
  (verify, store, worker, turn, loading animation, reply), the system idle;
- how long the workers took to answer everything the load run stored.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from bench.line_harness import (
    QUESTIONS,
    LineStandIn,
    new_user,
    percentile,
    serve_in_thread,
    signed,
    text_event,
    tomo_env,
    tomo_process,
    until,
)
from connectors.settings import Settings
from persona.presets import build_persona
from persona.repository import PersonaRepository


@dataclass(frozen=True)
class WebhookTimings:
    requests: int
    rate: float
    workers: int
    separate: bool  # workers in their own process
    ack_p50_ms: float
    ack_p99_ms: float
    ack_max_ms: float
    refused: int
    turn_p50_ms: float  # one text turn end to end, idle
    turn_max_ms: float
    answered: int
    drain_seconds: float  # from the first request until every event was answered


@contextmanager
def _tomo_serve(data_dir: Path, line_url: str, workers: int, separate: bool) -> Iterator[str]:
    """`tomo serve` with its workers, or webhook-only beside a `tomo worker` process."""
    if not separate:
        with tomo_process(tomo_env(data_dir, line_url, workers), "serve", "--port", "0") as server:
            yield server.url
        return
    with (
        tomo_process(tomo_env(data_dir, line_url, 0), "serve", "--port", "0") as server,
        tomo_process(tomo_env(data_dir, line_url, workers), "worker"),
    ):
        yield server.url


async def _measure(
    url: str, line: LineStandIn, requests: int, rate: float, answering: bool
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        # Warm up: the first turn loads the sentence encoder and opens Chroma.
        warm = new_user()
        raw, headers = signed([text_event(warm, "こんにちは")])
        await client.post("/line/webhook", content=raw, headers=headers)
        await until(lambda: warm in line.answered, 60 if answering else 0)

        turns: list[float] = []
        for n in range(20 if answering else 0):
            user = new_user()
            raw, headers = signed([text_event(user, QUESTIONS[n % len(QUESTIONS)])])
            started = time.perf_counter()
            await client.post("/line/webhook", content=raw, headers=headers)
            await until(lambda user=user: user in line.answered, 30)
            turns.append((line.answered[user] - started) * 1000)

        users = [new_user() for _ in range(50)]
        bodies = [
            signed([text_event(users[n % len(users)], QUESTIONS[n % len(QUESTIONS)])])
            for n in range(requests)
        ]
        before = line.count
        acks: list[float] = []
        statuses: list[int] = []

        async def one(raw: bytes, headers: dict[str, str]) -> None:
            started = time.perf_counter()
            response = await client.post("/line/webhook", content=raw, headers=headers)
            acks.append((time.perf_counter() - started) * 1000)
            statuses.append(response.status_code)

        first = time.perf_counter()
        tasks = []
        for n, (raw, headers) in enumerate(bodies):
            delay = first + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(raw, headers)))
        await asyncio.gather(*tasks)
        await until(lambda: line.count - before >= requests, 600 if answering else 0)
        drained = time.perf_counter() - first
    return {
        "turns": turns,
        "acks": acks,
        "refused": sum(1 for status in statuses if status != 200),
        "answered": line.count - before,
        "drain": drained,
    }


def measure_webhook(
    requests: int = 500, rate: float = 50.0, workers: int = 4, *, separate: bool = False
) -> WebhookTimings:
    """Run the benchmark in a fresh data folder; nothing is left behind.

    `workers=0`: nothing answers; only the webhook's own acknowledgement is measured.

    `separate`: the webhook in `tomo serve` (no workers) and the workers in a
    `tomo worker` process, as when scaling out.
    """
    line = LineStandIn()
    with tempfile.TemporaryDirectory() as scratch, serve_in_thread(line.app()) as line_url:
        data_dir = Path(scratch)
        repository = PersonaRepository(Settings(data_dir=data_dir).persona_dir)
        repository.save_draft(build_persona("shinyu"))
        repository.publish()
        with _tomo_serve(data_dir, line_url, workers, separate) as url:
            answering = workers > 0
            result = asyncio.run(_measure(url, line, requests, rate, answering))
    acks, turns = result["acks"], result["turns"]
    return WebhookTimings(
        requests=requests,
        rate=rate,
        workers=workers,
        separate=separate,
        ack_p50_ms=statistics.median(acks),
        ack_p99_ms=percentile(acks, 0.99),
        ack_max_ms=max(acks),
        refused=result["refused"],
        turn_p50_ms=statistics.median(turns) if turns else float("nan"),
        turn_max_ms=max(turns, default=float("nan")),
        answered=result["answered"],
        drain_seconds=result["drain"],
    )


def print_webhook_timings(
    console: Console, *, requests: int, rate: float, workers: int, separate: bool
) -> None:
    """Run the benchmark and print its table (`tomo bench webhook`)."""
    timings = measure_webhook(requests, rate, workers, separate=separate)
    where = "a `tomo worker` process" if separate else "the `tomo serve` process"
    table = Table(
        title=f"LINE webhook: {requests} signed requests at {rate:g}/s over loopback HTTP, "
        f"{workers} workers in {where}"
    )
    for column in (
        "ack p50 ms",
        "ack p99 ms",
        "ack max ms",
        "non-200",
        "answered",
        "all answered s",
    ):
        table.add_column(column, justify="right")
    table.add_row(
        f"{timings.ack_p50_ms:.1f}",
        f"{timings.ack_p99_ms:.1f}",
        f"{timings.ack_max_ms:.1f}",
        str(timings.refused),
        f"{timings.answered}/{requests}",
        f"{timings.drain_seconds:.1f}",
    )
    console.print(table)
    if workers == 0:
        return
    table = Table(title="one text turn end to end, idle (webhook in → reply at the LINE API)")
    for column in ("turns", "p50 ms", "max ms"):
        table.add_column(column, justify="right")
    table.add_row("20", f"{timings.turn_p50_ms:.1f}", f"{timings.turn_max_ms:.1f}")
    console.print(table)
