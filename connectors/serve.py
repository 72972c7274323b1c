"""`tomo serve` and `tomo worker`: the server process and the worker-only process.

The app (and line-bot-sdk, FastAPI, uvicorn) is imported only when one of these
commands runs, so the other `tomo` commands do not pay for it at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from connectors.cli_common import err, load_settings
from connectors.settings import Settings

if TYPE_CHECKING:
    import uvicorn

log = logging.getLogger(__name__)


def serve(settings: Settings, *, host: str, port: int, log_level: str = "info") -> None:
    """Run the HTTP app (and its workers) until interrupted.

    With port 0 the system picks a free port; the first line on stdout says
    which: `tomo: listening on http://HOST:PORT`.
    """
    import uvicorn

    from connectors.app import ConfigError, create_app

    _configure_logging(log_level)
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        lifespan="on",
        log_level=log_level,
        access_log=False,  # refusals are logged by the webhook itself, bodies never
        proxy_headers=True,
        server_header=False,
    )
    server = uvicorn.Server(config)
    asyncio.run(_serve(server))
    if not server.started:
        raise ConfigError("the server did not start (see the log above)")


async def _serve(server: uvicorn.Server) -> None:
    serving = asyncio.create_task(server.serve())
    # uvicorn has no "started" event to wait on, only the flag.
    while not server.started and not serving.done():  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    if server.started:
        bound = server.servers[0].sockets[0].getsockname()
        print(f"tomo: listening on http://{bound[0]}:{bound[1]}", flush=True)
    await serving


def work(settings: Settings, *, log_level: str = "info") -> None:
    """Run workers only (no HTTP) until SIGINT or SIGTERM: scale-out beside `tomo serve`."""
    _configure_logging(log_level)
    asyncio.run(_work(settings))


async def _work(settings: Settings) -> None:
    from connectors.app import ConfigError, open_services, running

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(signum, stop.set)
    async with open_services(settings) as services:
        if services.workers is None:
            raise ConfigError(
                "LINE is not configured: set LINE_CHANNEL_SECRET and LINE_CHANNEL_ACCESS_TOKEN"
            )
        if settings.workers < 1:
            raise ConfigError("TOMO_WORKERS is 0: a worker process needs at least one")
        async with running(services):
            print(f"tomo: {settings.workers} worker(s) running", flush=True)
            await stop.wait()


def _configure_logging(level: str) -> None:
    logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger().setLevel(level.upper())


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface)")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port)")] = 8000,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
) -> None:
    """The HTTP app (LINE webhook at /line/webhook, /healthz) and its workers."""
    settings = load_settings()
    _preflight(settings)
    serve(settings, host=host, port=port, log_level=log_level)


def worker_command(
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
) -> None:
    """Workers only, no HTTP: more hands beside `tomo serve` over a shared database."""
    from connectors.app import ConfigError

    settings = load_settings()
    _preflight(settings)
    try:
        work(settings, log_level=log_level)
    except ConfigError as error:
        err.print(str(error))
        raise typer.Exit(2) from error


def _preflight(settings: Settings) -> None:
    from connectors.app import ConfigError, preflight

    try:
        preflight(settings)
    except ConfigError as error:
        err.print(str(error))
        raise typer.Exit(2) from error
