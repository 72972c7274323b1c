"""POST /line/webhook: verify, store in the inbox, answer 200 — in milliseconds.

Nothing is handled here: the events are written to the durable inbox (a
redelivered event hits the unique `webhookEventId` and is not stored twice)
and the workers are woken. If the inbox cannot be written the answer is 503,
so that LINE delivers the events again rather than losing them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from linebot.v3.webhook import WebhookParser
from sqlalchemy.exc import SQLAlchemyError

from bot.events import encode
from connectors.line.parsing import WebhookRejected, parse_webhook
from connectors.metrics import timed_webhook
from memory.queue import EventQueue, NewEvent

log = logging.getLogger(__name__)

PATH = "/line/webhook"


class BodyTooLarge(Exception):
    pass


def line_webhook_router(
    *,
    channel_secret: str,
    inbox: Callable[[], EventQueue],
    notify: Callable[[], None],
    max_body_bytes: int,
) -> APIRouter:
    """The webhook endpoint for one LINE channel (`inbox` is looked up per request:
    it opens with the app's lifespan, after the routes are made)."""
    parser = WebhookParser(channel_secret)
    router = APIRouter()

    @router.post(PATH, include_in_schema=False)
    async def line_webhook(request: Request) -> JSONResponse:
        return await timed_webhook("line", receive(request))

    async def receive(request: Request) -> JSONResponse:
        signature = request.headers.get("x-line-signature")
        if not signature:
            return _refuse(400, "missing x-line-signature")
        try:
            body = await _read(request, max_body_bytes)
        except BodyTooLarge:
            return _refuse(413, f"the body is larger than {max_body_bytes} bytes")
        try:
            webhook = parse_webhook(parser, body, signature)
        except WebhookRejected as rejected:
            return _refuse(rejected.status, rejected.reason)
        if webhook.skipped:
            log.info("LINE events not for tomo, acknowledged: %s", ", ".join(webhook.skipped))
        if not webhook.events:
            return JSONResponse({})
        try:
            stored = await inbox().add(
                [
                    NewEvent(
                        event_id=event.event_id,
                        channel=event.channel,
                        customer_id=event.customer_id,
                        kind=event.kind,
                        payload=encode(event),
                        occurred_at=event.occurred_at,
                    )
                    for event in webhook.events
                ]
            )
        except SQLAlchemyError:
            log.exception("could not store LINE events; LINE is asked to deliver them again")
            return _refuse(503, "the inbox is unavailable; deliver again later")
        if stored:
            notify()
        repeated = len(webhook.events) - stored
        if repeated:
            log.info("%d LINE event(s) seen before (redelivered); not handled again", repeated)
        return JSONResponse({})

    return router


async def _read(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _refuse(status: int, reason: str) -> JSONResponse:
    log.info("LINE webhook refused (%d): %s", status, reason)
    return JSONResponse({"detail": reason}, status_code=status)
