"""A fake Slack Web API, speaking real HTTP, checking every request against the contract.

Serve it with `tests.fakes.http_server.serve(fake.app())` and point
`SLACK_API_BASE` at `<url>/api/`. Every request tomo sends (slack_sdk's
AsyncWebClient, Bolt's auth.test included) is validated against
`../shared/contracts/slack/slack_web_openapi_v2.json` (see `slack_contract`);
what is wrong lands in `problems` (tests assert it stays empty) and is answered
`ok: false` like Slack would. Every answer is checked against the method's
success schema too.

It behaves like Slack where it matters to tomo: messages get increasing `ts`
values, `chat.update` needs a message that exists, thread replies are kept
with their `thread_ts`, and `down = True` makes every call fail with a 503
(Slack having an outage) until it is set back.

Socket Mode: `apps.connections.open` (with the app-level token; the method is
newer than the contract's 2020 snapshot, so only the token is checked) hands
out a WebSocket URL on the same server; `send_envelope` pushes an envelope to
the connected app and `acks` collects the envelope ids it acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response

from tests.fakes.slack_contract import request_problems, response_problems

BOT_TOKEN = "xoxb-test-bot-token"  # a test value
APP_TOKEN = "xapp-test-app-token"  # a test value
TEAM_ID = "T0TOMO0001"
BOT_USER_ID = "U0TOMOBOT1"
BOT_ID = "B0TOMOBOT1"
HANDOFF_CHANNEL = "C0HANDOFF1"


@dataclass(frozen=True)
class Posted:
    """A message tomo posted, updated or showed to one person."""

    method: str
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    user: str | None = None  # chat.postEphemeral: who sees it
    reply_broadcast: bool = False

    def block_text(self) -> str:
        """Every text in the blocks, joined (for assertions)."""
        return json.dumps(self.blocks, ensure_ascii=False)

    def action_ids(self) -> list[str]:
        """The buttons' action ids, in order (accessories and actions blocks)."""
        found: list[str] = []
        for block in self.blocks:
            accessory = block.get("accessory")
            if isinstance(accessory, dict):
                found.append(accessory["action_id"])
            if block.get("type") == "actions":
                found.extend(element["action_id"] for element in block.get("elements", []))
        return found


@dataclass
class FakeSlackApi:
    token: str = BOT_TOKEN
    down: bool = False
    problems: list[str] = field(default_factory=list)
    calls: list[tuple[str, int]] = field(default_factory=list)  # (method, HTTP status)
    posted: list[Posted] = field(default_factory=list)  # chat.postMessage, in order
    updated: list[Posted] = field(default_factory=list)  # chat.update, in order
    ephemeral: list[Posted] = field(default_factory=list)
    acks: list[str] = field(default_factory=list)  # Socket Mode envelope ids acknowledged
    socket_connected: threading.Event = field(default_factory=threading.Event)
    _envelopes: queue.Queue[dict[str, Any]] = field(default_factory=queue.Queue)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ts: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    # -- what tests look at ----------------------------------------------------

    def cards(self) -> list[Posted]:
        """Top-level messages (handoff cards), in order."""
        with self._lock:
            return [p for p in self.posted if p.thread_ts is None]

    def thread(self, ts: str) -> list[Posted]:
        """Replies in one thread, in order."""
        with self._lock:
            return [p for p in self.posted if p.thread_ts == ts]

    def updates_of(self, ts: str) -> list[Posted]:
        with self._lock:
            return [p for p in self.updated if p.ts == ts]

    def hints_to(self, user: str) -> list[Posted]:
        with self._lock:
            return [p for p in self.ephemeral if p.user == user]

    def calls_to(self, method: str) -> list[int]:
        with self._lock:
            return [status for name, status in self.calls if name == method]

    def send_envelope(self, envelope: dict[str, Any]) -> None:
        """Push a Socket Mode envelope to the connected app."""
        self._envelopes.put(envelope)

    # -- HTTP ------------------------------------------------------------------

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/api/apps.connections.open")
        async def connections_open(request: Request) -> Response:
            if request.headers.get("authorization") != f"Bearer {APP_TOKEN}":
                with self._lock:
                    self.problems.append("apps.connections.open: not the app-level token")
                return JSONResponse({"ok": False, "error": "invalid_auth"})
            self._record("apps.connections.open", 200)
            return JSONResponse({"ok": True, "url": f"ws://{request.url.netloc}/socket"})

        @app.websocket("/socket")
        async def socket(websocket: WebSocket) -> None:
            await websocket.accept()
            await websocket.send_json(
                {"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}}
            )
            self.socket_connected.set()
            pump = asyncio.create_task(self._pump(websocket))
            try:
                while True:
                    message = json.loads(await websocket.receive_text())
                    if isinstance(message, dict) and "envelope_id" in message:
                        with self._lock:
                            self.acks.append(str(message["envelope_id"]))
            except WebSocketDisconnect:
                pass
            finally:
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump

        @app.api_route("/api/{method}", methods=["GET", "POST"])
        async def api(method: str, request: Request) -> Response:
            arguments = await _arguments(request)
            if self.down:
                self._record(method, 503)
                return Response("upstream connect error", status_code=503, media_type="text/html")
            problems = request_problems(
                method,
                arguments,
                authorization=request.headers.get("authorization"),
                token=self.token,
            )
            if problems:
                with self._lock:
                    self.problems.extend(problems)
                return self._answer(method, {"ok": False, "error": "invalid_arguments"})
            handler = self._handlers().get(method)
            if handler is None:
                with self._lock:
                    self.problems.append(f"{method}: the fake does not answer it")
                return self._answer(method, {"ok": False, "error": "unknown_method"})
            return self._answer(method, handler(arguments))

        return app

    async def _pump(self, websocket: WebSocket) -> None:
        while True:
            try:
                envelope = self._envelopes.get_nowait()
            except queue.Empty:
                await asyncio.sleep(0.01)
                continue
            await websocket.send_json(envelope)

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], dict[str, Any]]]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
        }

    def _answer(self, method: str, body: dict[str, Any]) -> JSONResponse:
        if body.get("ok"):
            problems = response_problems(method, body)
            if problems:
                with self._lock:
                    self.problems.extend(problems)
        self._record(method, 200)
        return JSONResponse(body)

    def _record(self, method: str, status: int) -> None:
        with self._lock:
            self.calls.append((method, status))

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    def _auth_test(self, _: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://tomo-test.slack.com/",
            "team": "tomo test",
            "user": "tomo",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
        }

    def _post_message(self, arguments: dict[str, Any]) -> dict[str, Any]:
        channel = str(arguments["channel"])
        ts = self._next_ts()
        blocks = _blocks(arguments)
        thread_ts = arguments.get("thread_ts")
        with self._lock:
            if thread_ts is not None and not any(
                p.ts == thread_ts and p.channel == channel for p in self.posted
            ):
                return {"ok": False, "error": "thread_not_found"}
            self.posted.append(
                Posted(
                    "chat.postMessage",
                    channel,
                    ts,
                    str(arguments.get("text", "")),
                    blocks,
                    thread_ts=thread_ts,
                    reply_broadcast=bool(arguments.get("reply_broadcast")),
                )
            )
        message: dict[str, Any] = {
            "type": "message",
            "text": str(arguments.get("text", "")),
            "ts": ts,
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
        }
        if blocks:
            message["blocks"] = blocks
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _update(self, arguments: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(arguments["channel"]), str(arguments["ts"])
        with self._lock:
            if not any(p.ts == ts and p.channel == channel for p in self.posted):
                return {"ok": False, "error": "message_not_found"}
            self.updated.append(
                Posted(
                    "chat.update", channel, ts, str(arguments.get("text", "")), _blocks(arguments)
                )
            )
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": str(arguments.get("text", "")),
            "message": {"text": str(arguments.get("text", "")), "user": BOT_USER_ID},
        }

    def _post_ephemeral(self, arguments: dict[str, Any]) -> dict[str, Any]:
        ts = self._next_ts()
        with self._lock:
            self.ephemeral.append(
                Posted(
                    "chat.postEphemeral",
                    str(arguments["channel"]),
                    ts,
                    str(arguments.get("text", "")),
                    _blocks(arguments),
                    thread_ts=arguments.get("thread_ts"),
                    user=str(arguments["user"]),
                )
            )
        return {"ok": True, "message_ts": ts}


async def _arguments(request: Request) -> dict[str, Any]:
    arguments: dict[str, Any] = dict(request.query_params)
    raw = await request.body()
    if not raw:
        return arguments
    if request.headers.get("content-type", "").startswith("application/json"):
        body = json.loads(raw)
        if isinstance(body, dict):
            arguments.update(body)
    else:
        arguments.update(dict(parse_qsl(raw.decode("utf-8"))))
    return arguments


def _blocks(arguments: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = arguments.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    return list(blocks)
