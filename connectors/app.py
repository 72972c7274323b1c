"""The HTTP app and the workers: built from settings, opened and closed in one lifespan.

`open_services` is the composition root of the server side: the runtime
(stores, persona, responder, conversation), the inbox/outbox, the LINE client
and sender, the event handler and the workers. `create_app` puts the HTTP
routes in front of it (`tomo serve`); `tomo worker` uses the same services
without HTTP.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bot.event_handler import EventHandler
from bot.events import Media, Postback, Sticker, TextMessage, decode
from bot.worker import WorkerConfig, Workers
from connectors.admin import admin_routers
from connectors.line.client import LineApi
from connectors.line.sender import LineSender, SendPolicy
from connectors.line.webhook import PATH as LINE_WEBHOOK_PATH
from connectors.line.webhook import line_webhook_router
from connectors.messengers import LineMessenger
from connectors.metrics import metrics_router
from connectors.runtime import Runtime, open_runtime
from connectors.settings import Settings
from connectors.slack.connection import (
    SlackConfigError,
    SlackSide,
    handoff_upkeep,
    open_slack,
    slack_enabled,
)
from connectors.slack.events import slack_router
from memory.models import utcnow
from memory.queue import EventQueue, InboxEvent
from persona.repository import NoPersonaError, PersonaRepository

log = logging.getLogger(__name__)

# Events a customer waits for an answer to (others, like an unfollow, are not answered).
ANSWERED_EVENTS = (TextMessage, Sticker, Media, Postback)


_LINE_VARIABLES = "LINE_CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN"


class ConfigError(RuntimeError):
    """A setting the server needs is missing; the message names the variable."""


@dataclass(frozen=True)
class Services:
    """Everything the server side runs on, open for the lifespan."""

    settings: Settings
    runtime: Runtime
    queue: EventQueue
    workers: Workers | None  # None when LINE is not configured
    sender: LineSender | None
    handler: EventHandler | None
    slack: SlackSide | None = None  # None when Slack is not configured


def check_line_settings(settings: Settings) -> bool:
    """Whether LINE is configured; one of its two secrets without the other is an error."""
    secret, token = settings.line_channel_secret, settings.line_channel_access_token
    if secret and not token:
        raise ConfigError("LINE_CHANNEL_ACCESS_TOKEN is not set (LINE_CHANNEL_SECRET is)")
    if token and not secret:
        raise ConfigError("LINE_CHANNEL_SECRET is not set (LINE_CHANNEL_ACCESS_TOKEN is)")
    return bool(secret and token)


def preflight(settings: Settings) -> bool:
    """Fail early, naming what is missing; returns whether LINE is configured."""
    line_enabled = check_line_settings(settings)
    try:
        slack_enabled(settings)
    except SlackConfigError as error:
        raise ConfigError(str(error)) from error
    try:
        PersonaRepository(settings.persona_dir).published()
    except NoPersonaError as error:
        raise ConfigError(
            f"{error} (publish one first: tomo persona init --relationship 親友)"
        ) from error
    return line_enabled


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Open the runtime, the queue and (if configured) LINE; workers are built, not started."""
    line_enabled = preflight(settings)
    async with open_runtime(settings) as runtime, AsyncExitStack() as stack:
        # Load the sentence encoder now, not during the first customer's turn.
        await asyncio.to_thread(runtime.store.encoder.encode, ["こんにちは"])
        queue = EventQueue(runtime.store.engine)
        slack = await stack.enter_async_context(open_slack(settings, runtime.handoffs))
        if not line_enabled:
            log.warning(
                "LINE is not configured (LINE_CHANNEL_SECRET, LINE_CHANNEL_ACCESS_TOKEN): "
                "the webhook answers 503 and no workers run"
            )
            yield Services(settings, runtime, queue, None, None, None, slack)
            return
        token = settings.line_channel_access_token
        api = await stack.enter_async_context(
            LineApi.open(
                base_url=settings.line_api_base,
                access_token=token.get_secret_value() if token else "",
                request_timeout=settings.line_timeout,
            )
        )
        sender = LineSender(
            api,
            queue,
            SendPolicy(
                attempts=settings.line_send_attempts,
                backoff_seconds=settings.line_retry_seconds,
                loading_seconds=settings.line_loading_seconds,
            ),
        )
        handler = EventHandler(
            runtime.store,
            runtime.personas.published,
            runtime.conversation,
            api,
            unfollowed_retention_days=settings.unfollowed_retention_days,
            forgetters=[queue],
        )

        async def handle(stored: Sequence[InboxEvent]) -> None:
            events = [decode(row.payload) for row in stored]
            # A burst is answered through the newest text's reply token (the freshest).
            delivery = sender.delivery(events[-1])
            texts = [event for event in events if isinstance(event, TextMessage)]
            if len(events) > 1 and len(texts) == len(events):
                await handler.handle_burst(texts, delivery)
            else:
                for event in events:
                    await handler.handle(event, sender.delivery(event))

        async def give_up(stored: Sequence[InboxEvent]) -> None:
            """An event failed every attempt: the customer hears so, and a person takes over."""
            events = [decode(row.payload) for row in stored if row.payload]
            said = [event for event in events if isinstance(event, ANSWERED_EVENTS)]
            if not said:
                return  # follows, unfollows, unsends: nobody is waiting for an answer
            texts = [
                (event.text or "") if isinstance(event, TextMessage | Sticker) else ""
                for event in said
            ]
            await runtime.conversation.apologize(
                said[-1].customer_id, texts, sender.delivery(said[-1]), channel="line"
            )

        async def prune() -> None:
            await queue.prune(utcnow() - timedelta(days=settings.inbox_keep_days))

        async def forget_unfollowed() -> None:
            await handler.forget_unfollowed()

        workers = Workers(
            queue,
            handle,
            flush=sender.flush,
            working=sender.show_loading,
            give_up=give_up,
            chores=[prune, forget_unfollowed],
            config=WorkerConfig(
                count=settings.workers,
                poll_seconds=settings.inbox_poll_seconds,
                lease_seconds=settings.inbox_lease_seconds,
                burst_quiet_seconds=settings.burst_seconds,
                burst_max_wait_seconds=settings.burst_max_wait_seconds,
            ),
        )
        # Staff replies and reassurances reach LINE customers as pushes from the outbox.
        runtime.handoffs.connect_messenger("line", LineMessenger(sender, workers.notify))
        yield Services(settings, runtime, queue, workers, sender, handler, slack)


@asynccontextmanager
async def running(services: Services) -> AsyncIterator[Services]:
    """Start the workers (if any) for the duration of the block."""
    workers = services.workers
    if workers is not None and services.settings.workers > 0:
        await workers.start()
        try:
            yield services
        finally:
            await workers.stop()
    else:
        yield services


def create_app(settings: Settings) -> FastAPI:
    """The HTTP app: LINE webhook, Slack events, admin, health check and metrics; workers
    run inside its lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with (
            open_services(settings) as services,
            running(services),
            handoff_upkeep(
                services.runtime.handoffs,
                services.slack,
                every_seconds=settings.handoff_check_seconds,
            ),
        ):
            app.state.services = services
            yield

    app = FastAPI(title="tomo", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)

    secret = settings.line_channel_secret
    if check_line_settings(settings) and secret is not None:
        app.include_router(
            line_webhook_router(
                channel_secret=secret.get_secret_value(),
                inbox=lambda: _services(app).queue,
                notify=lambda: _notify(app),
                max_body_bytes=settings.line_max_body_bytes,
            )
        )
    else:

        @app.post(LINE_WEBHOOK_PATH, include_in_schema=False)
        async def line_not_configured() -> JSONResponse:
            return JSONResponse(
                {"detail": "LINE is not configured: " + _LINE_VARIABLES},
                status_code=503,
            )

    # Slack's events and interactivity (handoffs): 503 until Slack is configured.
    app.include_router(slack_router(lambda: _slack_bolt(app)))

    for router in admin_routers(
        admin_token=settings.admin_token, runtime=lambda: _services(app).runtime
    ):
        app.include_router(router)

    # Prometheus text format, unauthenticated: for an internal network (see connectors/metrics.py).
    app.include_router(metrics_router(lambda: _services(app).runtime.store.engine))

    @app.get("/healthz", include_in_schema=False)
    async def healthz(request: Request) -> JSONResponse:
        services = _services(request.app)
        stores = await services.runtime.store.health()
        report: dict[str, Any] = {"stores": stores}
        try:
            counts = await services.queue.counts()
            report["inbox"] = {"pending": counts.inbox_pending, "failed": counts.inbox_failed}
            report["outbox"] = {"pending": counts.outbox_pending, "failed": counts.outbox_failed}
        except Exception as error:  # reported, not raised: this is a health check
            report["inbox"] = f"error: {type(error).__name__}"
        # Without SQL no webhook can be stored: 503, take this process out of rotation.
        # Without the vector memory turns are still answered (without memories):
        # "degraded" but 200, so that a Chroma outage does not restart every tomo.
        serving = stores.get("sql") == "ok" and isinstance(report["inbox"], dict)
        healthy = serving and all(value == "ok" for value in stores.values())
        report["status"] = "ok" if healthy else "degraded" if serving else "down"
        return JSONResponse(report, status_code=200 if serving else 503)

    return app


def _services(app: FastAPI) -> Services:
    services: Services = app.state.services
    return services


def _slack_bolt(app: FastAPI) -> Any:
    slack = _services(app).slack
    return slack.http_bolt if slack is not None else None


def _notify(app: FastAPI) -> None:
    workers = _services(app).workers
    if workers is not None:
        workers.notify()
