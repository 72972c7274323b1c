"""Waiting in tests for what happens elsewhere (a server, a worker, a fake): no fixed sleeps."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


async def wait_until(condition: Callable[[], Any], *, what: str, within: float = 10.0) -> Any:
    """Poll `condition` (its value, awaited if it is a coroutine) until it holds; returns
    the value. Fails the test, naming `what`, after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.01)
