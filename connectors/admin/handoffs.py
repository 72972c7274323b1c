"""Handoffs for the admin: read from the handoff store (memory/handoffs.py)."""

from __future__ import annotations

from typing import Any

from connectors.runtime import Runtime

HANDOFF_STATES = ("open", "with_staff", "resolved")


async def list_handoffs(runtime: Runtime, state: str | None = None) -> list[dict[str, Any]]:
    """Handoffs in `state` (open, with_staff, resolved) or all, newest first."""
    return [handoff.summary() for handoff in await runtime.handoffs.handoffs.find(state)]


async def handoffs_per_reason(runtime: Runtime) -> dict[str, int]:
    """How many handoffs each reason caused."""
    return await runtime.handoffs.handoffs.count_per_reason()
