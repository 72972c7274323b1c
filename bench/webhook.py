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
import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from rich.console import Console
from rich.table import Table

from connectors.settings import Settings
from persona.presets import build_persona
from persona.repository import PersonaRepository

SECRET = "bench-channel-secret"  # noqa: S105  (a local stand-in channel)
TOKEN = "bench-access-token"  # noqa: S105
QUESTIONS = ("送料はいくらですか？", "こんにちは", "ギフト包装はできますか？", "ありがとう！")


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


class _LineStandIn:
    """Accepts every Messaging API call and notes when each customer got an answer."""

    def __init__(self) -> None:
        self.answered: dict[str, float] = {}
        self.count = 0
        self._lock = threading.Lock()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v2/bot/message/{kind}")
        async def send(kind: str, request: Request) -> JSONResponse:
            body = await request.json()
            user = body.get("to") or _TOKENS.get(body.get("replyToken", ""), "")
            with self._lock:
                self.answered.setdefault(user, time.perf_counter())
                self.count += 1
            return JSONResponse({"sentMessages": [{"id": "1"}]})

        @app.post("/v2/bot/chat/loading/start")
        async def loading() -> JSONResponse:
            return JSONResponse({}, status_code=202)

        @app.get("/v2/bot/profile/{user_id}")
        async def profile(user_id: str) -> JSONResponse:
            return JSONResponse({"displayName": "ベンチ", "userId": user_id})

        return app


_TOKENS: dict[str, str] = {}


def _event(user: str, text: str) -> dict[str, Any]:
    token = secrets.token_hex(8)
    _TOKENS[token] = user
    return {
        "type": "message",
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "webhookEventId": secrets.token_hex(13).upper(),
        "deliveryContext": {"isRedelivery": False},
        "source": {"type": "user", "userId": user},
        "replyToken": token,
        "message": {"type": "text", "id": secrets.token_hex(6), "text": text, "quoteToken": "q"},
    }


def _signed(events: list[dict[str, Any]]) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps({"destination": "U" + "0" * 32, "events": events}).encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest())
    return raw, {"content-type": "application/json", "x-line-signature": signature.decode()}


@contextmanager
def _serve_in_thread(app: FastAPI) -> Iterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the LINE stand-in did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _env(data_dir: Path, line_url: str, workers: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TOMO_", "LINE_"))}
    return env | {
        "TOMO_DATA_DIR": str(data_dir),
        "LINE_CHANNEL_SECRET": SECRET,
        "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
        "LINE_API_BASE": line_url,
        "TOMO_WORKERS": str(workers),
    }


@contextmanager
def _tomo(env: dict[str, str], *args: str) -> Iterator[str]:
    """Run a `tomo` command until the block ends; yields its first line (the ready line)."""
    tomo = shutil.which("tomo", path=str(Path(sys.executable).parent))
    if tomo is None:
        raise RuntimeError("the tomo command is not installed next to this Python")
    process = subprocess.Popen(  # noqa: S603  (our own command)
        [tomo, *args, "--log-level", "warning"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        ready = process.stdout.readline() if process.stdout else ""
        if not ready.startswith("tomo:"):
            raise RuntimeError(f"tomo {args[0]} did not start")
        yield ready
    finally:
        process.terminate()
        process.wait(timeout=30)
        if process.stdout is not None:
            process.stdout.close()


@contextmanager
def _tomo_serve(data_dir: Path, line_url: str, workers: int, separate: bool) -> Iterator[str]:
    """`tomo serve` with its workers, or webhook-only beside a `tomo worker` process."""
    if not separate:
        with _tomo(_env(data_dir, line_url, workers), "serve", "--port", "0") as ready:
            yield _url(ready)
        return
    with (
        _tomo(_env(data_dir, line_url, 0), "serve", "--port", "0") as ready,
        _tomo(_env(data_dir, line_url, workers), "worker"),
    ):
        yield _url(ready)


def _url(ready: str) -> str:
    found = re.search(r"listening on (http://\S+)", ready)
    if found is None:
        raise RuntimeError(f"unexpected first line from tomo serve: {ready!r}")
    return found.group(1)


async def _until(condition: Any, within: float) -> bool:
    deadline = time.perf_counter() + within
    while not condition():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


async def _measure(
    url: str, line: _LineStandIn, requests: int, rate: float, answering: bool
) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        # Warm up: the first turn loads the sentence encoder and opens Chroma.
        warm = f"U{secrets.token_hex(16)}"
        raw, headers = _signed([_event(warm, "こんにちは")])
        await client.post("/line/webhook", content=raw, headers=headers)
        await _until(lambda: warm in line.answered, 60 if answering else 0)

        turns: list[float] = []
        for n in range(20 if answering else 0):
            user = f"U{secrets.token_hex(16)}"
            raw, headers = _signed([_event(user, QUESTIONS[n % len(QUESTIONS)])])
            started = time.perf_counter()
            await client.post("/line/webhook", content=raw, headers=headers)
            await _until(lambda user=user: user in line.answered, 30)
            turns.append((line.answered[user] - started) * 1000)

        users = [f"U{secrets.token_hex(16)}" for _ in range(50)]
        bodies = [
            _signed([_event(users[n % len(users)], QUESTIONS[n % len(QUESTIONS)])])
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
        await _until(lambda: line.count - before >= requests, 600 if answering else 0)
        drained = time.perf_counter() - first
    return {
        "turns": turns,
        "acks": acks,
        "refused": sum(1 for status in statuses if status != 200),
        "answered": line.count - before,
        "drain": drained,
    }


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def measure_webhook(
    requests: int = 500, rate: float = 50.0, workers: int = 4, *, separate: bool = False
) -> WebhookTimings:
    """Run the benchmark in a fresh data folder; nothing is left behind.

    `workers=0`: nothing answers; only the webhook's own acknowledgement is measured.

    `separate`: the webhook in `tomo serve` (no workers) and the workers in a
    `tomo worker` process, as when scaling out.
    """
    line = _LineStandIn()
    with tempfile.TemporaryDirectory() as scratch, _serve_in_thread(line.app()) as line_url:
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
        ack_p99_ms=_percentile(acks, 0.99),
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
