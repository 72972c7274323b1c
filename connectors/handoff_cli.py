"""`tomo handoff …`: the handoffs waiting for or held by staff, from the command line.

For a desk without Slack (or when Slack is down): list them, give one back to
the bot, or mark it resolved. A change made here reaches the Slack card through
the running server's upkeep.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from typing import Annotated, Any

import typer
from rich.table import Table

from bot.handoff import StaffMember
from bot.staff_actions import Outcome, StaffActions
from connectors.cli_common import err, load_settings, out
from connectors.runtime import open_runtime
from memory.handoffs import STATE_FILTERS

handoff_app = typer.Typer(
    help="Handoffs to staff: list, give back to the bot, resolve.", no_args_is_help=True
)


def _list(state: str | None) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        async with open_runtime(load_settings()) as runtime:
            return [h.summary() for h in await runtime.handoffs.handoffs.find(state)]

    return asyncio.run(run())


@handoff_app.command("list")
def handoff_list(
    state: Annotated[
        str | None,
        typer.Option(help=f"One of: {', '.join(sorted(STATE_FILTERS))}; default all"),
    ] = "open",
    as_json: Annotated[bool, typer.Option("--json", help="One JSON array")] = False,
) -> None:
    """Handoffs, newest first (default: the open ones)."""
    if state is not None and state not in STATE_FILTERS:
        err.print(f"unknown state {state!r}; one of: {', '.join(sorted(STATE_FILTERS))}")
        raise typer.Exit(2)
    found = _list(state)
    if as_json:
        sys.stdout.write(json.dumps(found, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title=f"handoffs ({state or 'all'})")
    for column in ("id", "customer", "state", "priority", "reasons", "staff", "opened"):
        table.add_column(column)
    for item in found:
        table.add_row(
            item["id"],
            item["customer_id"],
            item["state"],
            item["priority"],
            ", ".join(item["reasons"]),
            item["claimed_by_name"] or item["claimed_by"] or "",
            item["created_at"][:16],
        )
    out.print(table)


def _act(handoff_id: str, action: str) -> Outcome:
    me = StaffMember(f"cli:{getpass.getuser()}", getpass.getuser())

    async def run() -> Outcome:
        async with open_runtime(load_settings()) as runtime:
            actions = StaffActions(runtime.handoffs)
            if action == "back":
                return await actions.back_to_bot(handoff_id, me)
            return await actions.resolve(handoff_id, me)

    return asyncio.run(run())


def _report(outcome: Outcome, handoff_id: str) -> None:
    if not outcome.handled:
        err.print(f"no handoff {handoff_id!r}")
        raise typer.Exit(1)
    if outcome.refusal is not None:
        err.print(f"handoff {handoff_id} is already closed ({outcome.state})")
        raise typer.Exit(1)
    out.print(f"handoff {handoff_id}: {outcome.state}")


@handoff_app.command("back")
def handoff_back(handoff_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Give the conversation back to the bot (it answers the customer again)."""
    _report(_act(handoff_id, "back"), handoff_id)


@handoff_app.command("resolve")
def handoff_resolve(handoff_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Mark the handoff resolved (the bot answers the customer again)."""
    _report(_act(handoff_id, "resolve"), handoff_id)
