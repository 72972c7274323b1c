"""`tomo serve` and `tomo worker`: the server process and the worker-only process.

The app (and line-bot-sdk, FastAPI, uvicorn) is imported only when one of these
commands runs, so the other `tomo` commands do not pay for it at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING, Annotated

import typer

from connectors.cli_common import err, load_settings
from connectors.heap import freeze_start_up_objects
from connectors.logs import LogFormat, configure_logging
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

    configure_logging(log_level, settings.log_format)
    config = uvicorn.Config(
        create_app(settings),
        host=host,
        port=port,
        lifespan="on",
        log_config=None,  # uvicorn's loggers use tomo's handler and format (connectors/logs.py)
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
        freeze_start_up_objects()
        bound = server.servers[0].sockets[0].getsockname()
        print(f"tomo: listening on http://{bound[0]}:{bound[1]}", flush=True)
    await serving


def work(settings: Settings, *, log_level: str = "info") -> None:
    """Run workers only (no HTTP) until SIGINT or SIGTERM: scale-out beside `tomo serve`.

    With TOMO_METRICS_PORT set, Prometheus metrics are served on that port; the
    line `tomo: metrics on http://HOST:PORT/metrics` on stdout says where.
    """
    configure_logging(log_level, settings.log_format)
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
        async with running(services), contextlib.AsyncExitStack() as stack:
            if settings.metrics_port is not None:
                from connectors.metrics import metrics_server

                try:
                    host, port = await stack.enter_async_context(
                        metrics_server(
                            services.runtime.store.engine,
                            host=settings.metrics_host,
                            port=settings.metrics_port,
                        )
                    )
                except OSError as error:  # e.g. the port is taken
                    raise ConfigError(
                        f"TOMO_METRICS_PORT={settings.metrics_port} could not be opened on "
                        f"{settings.metrics_host}: {error.strerror or error}"
                    ) from error
                print(f"tomo: metrics on http://{host}:{port}/metrics", flush=True)
            freeze_start_up_objects()
            print(f"tomo: {settings.workers} worker(s) running", flush=True)
            await stop.wait()


def serve_command(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface)")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port)")] = 8000,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
    log_format: Annotated[
        LogFormat | None, typer.Option(help="text or json (default: TOMO_LOG_FORMAT, else text)")
    ] = None,
) -> None:
    """The HTTP app (LINE webhook at /line/webhook, /healthz, /metrics) and its workers."""
    settings = _with_options(load_settings(), log_format=log_format)
    _preflight(settings)
    serve(settings, host=host, port=port, log_level=log_level)


def worker_command(
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error")] = "info",
    log_format: Annotated[
        LogFormat | None, typer.Option(help="text or json (default: TOMO_LOG_FORMAT, else text)")
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            help="Serve Prometheus metrics at /metrics on this port (0: any free port; "
            "default: TOMO_METRICS_PORT, else none)",
            min=0,
            max=65535,
        ),
    ] = None,
) -> None:
    """Workers only, no HTTP: more hands beside `tomo serve` over a shared database."""
    from connectors.app import ConfigError

    settings = _with_options(load_settings(), log_format=log_format, metrics_port=metrics_port)
    _preflight(settings)
    try:
        work(settings, log_level=log_level)
    except ConfigError as error:
        err.print(str(error))
        raise typer.Exit(2) from error


def _preflight(settings: Settings) -> None:
    from sqlalchemy.exc import OperationalError

    from connectors.app import ConfigError, preflight
    from connectors.db_cli import require_schema
    from memory.schema import SchemaNotCurrent

    try:
        preflight(settings)
        asyncio.run(require_schema(settings))
    except (ConfigError, SchemaNotCurrent) as error:
        err.print(str(error), soft_wrap=True)
        raise typer.Exit(2) from error
    except OperationalError as error:
        err.print(f"tomo: could not reach the database: {error.orig}", soft_wrap=True)
        raise typer.Exit(2) from error


def _with_options(settings: Settings, **options: object) -> Settings:
    """The settings with what was given on the command line in place of the environment's."""
    given = {name: value for name, value in options.items() if value is not None}
    return settings.model_copy(update=given) if given else settings
