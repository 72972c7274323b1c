"""Handoffs for the admin — a stub until the store has a handoff table.

The Slack handoff (its own issue) adds handoffs to memory/; until then there is
nothing to list and every state is empty. Replace `list_handoffs` with a query
of the store when the table exists.
"""

from __future__ import annotations

from typing import Any

HANDOFF_STATES = ("open", "with_staff", "resolved")


async def list_handoffs(state: str | None = None) -> list[dict[str, Any]]:
    """Handoffs in `state` (or all). Always empty: no handoff table exists yet."""
    return []


async def handoffs_per_reason() -> dict[str, int]:
    """How many handoffs each reason caused. Always empty: no handoff table exists yet."""
    return {}
