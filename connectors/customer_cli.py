"""`tomo customer …`: what tomo knows about a customer, and forgetting it."""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from connectors.cli_common import err, load_settings, out
from connectors.runtime import Runtime, open_runtime

customer_app = typer.Typer(
    help="Customers: list, show, recall, export, forget.", no_args_is_help=True
)
T = TypeVar("T")


def _run(work: Callable[[Runtime], Awaitable[T]]) -> T:
    settings = load_settings()

    async def run() -> T:
        async with open_runtime(settings) as runtime:
            return await work(runtime)

    return asyncio.run(run())


def _write_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


@customer_app.command("list")
def customer_list() -> None:
    """Every customer ID, oldest first."""

    async def work(runtime: Runtime) -> list[str]:
        return await runtime.store.customer_ids()

    for customer_id in _run(work):
        out.print(customer_id, highlight=False)


@customer_app.command("show")
def customer_show(customer_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """A customer's record, recent messages and what tomo remembers."""

    async def work(runtime: Runtime) -> dict[str, Any] | None:
        return await runtime.store.export_customer(customer_id)

    data = _run(work)
    if data is None:
        err.print(f"customer {customer_id!r} not found")
        raise typer.Exit(1)
    customer = data["customer"]
    name = customer.get("preferred_name") or customer.get("display_name") or "-"
    out.print(f"[bold]{customer_id}[/] ({customer['channel']}) {name}", highlight=False)
    for message in data["messages"][-10:]:
        out.print(f"  {message['role']:>8}: {message['text']}", highlight=False)
    memories = data["memories"]
    out.print(f"memories: {len(memories)}")
    for memory in memories:
        retired = " (superseded)" if memory["superseded_by"] else ""
        out.print(f"  [{memory['kind']}] {memory['text']}{retired}", markup=False)


@customer_app.command("recall")
def customer_recall(
    customer_id: Annotated[str, typer.Argument(metavar="ID")],
    query: Annotated[str, typer.Argument(metavar="QUERY")],
    k: Annotated[int, typer.Option(help="How many memories")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
) -> None:
    """What tomo would recall of this customer for QUERY (text, kind, score, provenance)."""

    async def work(runtime: Runtime) -> list[dict[str, object]]:
        recalled = await runtime.store.memory(customer_id).recall(query, k)
        return [
            {
                "id": item.id,
                "text": item.text,
                "kind": item.kind.value,
                "score": round(item.score, 4),
                "vector_score": round(item.vector_score, 4),
                "lexical_score": round(item.lexical_score, 4),
                "created_at": item.created_at.isoformat(),
                "author": item.author.value,
                "source_message_id": item.source_message_id,
                "sensitivity": item.sensitivity,
            }
            for item in recalled
        ]

    results = _run(work)
    if as_json:
        _write_json(results)
        return
    table = Table(title=f"{customer_id}: {query}")
    for column in ("score", "kind", "text", "from"):
        table.add_column(column)
    for item in results:
        source = (
            f"{item['author']} #{item['source_message_id']}"
            if item["source_message_id"]
            else str(item["author"])
        )
        table.add_row(f"{item['score']:.3f}", str(item["kind"]), str(item["text"]), source)
    out.print(table)


@customer_app.command("export")
def customer_export(customer_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Everything stored about the customer, as JSON."""

    async def work(runtime: Runtime) -> dict[str, Any] | None:
        data = await runtime.store.export_customer(customer_id)
        if data is not None:
            await runtime.store.audit(
                actor=f"cli:{getpass.getuser()}",
                action="export_customer",
                customer_id=customer_id,
                count=len(data["memories"]) + len(data["messages"]),
            )
        return data

    data = _run(work)
    if data is None:
        err.print(f"customer {customer_id!r} not found")
        raise typer.Exit(1)
    _write_json(data)


@customer_app.command("forget")
def customer_forget(customer_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """Forget the customer: their messages, memories and every vector (audited)."""

    async def work(runtime: Runtime) -> tuple[int, int, int] | None:
        if await runtime.store.customer(customer_id) is None:
            return None
        report = await runtime.store.forget_customer(customer_id, actor=f"cli:{getpass.getuser()}")
        return report.messages, report.memories, report.vectors_left

    report = _run(work)
    if report is None:
        err.print(f"customer {customer_id!r} not found")
        raise typer.Exit(1)
    messages, memories, left = report
    out.print(
        f"forgot {customer_id}: {messages} messages, {memories} memories, {left} vectors left"
    )
