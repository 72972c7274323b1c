"""Prometheus metrics over HTTP: `GET /metrics` in the app, or a port of its own for `tomo worker`.

The endpoint has no authentication, on purpose: it is meant for a Prometheus
server on the internal network, and it shows only counts and timings (the
metrics in bot/metrics.py carry no customer id and nothing anyone said).
Do not expose it to the internet: route only /line/webhook and /slack/events
(and the admin, if wanted) through the public proxy.

Counters and histograms are updated where things happen. The queue gauges
(inbox, outbox, open handoffs) are read from the shared SQL store: by
`tomo serve` in the /metrics handler, just before the answer is rendered (the
store is async, a prometheus_client collector is not), and by `tomo worker`,
whose metrics port is served by prometheus_client's own thread, every
`REFRESH_SECONDS` in a task of the worker's event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Protocol, TypeVar

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest, start_http_server
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.metrics import (
    HANDOFFS_OPEN,
    INBOX_DEPTH,
    INBOX_FAILED,
    INBOX_OLDEST_AGE,
    OUTBOX_DEPTH,
    OUTBOX_OLDEST_AGE,
    WEBHOOK_SECONDS,
)
from memory.models import utcnow
from memory.queue_stats import queue_stats

log = logging.getLogger(__name__)

PATH = "/metrics"
REFRESH_SECONDS = 5.0  # how often `tomo worker` reads the queue gauges

_QUEUE_GAUGES = (
    INBOX_DEPTH,
    INBOX_OLDEST_AGE,
    INBOX_FAILED,
    OUTBOX_DEPTH,
    OUTBOX_OLDEST_AGE,
    HANDOFFS_OPEN,
)


class _HasStatus(Protocol):
    @property
    def status_code(self) -> int: ...


AnswerT = TypeVar("AnswerT", bound=_HasStatus)


async def timed_webhook(channel: str, answer: Awaitable[AnswerT]) -> AnswerT:
    """Await a webhook's answer, observing its time in `tomo_webhook_seconds` by status.

    An exception is observed as status 500 (what the framework answers); a
    request cancelled because the client went away is not observed.
    """
    started = time.perf_counter()
    try:
        response = await answer
    except Exception:
        _observe_webhook(channel, "500", started)
        raise
    _observe_webhook(channel, str(response.status_code), started)
    return response


def _observe_webhook(channel: str, status: str, started: float) -> None:
    WEBHOOK_SECONDS.labels(channel=channel, status=status).observe(time.perf_counter() - started)


async def refresh_queue_gauges(engine: AsyncEngine, *, now: datetime | None = None) -> bool:
    """Set the queue gauges from the store; False (gauges NaN) when it could not be read."""
    try:
        stats = await queue_stats(engine)
    except Exception as error:  # a scrape must still answer (the counters are worth having)
        log.warning("queue gauges not read: %s", type(error).__name__)
        for gauge in _QUEUE_GAUGES:
            gauge.set(math.nan)
        return False
    moment = now or utcnow()
    INBOX_DEPTH.set(stats.inbox_depth)
    INBOX_OLDEST_AGE.set(_age(stats.inbox_oldest, moment))
    INBOX_FAILED.set(stats.inbox_failed)
    OUTBOX_DEPTH.set(stats.outbox_depth)
    OUTBOX_OLDEST_AGE.set(_age(stats.outbox_oldest, moment))
    HANDOFFS_OPEN.set(stats.handoffs_open)
    return True


def _age(since: datetime | None, now: datetime) -> float:
    return max(0.0, (now - since).total_seconds()) if since is not None else 0.0


def render() -> bytes:
    """Every metric of this process, in Prometheus' text format."""
    return generate_latest(REGISTRY)


def metrics_router(engine: Callable[[], AsyncEngine]) -> APIRouter:
    """GET /metrics, unauthenticated (see the module docstring): for Prometheus on an
    internal network. `engine` is looked up per request: it opens with the lifespan."""
    router = APIRouter()

    @router.get(PATH, include_in_schema=False)
    async def metrics() -> Response:
        await refresh_queue_gauges(engine())
        return Response(render(), media_type=CONTENT_TYPE_LATEST)

    return router


@asynccontextmanager
async def metrics_server(
    engine: AsyncEngine, *, host: str, port: int, refresh_seconds: float = REFRESH_SECONDS
) -> AsyncIterator[tuple[str, int]]:
    """Serve /metrics on a port of its own (`tomo worker`); yields the bound (host, port).

    The gauges are read once before the port opens, so the first scrape has them.
    """
    await refresh_queue_gauges(engine)
    server, thread = start_http_server(port, addr=host)
    bound = server.server_address
    refreshing = asyncio.create_task(_refresh_every(engine, refresh_seconds))
    try:
        yield str(bound[0]), int(bound[1])
    finally:
        refreshing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refreshing
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def _refresh_every(engine: AsyncEngine, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        await refresh_queue_gauges(engine)
