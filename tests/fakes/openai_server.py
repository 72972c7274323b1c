"""A fake OpenAI-compatible chat-completions server, speaking real HTTP.

It checks each request has the shape the Chat Completions API requires,
records it, and answers with the next scripted reply (or an error status).
Where several features share one model, `route` picks the reply from the
request itself; a reply marked `hold` is sent only once `release` is set (a
provider that hangs).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@dataclass
class ScriptedReply:
    content: str = ""
    status: int = 200
    hold: bool = False  # answered only once FakeOpenAI.release is set


@dataclass
class FakeOpenAI:
    replies: list[ScriptedReply] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # The reply for a request (None: the next scripted one).
    route: Callable[[dict[str, Any]], ScriptedReply | None] | None = None
    release: threading.Event = field(default_factory=threading.Event)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def completions(request: Request) -> JSONResponse:
            body = await request.json()
            self.requests.append(body)
            self.problems.extend(_validate(body, request.headers.get("authorization")))
            reply = self.route(body) if self.route is not None else None
            if reply is None:
                reply = self.replies.pop(0) if self.replies else ScriptedReply("はい")
            if reply.hold:
                await asyncio.to_thread(self.release.wait, 30)
            if reply.status != 200:
                return JSONResponse(
                    {"error": {"message": "scripted failure", "type": "server_error"}},
                    status_code=reply.status,
                )
            return JSONResponse(_completion(body["model"], reply.content))

        return app


def _validate(body: dict[str, Any], authorization: str | None) -> list[str]:
    problems = []
    if not authorization or not authorization.startswith("Bearer "):
        problems.append("missing bearer token")
    if not isinstance(body.get("model"), str):
        problems.append("model must be a string")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        problems.append("messages must be a non-empty list")
        return problems
    for message in messages:
        if message.get("role") not in {"system", "developer", "user", "assistant", "tool"}:
            problems.append(f"bad role {message.get('role')!r}")
        if not isinstance(message.get("content"), (str, list)):
            problems.append("content must be a string or parts")
    return problems


def _completion(model: str, content: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }
