"""What the LINE benchmarks share: a stand-in LINE API, signed webhooks, real `tomo` processes.

Used by `bench/webhook.py` (`tomo bench webhook`) and `bench/load.py`
(`tomo bench load`). Everything runs on loopback; nothing reaches LINE.
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
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

SECRET = "bench-channel-secret"  # noqa: S105  (a local stand-in channel)
TOKEN = "bench-access-token"  # noqa: S105
QUESTIONS = ("送料はいくらですか？", "こんにちは", "ギフト包装はできますか？", "ありがとう！")


class LineStandIn:
    """Accepts every Messaging API call and notes when each customer got an answer."""

    def __init__(self) -> None:
        self.answered: dict[str, float] = {}  # customer → when the first answer arrived
        self.count = 0  # replies and pushes received
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


_TOKENS: dict[str, str] = {}  # reply token → the customer it was given to


def new_user() -> str:
    """A LINE-shaped user id nobody else uses."""
    return f"U{secrets.token_hex(16)}"


def text_event(user: str, text: str) -> dict[str, Any]:
    """A LINE text message event from `user`, with a reply token the stand-in knows."""
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


def signed(events: list[dict[str, Any]]) -> tuple[bytes, dict[str, str]]:
    """A webhook body and its headers, signed with the bench channel's secret."""
    raw = json.dumps({"destination": "U" + "0" * 32, "events": events}).encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest())
    return raw, {"content-type": "application/json", "x-line-signature": signature.decode()}


@contextmanager
def serve_in_thread(app: FastAPI) -> Iterator[str]:
    """Serve `app` on a free loopback port in a thread of this process; yields its URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("a stand-in server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def tomo_env(
    data_dir: Path,
    line_url: str,
    workers: int,
    base: Mapping[str, str] | None = None,
    **extra: str,
) -> dict[str, str]:
    """The environment of a bench `tomo` process: `base` (default ours) less tomo/LINE settings."""
    base = os.environ if base is None else base
    env = {k: v for k, v in base.items() if not k.startswith(("TOMO_", "LINE_"))}
    return (
        env
        | {
            "TOMO_DATA_DIR": str(data_dir),
            "LINE_CHANNEL_SECRET": SECRET,
            "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
            "LINE_API_BASE": line_url,
            "TOMO_WORKERS": str(workers),
            # Every text its own turn, answered at once: the benches time tomo's
            # work, not the wait for a customer's pause (TOMO_BURST_SECONDS).
            "TOMO_BURST_SECONDS": "0",
        }
        | extra
    )


def tomo_command() -> str:
    """The `tomo` console script next to this Python."""
    tomo = shutil.which("tomo", path=str(Path(sys.executable).parent))
    if tomo is None:
        raise RuntimeError("the tomo command is not installed next to this Python")
    return tomo


@dataclass(frozen=True)
class TomoProcess:
    """A running `tomo` command and the first line it printed."""

    popen: subprocess.Popen[str]
    ready: str

    @property
    def url(self) -> str:
        """Where `tomo serve` listens (from its ready line)."""
        found = re.search(r"listening on (http://\S+)", self.ready)
        if found is None:
            raise RuntimeError(f"unexpected first line from tomo serve: {self.ready!r}")
        return found.group(1)


@contextmanager
def tomo_process(env: dict[str, str], *args: str, log: Path | None = None) -> Iterator[TomoProcess]:
    """Run a `tomo` command until the block ends, once it printed its ready line.

    Its log (stderr) goes to `log`, or nowhere.
    """
    with ready_process(
        [tomo_command(), *args, "--log-level", "warning"],
        env,
        log=log,
        is_ready=lambda line: line.startswith("tomo:"),
        what=f"tomo {args[0]}",
    ) as process:
        yield process


@contextmanager
def ready_process(
    command: list[str],
    env: dict[str, str],
    *,
    log: Path | None,
    is_ready: Callable[[str], bool],
    what: str,
) -> Iterator[TomoProcess]:
    """Run a command of ours until the block ends, once its first line says it is ready.

    Its log (stderr) goes to `log`, or nowhere; it is stopped (killed if need be) at the end.
    """
    with log.open("a") if log is not None else _devnull() as stderr:
        process = subprocess.Popen(  # noqa: S603  (our own command)
            command, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        try:
            ready = process.stdout.readline() if process.stdout else ""
            if not is_ready(ready):
                said = f"; its log: {log.read_text()[-2000:]}" if log is not None else ""
                raise RuntimeError(f"{what} did not start{said}")
            yield TomoProcess(process, ready)
        finally:
            stop_process(process, timeout=30)
            if process.stdout is not None:
                process.stdout.close()


def stop_process(process: subprocess.Popen[str] | subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM, wait up to `timeout` seconds, then SIGKILL."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextmanager
def _devnull() -> Iterator[IO[str]]:
    with open(os.devnull, "w") as sink:
        yield sink


async def until(condition: Callable[..., object], within: float) -> bool:
    """Wait until `condition()` holds (True) or `within` seconds passed (False)."""
    deadline = time.perf_counter() + within
    while not condition():
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(0.005)
    return True


def percentile(values: list[float], fraction: float) -> float:
    """The value at `fraction` (0–1) of the sorted values (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]
