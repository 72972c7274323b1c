"""`tomo bench load`: tomo under load on this machine, embedded and at scale.

Real `tomo serve` / `tomo worker` processes, the LINE API replaced by a stand-in
(bench/line_harness.py) and the language model by an OpenAI-compatible server
that takes a fixed time per call (bench/fake_llm.py, in its own process).
For each backend — embedded (SQLite + embedded Chroma in a data folder) and
PostgreSQL + a Chroma server (`chroma run`), a fresh database and data folder
each, dropped afterwards — it measures:

(a) webhook acknowledgement under an open-loop load: signed webhook requests at
    a fixed rate (the sender keeps its schedule however slow the answers are;
    latency counts from the scheduled send time), from many customers in
    turn, against one `tomo serve` with its workers; then how long the workers
    need after the last request until the inbox and outbox are empty;
(b) one turn end to end (webhook sent → reply received by the LINE stand-in),
    the system otherwise idle, each from a new customer;
(c) throughput: a backlog of new customers' texts answered by 1, 2, 4 … `tomo
    worker` processes beside a webhook-only `tomo serve` (TOMO_WORKERS=0).

CPU use is sampled from /proc for every process the bench started, and for
the whole machine (the rest is "other": PostgreSQL, and whatever else runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
import os
import platform
import re
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.line_harness import (
    QUESTIONS,
    LineStandIn,
    TomoProcess,
    new_user,
    percentile,
    ready_process,
    serve_in_thread,
    signed,
    stop_process,
    text_event,
    tomo_command,
    tomo_env,
    tomo_process,
    until,
)
from connectors.settings import Settings
from persona.presets import build_persona
from persona.repository import PersonaRepository

BACKENDS = {
    "embedded": "SQLite + embedded Chroma",
    "postgresql": "PostgreSQL + Chroma server",
}
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class LoadConfig:
    rate: float = 300.0  # (a) webhook requests per second, open loop
    seconds: float = 60.0  # (a) for this long
    customers: int = 300  # (a) the requests come from this many customers in turn
    latency_turns: int = 20  # (b) turns, one after another, each a new customer
    turns: int = 200  # (c) new customers, one text each, per worker count
    workers: tuple[int, ...] = (1, 2, 4)  # (c) `tomo worker` processes
    concurrency: int = 4  # TOMO_WORKERS of each process that answers
    reply_ms: float = 500.0  # the fake model: the customer's reply
    aux_ms: float = 500.0  # the fake model: escalation judgment and fact extraction
    backends: tuple[str, ...] = ("embedded", "postgresql")
    postgres_url: str = DEFAULT_POSTGRES  # a server to make a fresh database in
    burst_seconds: float = 0.0  # TOMO_BURST_SECONDS
    poll_seconds: float = 0.1  # TOMO_INBOX_POLL_SECONDS
    drain_timeout: float = 600.0  # (a) give up waiting for the workers after this


@dataclass(frozen=True)
class AckResult:
    """(a) webhook acknowledgement under an open-loop load."""

    offered_rate: float
    seconds: float
    customers: int
    requests: int
    acknowledged: int  # answered 200
    errors: int  # any other status, or no answer
    error_kinds: dict[str, int]  # "HTTP 503", "timeout", "ConnectionResetError" …
    achieved_rate: float  # 200s per second, first send → last answer
    sender_lag_p99_ms: float  # how late the sender started a request, against its schedule
    p50_ms: float  # from the scheduled send time to the answer
    p99_ms: float
    max_ms: float
    within_2s: float  # share of the requests answered 200 within LINE's 2 s
    drain_seconds: float | None  # last answer → inbox and outbox empty; None: gave up
    left_pending: int  # inbox events still pending when it stopped waiting
    turns: int  # replies the LINE stand-in got for the load's texts (bursts joined)
    cpu_sending: dict[str, float]  # cores busy while sending, by process kind
    cpu_draining: dict[str, float]


@dataclass(frozen=True)
class LatencyResult:
    """(b) one turn end to end, idle."""

    turns: int
    p50_ms: float
    p99_ms: float
    min_ms: float
    max_ms: float


@dataclass(frozen=True)
class ThroughputResult:
    """(c) a backlog of turns answered by `processes` worker processes."""

    processes: int
    concurrency: int  # TOMO_WORKERS of each
    turns: int
    answered: int
    seconds: float  # first request → last reply
    turns_per_second: float
    cpu: dict[str, float]


@dataclass(frozen=True)
class BackendResult:
    backend: str
    stores: str
    versions: dict[str, str]
    latency: LatencyResult
    ack: AckResult
    throughput: list[ThroughputResult]
    llm_calls: dict[str, int]  # by purpose: reply, escalation, facts
    llm_most_at_once: int


@dataclass(frozen=True)
class LoadReport:
    started: str
    machine: dict[str, str]
    load_average_before: tuple[float, float, float]
    load_average_after: tuple[float, float, float]
    config: LoadConfig
    settings: dict[str, str]  # what the tomo processes were given besides stores and LINE
    backends: list[BackendResult] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


# -- CPU from /proc -------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK")


def _process_cpu(pid: int) -> float:
    """CPU seconds a process used so far (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot."""
    values = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values) - idle) / _TICKS, sum(values) / _TICKS


class CpuMeter:
    """Cores busy over a stretch of time, for groups of our processes and the machine."""

    def __init__(self, groups: Mapping[str, Sequence[int]]) -> None:
        self._groups = {name: list(pids) for name, pids in groups.items()}
        self._start = self._sample()
        self._wall = time.perf_counter()

    def _sample(self) -> dict[str, float]:
        sample = {
            name: sum(_process_cpu(pid) for pid in pids) for name, pids in self._groups.items()
        }
        sample["machine"] = _machine_busy()[0]
        return sample

    def stop(self) -> dict[str, float]:
        end = self._sample()
        wall = max(time.perf_counter() - self._wall, 1e-9)
        cores = {name: (end[name] - self._start[name]) / wall for name in end}
        ours = sum(value for name, value in cores.items() if name != "machine")
        cores["other"] = max(0.0, cores["machine"] - ours)
        return {name: round(value, 2) for name, value in cores.items()}


# -- a lean HTTP client for the sender -------------------------------------------------


# uvicorn closes a kept-alive connection after 5 s without a request: reuse younger ones only.
_REUSE_SECONDS = 2.0


class _Closed(OSError):
    """A kept-alive connection the server had closed: nothing was answered on it."""


class WebhookSender:
    """POSTs over kept-alive loopback connections; cheaper per request than a full client.

    The load generator shares the machine's cores with what it measures: the
    less it spends per request, the less it disturbs the numbers.
    """

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self._open: set[asyncio.StreamWriter] = set()

    async def post(self, path: str, body: bytes, headers: Mapping[str, str]) -> int:
        """The status of one POST; raises OSError (or a timeout) when there is no answer."""
        while self._idle:
            reader, writer, since = self._idle.pop()
            if time.monotonic() - since > _REUSE_SECONDS or reader.at_eof():
                self._drop(writer)
                continue
            with contextlib.suppress(_Closed):
                return await self._exchange(reader, writer, path, body, headers)
        reader, writer = await asyncio.open_connection(self._host, self._port)
        self._open.add(writer)
        return await self._exchange(reader, writer, path, body, headers)

    async def _exchange(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        path: str,
        body: bytes,
        headers: Mapping[str, str],
    ) -> int:
        try:
            head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            writer.write(
                f"POST {path} HTTP/1.1\r\nhost: {self._host}:{self._port}\r\n"
                f"content-length: {len(body)}\r\n{head}\r\n".encode("latin-1")
                + body
            )
            first = await reader.readline()
            if not first:
                raise _Closed("the server closed the connection")
            status = int(first.split()[1])
            length, close = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                name, value = name.strip().lower(), value.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "connection" and value == "close":
                    close = True
                elif name == "transfer-encoding":
                    raise OSError(f"unexpected transfer-encoding {value}")
            await reader.readexactly(length)
        except (ValueError, IndexError, asyncio.IncompleteReadError) as error:
            self._drop(writer)
            raise OSError(f"bad answer: {error}") from error
        except BaseException:
            self._drop(writer)
            raise
        if close:
            self._drop(writer)
        else:
            self._idle.append((reader, writer, time.monotonic()))
        return status

    def _drop(self, writer: asyncio.StreamWriter) -> None:
        self._open.discard(writer)
        writer.close()

    async def close(self) -> None:
        for writer in list(self._open):
            self._drop(writer)
        self._idle.clear()


async def _post_text(sender: WebhookSender, user: str, text: str) -> int:
    raw, headers = signed([text_event(user, text)])
    return await asyncio.wait_for(sender.post("/line/webhook", raw, headers), 30)


# -- the phases -------------------------------------------------------------------------


async def _warm_up(sender: WebhookSender, line: LineStandIn, customers: int) -> None:
    """A few turns first: each process loads its sentence encoder and opens its stores."""
    users = [new_user() for _ in range(customers)]
    for n, user in enumerate(users):
        await _post_text(sender, user, QUESTIONS[n % len(QUESTIONS)])
    if not await until(lambda: all(user in line.answered for user in users), 180):
        raise RuntimeError("the warm-up turns were not answered within 180 s")


async def _latency(url: str, line: LineStandIn, turns: int) -> LatencyResult:
    sender = WebhookSender(url)
    try:
        await _warm_up(sender, line, 2)
        times: list[float] = []
        for n in range(turns):
            user = new_user()
            started = time.perf_counter()
            if await _post_text(sender, user, QUESTIONS[n % len(QUESTIONS)]) != 200:
                raise RuntimeError("the webhook refused a latency probe")
            if not await until(lambda user=user: user in line.answered, 60):
                raise RuntimeError("a latency probe was not answered within 60 s")
            times.append((line.answered[user] - started) * 1000)
    finally:
        await sender.close()
    return LatencyResult(
        turns=turns,
        p50_ms=statistics.median(times),
        p99_ms=percentile(times, 0.99),
        min_ms=min(times),
        max_ms=max(times),
    )


async def _queue_depths(client: httpx.AsyncClient) -> tuple[float, float]:
    """(inbox, outbox) depth from `GET /metrics` (read from the SQL store at scrape time)."""
    text = (await client.get("/metrics")).text
    found = {
        name: float(value)
        for name, value in re.findall(
            r"^(tomo_inbox_depth|tomo_outbox_depth) (\S+)$", text, re.MULTILINE
        )
    }
    return found.get("tomo_inbox_depth", float("nan")), found.get("tomo_outbox_depth", float("nan"))


async def _ack_load(
    url: str, line: LineStandIn, config: LoadConfig, pids: Mapping[str, Sequence[int]]
) -> AckResult:
    requests = max(1, round(config.rate * config.seconds))
    users = [new_user() for _ in range(max(1, config.customers))]
    bodies = [
        signed([text_event(users[n % len(users)], QUESTIONS[n % len(QUESTIONS)])])
        for n in range(requests)
    ]
    sender = WebhookSender(url)
    latencies: list[float] = []
    lags: list[float] = []
    answered_at: list[float] = []
    errors: Counter[str] = Counter()

    async def one(scheduled: float, raw: bytes, headers: dict[str, str]) -> None:
        lags.append(time.perf_counter() - scheduled)
        try:
            status = await asyncio.wait_for(sender.post("/line/webhook", raw, headers), 30)
        except TimeoutError:
            errors["timeout"] += 1
            return
        except OSError as error:
            errors[type(error).__name__] += 1
            return
        done = time.perf_counter()
        if status != 200:
            errors[f"HTTP {status}"] += 1
            return
        latencies.append((done - scheduled) * 1000)
        answered_at.append(done)

    before = line.count
    meter = CpuMeter(pids)
    first = time.perf_counter()
    tasks = []
    for n, (raw, headers) in enumerate(bodies):
        scheduled = first + n / config.rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(scheduled, raw, headers)))
    await asyncio.gather(*tasks)
    cpu_sending = meter.stop()
    await sender.close()
    last = max(answered_at, default=time.perf_counter())

    meter = CpuMeter(pids)
    drained: float | None = None
    inbox = float("nan")
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        deadline = time.perf_counter() + config.drain_timeout
        while time.perf_counter() < deadline:
            inbox, outbox = await _queue_depths(client)
            if inbox == 0 and outbox == 0:
                drained = time.perf_counter() - last
                break
            await asyncio.sleep(0.25)
    cpu_draining = meter.stop()
    return AckResult(
        offered_rate=config.rate,
        seconds=config.seconds,
        customers=len(users),
        requests=requests,
        acknowledged=len(latencies),
        errors=sum(errors.values()),
        error_kinds=dict(errors),
        achieved_rate=len(latencies) / max(last - first, 1e-9),
        sender_lag_p99_ms=percentile(lags, 0.99) * 1000,
        p50_ms=statistics.median(latencies) if latencies else float("nan"),
        p99_ms=percentile(latencies, 0.99) if latencies else float("nan"),
        max_ms=max(latencies, default=float("nan")),
        within_2s=sum(1 for latency in latencies if latency <= 2000) / requests,
        drain_seconds=drained,
        left_pending=0 if drained is not None or inbox != inbox else int(inbox),
        turns=line.count - before,
        cpu_sending=cpu_sending,
        cpu_draining=cpu_draining,
    )


async def _throughput(
    url: str,
    line: LineStandIn,
    config: LoadConfig,
    processes: int,
    pids: Mapping[str, Sequence[int]],
) -> ThroughputResult:
    sender = WebhookSender(url)
    try:
        await _warm_up(sender, line, processes * config.concurrency)
        users = [new_user() for _ in range(config.turns)]
        meter = CpuMeter(pids)
        first = time.perf_counter()
        for n, user in enumerate(users):
            if await _post_text(sender, user, QUESTIONS[n % len(QUESTIONS)]) != 200:
                raise RuntimeError("the webhook refused a throughput turn")
        within = 60 + config.turns * 3 * (config.reply_ms + config.aux_ms) / 1000
        await until(lambda: all(user in line.answered for user in users), within)
        cpu = meter.stop()
    finally:
        await sender.close()
    answers = [line.answered[user] for user in users if user in line.answered]
    seconds = max(answers, default=time.perf_counter()) - first
    return ThroughputResult(
        processes=processes,
        concurrency=config.concurrency,
        turns=config.turns,
        answered=len(answers),
        seconds=seconds,
        turns_per_second=len(answers) / max(seconds, 1e-9),
        cpu=cpu,
    )


# -- the processes and stores -----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def _fake_llm(config: LoadConfig, env: dict[str, str], log: Path) -> Iterator[TomoProcess]:
    """bench/fake_llm.py in a process of its own; `.ready` holds its URL line."""
    command = [sys.executable, "-m", "bench.fake_llm"]
    command += ["--reply-ms", str(config.reply_ms), "--aux-ms", str(config.aux_ms)]
    with ready_process(
        command,
        env,
        log=log,
        is_ready=lambda line: "listening on" in line,
        what="the fake LLM",
    ) as process:
        yield process


@contextmanager
def _chroma_server(folder: Path, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """`chroma run` on a free loopback port; yields its URL and pid."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    chroma = Path(sys.executable).with_name("chroma")
    log = folder / "chroma.log"
    with log.open("ab") as output:
        process = subprocess.Popen(  # noqa: S603  (chromadb's own command)
            [chroma, "run", "--path", folder / "data", "--host", "127.0.0.1", "--port", str(port)],
            env=env | {"ANONYMIZED_TELEMETRY": "False", "NO_COLOR": "1"},
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"chroma run exited: {log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"chroma run did not answer in 60 s: {log.read_text()[-2000:]}")
            time.sleep(0.1)
        yield url, process.pid
    finally:
        stop_process(process, timeout=15)


@contextmanager
def _postgres_database(server_url: str) -> Iterator[tuple[str, str]]:
    """A new, empty database on the server; yields its URL and the server's version."""
    import psycopg
    from sqlalchemy.engine import make_url

    server = make_url(server_url)
    name = f"tomo_bench_{uuid.uuid4().hex[:12]}"
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        row = connection.execute("SHOW server_version").fetchone()
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            server.set(database=name).render_as_string(hide_password=False),
            str(row[0] if row else "?"),
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass(frozen=True)
class _Stores:
    env: dict[str, str]  # TOMO_DATABASE_URL / TOMO_CHROMA_URL
    helpers: dict[str, list[int]]  # pids of the processes the stores run in (ours)
    versions: dict[str, str]


@contextmanager
def _stores(
    backend: str, folder: Path, config: LoadConfig, env: dict[str, str]
) -> Iterator[_Stores]:
    if backend == "embedded":
        yield _Stores({}, {}, {"SQLite": sqlite3.sqlite_version, "Chroma": "embedded"})
        return
    if backend != "postgresql":
        raise ValueError(f"unknown backend {backend!r}: embedded or postgresql")
    folder.mkdir(parents=True, exist_ok=True)
    with (
        _postgres_database(config.postgres_url) as (database_url, pg_version),
        _chroma_server(folder, env) as (chroma_url, chroma_pid),
    ):
        stores = {"TOMO_DATABASE_URL": database_url, "TOMO_CHROMA_URL": chroma_url}
        done = subprocess.run(  # noqa: S603  (our own command)
            [tomo_command(), "db", "upgrade"],
            env=env | stores,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"tomo db upgrade failed: {done.stderr[-2000:]}")
        version = httpx.get(f"{chroma_url}/api/v2/version", timeout=5).text.strip('"')
        yield _Stores(
            stores,
            {"chroma": [chroma_pid]},
            {"PostgreSQL": pg_version, "Chroma server": version},
        )


def _llm_stats(url: str) -> dict[str, Any]:
    stats: dict[str, Any] = httpx.get(f"{url}/stats", timeout=10).json()
    return stats


def _measure_backend(
    backend: str,
    scratch: Path,
    config: LoadConfig,
    base: dict[str, str],
    line: LineStandIn,
    line_url: str,
    llm_url: str,
    llm_pid: int,
    progress: Progress,
) -> BackendResult:
    data_dir = scratch / backend
    repository = PersonaRepository(Settings(data_dir=data_dir).persona_dir)
    repository.save_draft(build_persona("shinyu"))
    repository.publish()
    logs = scratch / f"{backend}-logs"
    logs.mkdir()
    settings = _tomo_settings(config, llm_url)
    llm_before = _llm_stats(llm_url)
    with _stores(
        backend, scratch / f"{backend}-chroma", config, base | {"TOMO_DATA_DIR": str(data_dir)}
    ) as stores:

        def env(workers: int) -> dict[str, str]:
            return tomo_env(data_dir, line_url, workers, base, **settings, **stores.env)

        helpers = {"bench": [os.getpid()], "fake_llm": [llm_pid], **stores.helpers}
        throughput = _throughputs(backend, config, env, logs, line, helpers, progress)
        with tomo_process(
            env(config.concurrency), "serve", "--port", "0", log=logs / "serve.log"
        ) as server:
            pids = {"tomo": [server.popen.pid], **helpers}
            progress(f"{backend}: one turn end to end, idle")
            latency = asyncio.run(_latency(server.url, line, config.latency_turns))
            progress(
                f"{backend}: webhook at {config.rate:g}/s for {config.seconds:g} s, then the drain"
            )
            ack = asyncio.run(_ack_load(server.url, line, config, pids))
    llm_after = _llm_stats(llm_url)
    calls = {
        purpose: count - llm_before["calls"].get(purpose, 0)
        for purpose, count in llm_after["calls"].items()
    }
    return BackendResult(
        backend=backend,
        stores=BACKENDS[backend],
        versions=stores.versions,
        latency=latency,
        ack=ack,
        throughput=throughput,
        llm_calls=calls,
        llm_most_at_once=int(llm_after["most_at_once"]),
    )


def _throughputs(
    backend: str,
    config: LoadConfig,
    env: Callable[[int], dict[str, str]],
    logs: Path,
    line: LineStandIn,
    helpers: Mapping[str, Sequence[int]],
    progress: Progress,
) -> list[ThroughputResult]:
    """(c): a webhook-only `tomo serve`, and 1, 2, 4 … `tomo worker` processes in turn."""
    if not config.workers:
        return []
    results = []
    with tomo_process(env(0), "serve", "--port", "0", log=logs / "serve.log") as server:
        for count in config.workers:
            progress(f"{backend}: throughput, {count} worker process(es)")
            with ExitStack() as stack:
                workers = [
                    stack.enter_context(
                        tomo_process(env(config.concurrency), "worker", log=logs / "worker.log")
                    )
                    for _ in range(count)
                ]
                pids = {"tomo": [server.popen.pid, *(w.popen.pid for w in workers)], **helpers}
                results.append(asyncio.run(_throughput(server.url, line, config, count, pids)))
    return results


def _tomo_settings(config: LoadConfig, llm_url: str) -> dict[str, str]:
    return {
        "TOMO_LLM": "openai:bench-model",
        "TOMO_LLM_BASE_URL": f"{llm_url}/v1",
        "TOMO_LLM_API_KEY": "bench",
        "TOMO_BURST_SECONDS": f"{config.burst_seconds:g}",
        "TOMO_INBOX_POLL_SECONDS": f"{config.poll_seconds:g}",
    }


def machine_facts() -> dict[str, str]:
    """Cores, CPU, memory and the versions that matter for the numbers."""
    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "?"
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        memory = f"{kib / 1024 / 1024:.1f} GiB"
    facts = {
        "cores": str(os.cpu_count()),
        "cpu": model,
        "memory": memory,
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }
    for package in ("tomo-crm", "chromadb", "sqlalchemy", "psycopg", "uvicorn", "fastapi"):
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            facts[package] = importlib.metadata.version(package)
    return facts


@contextmanager
def _scratch(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield Path(tempfile.mkdtemp(prefix="tomo-bench-load-", dir=keep))
        return
    with tempfile.TemporaryDirectory(prefix="tomo-bench-load-") as folder:
        yield Path(folder)


def measure_load(
    config: LoadConfig | None = None,
    *,
    base_env: Mapping[str, str] | None = None,
    progress: Progress | None = None,
    keep_logs: Path | None = None,
) -> LoadReport:
    """Run every phase on every backend in `config`; nothing is left behind.

    `base_env` is the environment the bench's processes start from (default
    ours, less tomo's, LINE's and model providers' own variables). With
    `keep_logs`, the processes' logs (and data folders) are left in that folder.
    """
    config = config or LoadConfig()
    for backend in config.backends:
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}: {', '.join(BACKENDS)}")
    say = progress or (lambda _: None)
    base = {
        name: value
        for name, value in (os.environ if base_env is None else base_env).items()
        if not name.startswith(("TOMO_", "LINE_", "SLACK_", "OPENAI_", "ANTHROPIC_"))
    }
    # The fake model is our own module: the subprocess must find it like we do.
    here = str(Path(__file__).resolve().parents[1])
    llm_env = base | {"PYTHONPATH": os.pathsep.join(filter(None, [base.get("PYTHONPATH"), here]))}
    report = LoadReport(
        started=datetime.now(UTC).isoformat(timespec="seconds"),
        machine=machine_facts(),
        load_average_before=os.getloadavg(),
        load_average_after=(0.0, 0.0, 0.0),
        config=config,
        settings=_tomo_settings(config, "http://127.0.0.1:PORT")
        | {"TOMO_WORKERS": f"{config.concurrency} per answering process"},
    )
    line = LineStandIn()
    with (
        _scratch(keep_logs) as scratch,
        serve_in_thread(line.app()) as line_url,
        _fake_llm(config, llm_env, scratch / "fake-llm.log") as llm,
    ):
        llm_url = llm.ready.split("listening on", 1)[1].strip()
        for backend in config.backends:
            report.backends.append(
                _measure_backend(
                    backend, scratch, config, base, line, line_url, llm_url, llm.popen.pid, say
                )
            )
    return replace(report, load_average_after=os.getloadavg())


# -- the report -------------------------------------------------------------------------


def _ms(*values: float) -> str:
    return " / ".join("–" if value != value else f"{value:,.0f}" for value in values)


def _cores(cpu: Mapping[str, float], *names: str) -> str:
    return " / ".join(f"{cpu.get(name, 0.0):.2f}" for name in names)


def _model_bound(config: LoadConfig, processes: int) -> float:
    """Turns/s if only the model took time: each turn waits for judgment, then reply."""
    return processes * config.concurrency / ((config.reply_ms + config.aux_ms) / 1000)


def _throughput_cell(index: int) -> Callable[[BackendResult], str]:
    def cell(result: BackendResult) -> str:
        measured = result.throughput[index]
        text = f"{measured.turns_per_second:.1f} · " + _cores(measured.cpu, "tomo", "other")
        if measured.answered != measured.turns:
            text += f" ({measured.answered}/{measured.turns} answered)"
        return text

    return cell


def markdown(report: LoadReport) -> str:
    """The report as Markdown: machine, settings, one table, what limits each number."""
    config, machine = report.config, report.machine
    results = report.backends
    lines = [
        "# tomo bench load",
        "",
        f"Machine: {machine['cores']} cores ({machine['cpu']}), {machine['memory']}, "
        f"{machine['system']}; Python {machine['python']}, tomo {machine.get('tomo-crm', '?')}, "
        f"chromadb {machine.get('chromadb', '?')}, SQLAlchemy {machine.get('sqlalchemy', '?')}, "
        f"psycopg {machine.get('psycopg', '?')}, uvicorn {machine.get('uvicorn', '?')}"
        + "".join(
            f"; {name} {version}"
            for result in results
            for name, version in result.versions.items()
            if version != "embedded"
        )
        + ".",
        "",
        "Load average (1/5/15 min): "
        + "/".join(f"{value:.2f}" for value in report.load_average_before)
        + " before, "
        + "/".join(f"{value:.2f}" for value in report.load_average_after)
        + f" after (started {report.started}). Other work on the machine shows as “other” CPU.",
        "",
        f"Settings: TOMO_BURST_SECONDS={config.burst_seconds:g} (texts are not held back to "
        "wait for more; texts of one customer already waiting are still answered as one turn), "
        f"TOMO_INBOX_POLL_SECONDS={config.poll_seconds:g}, TOMO_WORKERS={config.concurrency} "
        "in each process that answers. Fake model (OpenAI-compatible, own process): the reply "
        f"{config.reply_ms:g} ms, the escalation judgment and fact extraction "
        f"{config.aux_ms:g} ms each; a turn waits for the judgment, then the reply; facts are "
        "extracted after the reply.",
        "",
        "| | " + " | ".join(f"{r.backend}: {r.stores}" for r in results) + " |",
        "|---|" + "---|" * len(results),
    ]

    def row(label: str, cell: Callable[[BackendResult], str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cell(result) for result in results) + " |")

    row(
        f"**(a) webhook ack**, {config.rate:g}/s offered for {config.seconds:g} s, "
        f"{config.customers} customers in turn, one `tomo serve` with its workers: "
        "p50 / p99 / max ms",
        lambda r: _ms(r.ack.p50_ms, r.ack.p99_ms, r.ack.max_ms),
    )
    row(
        "achieved (answered 200/s) · within LINE's 2 s · errors · sender behind schedule p99 ms",
        lambda r: (
            f"{r.ack.achieved_rate:.1f}/s · {r.ack.within_2s:.1%} · {r.ack.errors}"
            + (
                " (" + ", ".join(f"{n} {kind}" for kind, n in r.ack.error_kinds.items()) + ")"
                if r.ack.error_kinds
                else ""
            )
            + f" · {r.ack.sender_lag_p99_ms:.0f}"
        ),
    )
    row(
        "inbox + outbox drained, s after the last answer · turns made of the texts",
        lambda r: (
            (
                f"{r.ack.drain_seconds:.0f} s"
                if r.ack.drain_seconds is not None
                else f"not within {config.drain_timeout:g} s ({r.ack.left_pending} left)"
            )
            + f" · {r.ack.turns} turns for {r.ack.acknowledged} texts"
        ),
    )
    row(
        "CPU while sending, cores: tomo / load generator / fake model / Chroma server / other",
        lambda r: _cores(r.ack.cpu_sending, "tomo", "bench", "fake_llm", "chroma", "other"),
    )
    row(
        "CPU while draining, cores: tomo / other",
        lambda r: _cores(r.ack.cpu_draining, "tomo", "other"),
    )
    row(
        f"**(b) one turn end to end**, idle, {config.latency_turns} turns, each a new customer: "
        "p50 / p99 / max ms",
        lambda r: _ms(r.latency.p50_ms, r.latency.p99_ms, r.latency.max_ms),
    )
    row(
        f"tomo's own part (p50 − {config.aux_ms + config.reply_ms:g} ms of model time)",
        lambda r: _ms(r.latency.p50_ms - config.aux_ms - config.reply_ms),
    )
    for index, processes in enumerate(config.workers):
        row(
            f"**(c) throughput**, {config.turns} new customers' texts, {processes} × `tomo worker` "
            f"beside a webhook-only `tomo serve`: turns/s (model-bound ideal "
            f"{_model_bound(config, processes):g}) · CPU cores tomo / other",
            _throughput_cell(index),
        )
    row(
        "fake model calls: reply / escalation / facts · most at once",
        lambda r: (
            " / ".join(
                str(r.llm_calls.get(purpose, 0)) for purpose in ("reply", "escalation", "facts")
            )
            + f" · {r.llm_most_at_once}"
        ),
    )
    lines += ["", "What limits each number:", "", *(f"- {note}" for note in limits(report))]
    return "\n".join(lines) + "\n"


def limits(report: LoadReport) -> list[str]:
    """What bounds the numbers, from what was measured."""
    config = report.config
    cores = int(report.machine.get("cores") or 1)
    notes = [
        f"Everything runs on these {cores} cores: the load generator and the LINE stand-in "
        "(this process), the fake model, the Chroma server, PostgreSQL, the tomo processes, "
        "and other people's work (“other”). The generator uses a lean HTTP/1.1 client; its "
        "share while sending is in the CPU row, and “sender behind schedule” says whether it "
        "kept its schedule (latency counts from the scheduled time, so a late sender shows).",
    ]
    for result in report.backends:
        ack, name = result.ack, result.backend
        busy = ack.cpu_sending.get("machine", 0.0)
        serve = ack.cpu_sending.get("tomo", 0.0)
        notes.append(
            f"(a) {name}, acknowledgement: the webhook verifies the signature and writes each "
            "event to the SQL inbox before answering, in the same process and event loop as "
            f"{config.concurrency} workers answering turns (and their memory writes); the "
            f"machine was {busy:.1f} of {cores} cores busy while sending, {serve:.2f} of them "
            "in `tomo serve`"
            + (
                " — one Python process cannot use more than about one core: it is saturated, "
                "requests queue in it (and for its SQL connection pool) and the latency is "
                "mostly waiting"
                if serve >= 0.85
                else ""
            )
            + ". An error is an answer other than 200 (a 503 is an event not stored; LINE "
            "delivers it again) or none within 30 s (LINE itself gives up after 2 s)."
        )
        drain_cpu = ack.cpu_draining.get("tomo", 0.0)
        facts = result.llm_calls.get("facts", 0)
        note = (
            f"(a) {name}, drain: {ack.acknowledged} stored texts from {ack.customers} customers "
            f"became {ack.turns} turns (a customer's waiting texts are answered as one turn, "
            f"at most 20); the workers answer {config.concurrency} customers at a time, each "
            f"turn waiting {config.aux_ms + config.reply_ms:g} ms for the model."
        )
        if drain_cpu < 0.5 and (ack.drain_seconds is None or ack.drain_seconds > 60):
            note += (
                f" tomo used only {drain_cpu:.2f} cores while draining: it was waiting, not "
                "computing. The memory writer extracts facts one message at a time (one "
                f"consumer per process; {facts} extraction calls at {config.aux_ms:g} ms in this "
                "backend's run), and a returning customer's next turn first waits for the "
                "writes of their earlier texts (`MemoryWriter.settle`), queued behind everyone "
                "else's: with a slow extraction the turns wait on the writer."
            )
        notes.append(note)
    notes.append(
        f"(b) is model time ({config.aux_ms:g} ms judgment, then {config.reply_ms:g} ms reply) "
        "plus tomo's own work: store the event, wake a worker, claim the customer's lane, "
        "store the message, escalation rules (sentence encoder, MeCab), recall from Chroma, "
        "the prompt, the loading animation call, the outbox, the reply call to LINE."
    )
    for result in report.backends:
        if not result.throughput:
            continue
        best = max(result.throughput, key=lambda t: t.turns_per_second)
        busy = best.cpu.get("machine", 0.0)
        share = best.turns_per_second / _model_bound(config, best.processes)
        notes.append(
            f"(c) {result.backend}: a process answers {config.concurrency} customers at a time, "
            f"so the model alone would allow {config.concurrency} turns per "
            f"{(config.aux_ms + config.reply_ms) / 1000:g} s per process; at "
            f"{best.processes} process(es) it reached {share:.0%} of that with the machine "
            f"{busy:.1f} of {cores} cores busy"
            + (
                " — CPU-bound: more processes cannot help on this machine."
                if busy >= 0.9 * cores
                else "."
            )
        )
    return notes


def render_load(report: LoadReport, *, as_json: bool = False) -> str:
    """`tomo bench load`'s output: Markdown, or the report as JSON."""
    if as_json:
        return json.dumps(report.as_json(), ensure_ascii=False, indent=2)
    return markdown(report)
