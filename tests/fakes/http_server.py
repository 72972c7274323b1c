"""Run an ASGI app as a real HTTP server on a free loopback port, in a thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 (port chosen by the OS); yields its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    started = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(_serve(server, started))
        except BaseException as error:  # surfaced to the test below
            errors.append(error)
            started.set()
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="fake-http-server", daemon=True)
    thread.start()
    if not started.wait(timeout=10) or errors:
        raise RuntimeError(f"fake server did not start: {errors}")
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def _serve(server: uvicorn.Server, started: threading.Event) -> None:
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            await serving
            return
        await asyncio.sleep(0.01)
    started.set()
    await serving
