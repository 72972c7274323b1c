"""A fake LINE Messaging API, speaking real HTTP, checking every request.

Serve it with `tests.fakes.http_server.serve(fake.app())` and point
`LINE_API_BASE` at the URL. Every request tomo sends is validated against
`../shared/contracts/line/messaging-api.yml` (see `line_contract`); what is
wrong lands in `problems` (tests assert it stays empty) and is answered 400
like LINE would. Every answer the fake gives is checked against the same
contract.

It behaves like LINE where it matters to tomo:
- reply tokens are issued per customer (`reply_token`), single use, and can be
  expired (`expire`); a bad token gets 400 "Invalid reply token";
- a push whose `X-Line-Retry-Key` was accepted before gets 409;
- answers can be scripted per endpoint (`script`): 400, 429, 500 …, and a
  scripted failure can still accept the message (the answer lost on the way).
"""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.fakes.line_contract import request_problems, response_problems

ACCESS_TOKEN = "test-channel-access-token"  # a test value


@dataclass(frozen=True)
class Delivered:
    """Messages LINE accepted for a customer."""

    via: str  # "reply" or "push"
    to: str
    messages: list[dict[str, Any]]
    retry_key: str | None = None

    @property
    def texts(self) -> list[str]:
        return [message.get("text", "") for message in self.messages]


@dataclass(frozen=True)
class Scripted:
    """One scripted answer: the status, LINE's message, and whether LINE accepted anyway."""

    status: int
    message: str = "scripted failure"
    accept: bool = False


@dataclass(frozen=True)
class Call:
    """One request the fake received, in order."""

    endpoint: str  # reply, push, loading, profile
    customer: str | None
    status: int
    retry_key: str | None = None


@dataclass
class FakeLineApi:
    access_token: str = ACCESS_TOKEN
    profiles: dict[str, str] = field(default_factory=dict)
    delivered: list[Delivered] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    loading: list[dict[str, Any]] = field(default_factory=list)
    _tokens: dict[str, str] = field(default_factory=dict)
    _scripts: dict[str, list[Scripted]] = field(default_factory=dict)
    _accepted_keys: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(500000000000000))

    # -- test controls -------------------------------------------------------

    def reply_token(self, user_id: str) -> str:
        """A fresh reply token for a webhook event of this customer."""
        token = f"rt{next(self._ids):x}"
        with self._lock:
            self._tokens[token] = user_id
        return token

    def expire(self, token: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)

    def script(self, endpoint: str, *answers: Scripted) -> None:
        """The next answers of an endpoint (reply, push, loading, profile), in order."""
        with self._lock:
            self._scripts.setdefault(endpoint, []).extend(answers)

    def to(self, user_id: str) -> list[Delivered]:
        with self._lock:
            return [item for item in self.delivered if item.to == user_id]

    def texts_to(self, user_id: str) -> list[str]:
        return [text for item in self.to(user_id) for text in item.texts]

    def endpoints_for(self, user_id: str) -> list[str]:
        with self._lock:
            return [call.endpoint for call in self.calls if call.customer == user_id]

    # -- the HTTP side -------------------------------------------------------

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v2/bot/message/reply")
        async def reply(request: Request) -> JSONResponse:
            body, problems = await self._check(request)
            token = body.get("replyToken", "") if isinstance(body, dict) else ""
            with self._lock:
                user = self._tokens.get(token)
            if problems:
                return self._answer("reply", user, 400, _error("The request body has errors"))
            scripted = self._next("reply")
            if scripted is not None:
                if scripted.accept and user:
                    self._accept("reply", user, body["messages"], None, token)
                return self._answer("reply", user, scripted.status, _error(scripted.message))
            if user is None:
                return self._answer("reply", None, 400, _error("Invalid reply token"))
            sent = self._accept("reply", user, body["messages"], None, token)
            return self._answer("reply", user, 200, sent, schema="ReplyMessageResponse")

        @app.post("/v2/bot/message/push")
        async def push(request: Request) -> JSONResponse:
            body, problems = await self._check(request)
            key = request.headers.get("x-line-retry-key")
            user = body.get("to") if isinstance(body, dict) else None
            if problems:
                return self._answer("push", user, 400, _error("The request body has errors"), key)
            with self._lock:
                seen = key is not None and key in self._accepted_keys
            if seen:
                conflict = _error("The retry key is already accepted")
                return self._answer("push", user, 409, conflict, key)
            scripted = self._next("push")
            if scripted is not None:
                if scripted.accept:
                    self._accept("push", str(user), body["messages"], key, None)
                return self._answer("push", user, scripted.status, _error(scripted.message), key)
            sent = self._accept("push", str(user), body["messages"], key, None)
            return self._answer("push", user, 200, sent, key, schema="PushMessageResponse")

        @app.post("/v2/bot/chat/loading/start")
        async def loading(request: Request) -> JSONResponse:
            body, problems = await self._check(request)
            user = body.get("chatId") if isinstance(body, dict) else None
            if problems:
                return self._answer("loading", user, 400, _error("The request body has errors"))
            scripted = self._next("loading")
            if scripted is not None:
                return self._answer("loading", user, scripted.status, _error(scripted.message))
            with self._lock:
                self.loading.append(body)
            return self._answer("loading", user, 202, {}, schema="ShowLoadingAnimationResponse")

        @app.get("/v2/bot/profile/{user_id}")
        async def profile(user_id: str, request: Request) -> JSONResponse:
            _, problems = await self._check(request)
            if problems:
                return self._answer("profile", user_id, 400, _error("Bad request"))
            scripted = self._next("profile")
            if scripted is not None:
                return self._answer("profile", user_id, scripted.status, _error(scripted.message))
            name = self.profiles.get(user_id)
            if name is None:
                return self._answer("profile", user_id, 404, _error("Not found"))
            found = {"displayName": name, "userId": user_id, "language": "ja"}
            return self._answer("profile", user_id, 200, found, schema="UserProfileResponse")

        return app

    async def _check(self, request: Request) -> tuple[Any, list[str]]:
        raw = await request.body()
        headers = {name.lower(): value for name, value in request.headers.items()}
        problems = request_problems(request.method.lower(), request.url.path, headers, raw)
        if headers.get("authorization") != f"Bearer {self.access_token}":
            problems.append(f"{request.url.path}: wrong or missing channel access token")
        if problems:
            with self._lock:
                self.problems.extend(problems)
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {}
        return body, problems

    def _next(self, endpoint: str) -> Scripted | None:
        with self._lock:
            queue = self._scripts.get(endpoint)
            return queue.pop(0) if queue else None

    def _accept(
        self,
        via: str,
        user: str,
        messages: list[dict[str, Any]],
        key: str | None,
        token: str | None,
    ) -> dict[str, Any]:
        with self._lock:
            if token is not None:
                self._tokens.pop(token, None)  # single use
            if key is not None:
                self._accepted_keys.add(key)
            self.delivered.append(Delivered(via, user, messages, key))
            return {"sentMessages": [{"id": str(next(self._ids))} for _ in messages]}

    def _answer(
        self,
        endpoint: str,
        user: str | None,
        status: int,
        body: dict[str, Any],
        key: str | None = None,
        *,
        schema: str = "ErrorResponse",
    ) -> JSONResponse:
        problems = response_problems(schema, body)
        with self._lock:
            self.calls.append(Call(endpoint, user, status, key))
            self.problems.extend(f"the fake's own answer: {p}" for p in problems)
        return JSONResponse(body, status_code=status)


def _error(message: str) -> dict[str, Any]:
    return {"message": message}
