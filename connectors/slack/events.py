"""Slack → tomo: events and button clicks through slack-bolt, recorded once, handled after the ack.

Bolt verifies the signing secret on the raw body (a bad signature or a stale
timestamp gets 401), answers Slack's url_verification, and drops the app's own
messages. Then tomo's middleware translates what is ours — a reply in a
handoff's thread, a click on a handoff card's button — into tomo's own
values and records it in the SQL store under Slack's id for it (`event_id`,
or the click's user and `action_ts`) *before* Slack is answered. A retry
(`X-Slack-Retry-Num`) or a duplicate finds the record and is answered 200
without being handled again. The listener acknowledges at once (Slack wants
an answer within 3 s) and handles the recorded request after the answer; a
request a crash cut short is still pending and `recover` handles it later.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.handoff import StaffMember
from bot.staff_actions import StaffActions
from connectors.metrics import timed_webhook
from connectors.slack.card import ACTIONS, BACK_TO_BOT, CLAIM, RESOLVE, SEND_SUGGESTION, unescape
from memory.handoffs import HandoffStore
from memory.models import utcnow
from memory.staff_events import StaffEvent, StaffEventStatus, StaffEventStore

log = logging.getLogger(__name__)

PATH = "/slack/events"
KEY = "tomo_staff_event"  # where the middleware leaves the record's key for the listener
REPLY_SUBTYPES = (None, "thread_broadcast")  # a reply also sent to the channel is a reply


@dataclass(frozen=True)
class StaffWrote:
    """A person wrote in a Slack thread (the handoff thread, if it is one)."""

    channel: str
    thread_ts: str
    user: str
    text: str


@dataclass(frozen=True)
class StaffClicked:
    """A person clicked one of a handoff card's buttons."""

    action: str
    handoff_id: str
    user: str
    user_name: str | None


@dataclass(frozen=True)
class Recorded:
    key: str
    kind: str  # "wrote" or "clicked"
    payload: dict[str, Any]


def translate(body: dict[str, Any]) -> Recorded | None:
    """What tomo handles of a Slack request body, as its own values; None for the rest."""
    if body.get("type") == "event_callback":
        event = body.get("event") or {}
        if not isinstance(event, dict) or event.get("type") != "message":
            return None
        thread_ts, ts = event.get("thread_ts"), event.get("ts")
        user, text, channel = event.get("user"), event.get("text"), event.get("channel")
        if (
            event.get("subtype") not in REPLY_SUBTYPES
            or event.get("bot_id")
            or not (isinstance(thread_ts, str) and thread_ts != ts)
            or not (isinstance(user, str) and isinstance(text, str) and isinstance(channel, str))
        ):
            return None
        wrote = StaffWrote(channel, thread_ts, user, unescape(text))
        return Recorded(f"event:{body.get('event_id') or ts}", "wrote", asdict(wrote))
    if body.get("type") == "block_actions":
        actions = body.get("actions") or []
        user = body.get("user") or {}
        if len(actions) != 1 or not isinstance(user, dict) or not user.get("id"):
            return None
        action = actions[0]
        if action.get("action_id") not in ACTIONS or not action.get("value"):
            return None
        clicked = StaffClicked(
            action=action["action_id"],
            handoff_id=str(action["value"]),
            user=str(user["id"]),
            user_name=user.get("name") or user.get("username"),
        )
        key = f"action:{user['id']}:{action.get('action_ts') or body.get('trigger_id')}"
        return Recorded(key, "clicked", asdict(clicked))
    return None


class SlackInbound:
    """Records what staff did, once, and hands it to the staff actions."""

    def __init__(
        self,
        handoffs: HandoffStore,
        events: StaffEventStore,
        actions: StaffActions,
        *,
        clock: Callable[[], datetime] = utcnow,
        lease: timedelta = timedelta(seconds=60),
        max_attempts: int = 5,
    ) -> None:
        self._handoffs = handoffs
        self.events = events
        self._actions = actions
        self._clock = clock
        self._lease = lease
        self._max_attempts = max_attempts

    async def record(self, recorded: Recorded) -> bool | None:
        """Store it before Slack is answered: True new, False seen before, None not tomo's."""
        if recorded.kind == "wrote":
            wrote = recorded.payload
            if await self._handoffs.by_thread(wrote["channel"], wrote["thread_ts"]) is None:
                return None  # a thread that is not a handoff's: nothing to keep
        payload = json.dumps(recorded.payload, ensure_ascii=False)
        return await self.events.receive(
            recorded.key, recorded.kind, payload, retry_at=self._clock() + self._lease
        )

    async def handle(self, key: str) -> None:
        """Handle a request this process just recorded (after Slack was answered).

        The record's `retry_at` (set when it was recorded) keeps `recover`
        away from it meanwhile.
        """
        stored = await self.events.event(key)
        if stored is None or stored.status is not StaffEventStatus.PENDING:
            return
        await self._run(stored)

    async def recover(self) -> int:
        """Handle requests a crash (or a failure) left pending; returns how many were tried."""
        tried = 0
        for stored in await self.events.due(self._clock()):
            now = self._clock()
            if not await self.events.take(stored.key, now=now, until=now + self._lease):
                continue  # another process took it
            taken = await self.events.event(stored.key)
            if taken is not None:
                await self._run(taken)
                tried += 1
        return tried

    async def _run(self, stored: StaffEvent) -> None:
        try:
            await self._apply(stored.kind, json.loads(stored.payload))
        except Exception:
            log.exception("a Slack request failed; it is tried again later")
            if stored.attempts >= self._max_attempts:
                log.error("gave up on a Slack request after %d attempts", stored.attempts)
                await self.events.finish(stored.key, failed=True)
            return
        await self.events.finish(stored.key)

    async def _apply(self, kind: str, payload: dict[str, Any]) -> None:
        actions = self._actions
        if kind == "wrote":
            wrote = StaffWrote(**payload)
            await actions.reply_in_thread(
                wrote.channel, wrote.thread_ts, StaffMember(wrote.user), wrote.text
            )
            return
        clicked = StaffClicked(**payload)
        staff = StaffMember(clicked.user, clicked.user_name)
        handlers = {
            CLAIM: actions.claim,
            BACK_TO_BOT: actions.back_to_bot,
            RESOLVE: actions.resolve,
            SEND_SUGGESTION: actions.send_suggestion,
        }
        await handlers[clicked.action](clicked.handoff_id, staff)


def build_bolt_app(
    *, client: AsyncWebClient, signing_secret: str | None, inbound: SlackInbound
) -> AsyncApp:
    """The slack-bolt app: verification by Bolt, recording by tomo, handling after the ack."""
    bolt = AsyncApp(
        name="tomo",
        client=client,
        # Without a signing secret (Socket Mode only) the HTTP route refuses every
        # request before Bolt sees it; Socket Mode requests are not HTTP-signed.
        signing_secret=signing_secret or "",
        process_before_response=False,
        logger=logging.getLogger("tomo.slack_bolt"),
    )

    async def record_once(
        body: dict[str, Any],
        context: AsyncBoltContext,
        next_: Callable[[], Awaitable[None]],
    ) -> BoltResponse | None:
        recorded = translate(body)
        if recorded is not None:
            fresh = await inbound.record(recorded)
            if fresh is False:
                log.info("a Slack request seen before was answered, not handled again")
                return BoltResponse(status=200, body="")
            if fresh:
                context[KEY] = recorded.key
        await next_()
        return None

    bolt.middleware(record_once)

    async def after_ack(context: AsyncBoltContext) -> None:
        key = context.get(KEY)
        if key:
            await inbound.handle(key)

    @bolt.action(re.compile("^tomo_"))
    async def clicked(ack: Callable[[], Awaitable[None]], context: AsyncBoltContext) -> None:
        await ack()
        await after_ack(context)

    @bolt.event("message")
    async def message(context: AsyncBoltContext) -> None:
        await after_ack(context)  # Bolt has answered Slack already (Events API)

    return bolt


def slack_router(bolt: Callable[[], AsyncApp | None]) -> APIRouter:
    """POST /slack/events: Slack's events and interactivity (both go to the same URL).

    `bolt` gives the Bolt app when Slack is configured with a signing secret;
    otherwise the route answers 503 and nothing is read.
    """
    router = APIRouter()

    @router.post(PATH, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        return await timed_webhook("slack", receive(request))

    async def receive(request: Request) -> Response:
        app = bolt()
        if app is None:
            return JSONResponse(
                {
                    "detail": "Slack is not configured: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET, "
                    "SLACK_HANDOFF_CHANNEL"
                },
                status_code=503,
            )
        return await AsyncSlackRequestHandler(app).handle(request)

    return router
