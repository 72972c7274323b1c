"""The `tomo` command line."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress
from rich.table import Table

from bot.chat_model import LlmConfigError
from connectors.cli_common import err, load_settings, out
from connectors.customer_cli import customer_app
from connectors.db_cli import db_app
from connectors.escalation_cli import bench_escalation, escalation_app
from connectors.handoff_cli import handoff_app
from connectors.persona_cli import init_preset_persona, persona_app
from connectors.persona_words import say
from connectors.runtime import open_runtime
from connectors.serve import serve_command, worker_command
from connectors.terminal import interactive_chat, json_chat
from memory.embedding import shared_encoder
from persona.presets import DEMO_BRAND
from persona.repository import PersonaRepository

DEMO_RELATIONSHIP = "親友"

# Locals are never shown in tracebacks: they may hold secrets.
app = typer.Typer(
    help="tomo (友): a relationship-first conversation agent.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(persona_app, name="persona")
app.add_typer(customer_app, name="customer")
app.add_typer(escalation_app, name="escalation")
app.add_typer(handoff_app, name="handoff")
app.add_typer(db_app, name="db")
app.command("serve")(serve_command)
app.command("worker")(worker_command)
bench_app = typer.Typer(help="The performance report.", invoke_without_command=True)
app.add_typer(bench_app, name="bench")
bench_app.command("escalation")(bench_escalation)


@app.command()
def chat(
    customer: Annotated[
        str | None, typer.Option(help="Your customer name (also your customer ID)")
    ] = None,
    json_lines: Annotated[
        bool, typer.Option("--json", help="One message per stdin line, one JSON object per line")
    ] = False,
) -> None:
    """Talk to tomo in the terminal as a customer (same pipeline as LINE)."""
    settings = load_settings()
    repository = PersonaRepository(settings.persona_dir)
    if repository.published_version() is None:
        if repository.has_draft():  # e.g. drafted by the language model: not ours to replace
            err.print(say("cli.draft_only"))
            raise typer.Exit(1)
        # First run: start with the demo persona so the chat works out of the box.
        init_preset_persona(repository, DEMO_RELATIONSHIP, DEMO_BRAND, err)
    customer_id = customer or "guest"

    async def run() -> None:
        async with open_runtime(settings) as runtime:
            if json_lines:
                await json_chat(runtime.conversation, customer_id, customer)
            else:
                persona = runtime.personas.published()
                out.print(f"[bold]{persona.brand}[/] — 「{persona.relationship.word}」のような関係")
                await interactive_chat(
                    runtime.conversation, customer_id, customer, persona.brand, out
                )

    try:
        asyncio.run(run())
    except LlmConfigError as error:
        err.print(str(error))
        raise typer.Exit(2) from error


@contextmanager
def bench_progress() -> Iterator[Callable[[str, int], Callable[[int], None]]]:
    """Progress bars on stderr: (label, total) → advance(n)."""
    with Progress(console=err, transient=True) as bars:

        def start(label: str, total: int) -> Callable[[int], None]:
            task = bars.add_task(label, total=total)
            return lambda n: bars.advance(task, n)

        yield start


@bench_app.callback()
def bench(context: typer.Context) -> None:
    """Run every benchmark (or name one)."""
    if context.invoked_subcommand is None:
        bench_turn()
        bench_memory()
        bench_escalation()
        bench_webhook()


@bench_app.command("turn")
def bench_turn(
    customers: Annotated[int, typer.Option(help="Customers, 7 turns each")] = 20,
) -> None:
    """Latency of one offline turn through the real stores."""
    from bench.turn import measure_offline_turns

    timings = asyncio.run(measure_offline_turns(customers))
    table = Table(title="offline turn (embedded SQLite + Chroma, demo persona)")
    for column in ("turns", "first ms", "p50 ms", "p95 ms", "max ms"):
        table.add_column(column, justify="right")
    table.add_row(
        str(timings.turns),
        f"{timings.first_ms:.1f}",
        f"{timings.p50_ms:.1f}",
        f"{timings.p95_ms:.1f}",
        f"{timings.max_ms:.1f}",
    )
    out.print(table)


@bench_app.command("webhook")
def bench_webhook(
    requests: Annotated[int, typer.Option(help="Signed webhook requests to send")] = 500,
    rate: Annotated[float, typer.Option(help="Requests per second (open loop)")] = 50.0,
    workers: Annotated[int, typer.Option(help="TOMO_WORKERS of the server")] = 4,
    separate: Annotated[bool, typer.Option(help="Workers in a `tomo worker` process")] = False,
) -> None:
    """LINE webhook acknowledgement latency under load, and one text turn end to end."""
    from bench.webhook import print_webhook_timings

    print_webhook_timings(out, requests=requests, rate=rate, workers=workers, separate=separate)


@bench_app.command("load")
def bench_load(
    rate: Annotated[float, typer.Option(help="(a) webhook requests per second, open loop")] = 300,
    seconds: Annotated[float, typer.Option(help="(a) for this long")] = 60,
    customers: Annotated[int, typer.Option(help="(a) customers the requests come from")] = 300,
    turns: Annotated[int, typer.Option(help="(c) new customers' texts per worker count")] = 200,
    workers: Annotated[
        str, typer.Option(help="(c) `tomo worker` process counts ('': skip (c))")
    ] = "1,2,4",
    backends: Annotated[str, typer.Option(help="embedded, postgresql")] = "embedded,postgresql",
    postgres_url: Annotated[
        str, typer.Option(help="PostgreSQL server: a fresh database is made there and dropped")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
    llm_ms: Annotated[float, typer.Option(help="fake model: ms per reply")] = 500,
    aux_ms: Annotated[float, typer.Option(help="fake model: ms per judgment, extraction")] = 500,
    json_out: Annotated[bool, typer.Option("--json", help="The report as JSON")] = False,
    keep_logs: Annotated[
        Path | None, typer.Option(help="Keep the processes' logs and data in this folder")
    ] = None,
) -> None:
    """tomo under load: webhook ack, turn latency, throughput; embedded and PostgreSQL."""
    from bench.load import LoadConfig, measure_load, render_load

    config = LoadConfig(
        rate=rate,
        seconds=seconds,
        customers=customers,
        turns=turns,
        workers=tuple(int(count) for count in workers.split(",") if count.strip()),
        backends=tuple(name.strip() for name in backends.split(",")),
        postgres_url=postgres_url,
        reply_ms=llm_ms,
        aux_ms=aux_ms,
    )
    report = measure_load(
        config, progress=lambda step: err.print(f"tomo bench load: {step}"), keep_logs=keep_logs
    )
    typer.echo(render_load(report, as_json=json_out))


@bench_app.command("memory")
def bench_memory(
    scales: Annotated[
        str, typer.Option(help="Comma-separated memory counts for recall latency")
    ] = "10000,100000",
    writes: Annotated[
        int, typer.Option(help="Memories written for throughput (at each scale and alone)")
    ] = 5000,
) -> None:
    """Recall quality, recall latency at scale, write throughput, RSS and disk."""
    from bench.memory import disk_mb, measure_latency, measure_quality, measure_writes, rss_mb
    from bot.memory_writer import BATCH

    counts = [int(part.replace("_", "")) for part in scales.split(",") if part.strip()]
    with bench_progress() as progress, tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        quality = asyncio.run(measure_quality(root / "quality", progress=progress))
        latencies = []
        for count in counts:
            latency = asyncio.run(
                measure_latency(root / f"scale-{count}", count, progress=progress, writes=writes)
            )
            latencies.append((latency, disk_mb(root / f"scale-{count}"), rss_mb()))
        written = asyncio.run(measure_writes(root / "writes", writes, progress=progress))

    table = Table(title=f"recall@{quality.k} on bench/data/memory_ja.yaml")
    for column in (
        "customers",
        "memories",
        "probes",
        "evidence",
        "tomo hybrid",
        "vector only",
        "lexical only",
    ):
        table.add_column(column, justify="right")
    table.add_row(
        str(quality.customers),
        str(quality.memories),
        str(quality.probes),
        str(quality.evidence),
        f"{quality.hybrid:.1%}",
        f"{quality.vector_only:.1%}",
        f"{quality.lexical_only:.1%}",
    )
    out.print(table)
    table = Table(
        title="at scale: recall (synthetic vectors, 10 per customer, query embedded); "
        f"loading; writes of real texts into the filled store ({BATCH} a batch)"
    )
    # Two-line headers: the table fits 80 columns without cutting "1,000,000".
    for column in (
        "memories",
        "customers",
        "recall\np50 ms",
        "recall\np95 ms",
        "loaded\n/s",
        "writes\n/s",
        "disk\nMB",
        "max RSS\nMB",
    ):
        table.add_column(column, justify="right")
    for latency, disk, rss in latencies:
        table.add_row(
            f"{latency.memories:,}",
            f"{latency.customers:,}",
            f"{latency.p50_ms:.2f}",
            f"{latency.p95_ms:.2f}",
            f"{latency.memories / latency.load_seconds:,.0f}",
            f"{latency.writes_per_second:,.0f}",
            f"{disk:.0f}",
            f"{rss:.0f}",
        )
    out.print(table)
    table = Table(
        title=f"memory writes (real texts, USE embeddings, dedup, SQLite + Chroma, {BATCH} a batch)"
    )
    for column in ("memories", "batched /s", "one at a time /s", "embedding alone /s"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{written.memories:,}",
        f"{written.batched_per_second:,.0f}",
        f"{written.single_per_second:,.0f}",
        f"{written.embedded_per_second:,.0f}",
    )
    out.print(table)


@bench_app.command("locomo")
def bench_locomo(
    path: Annotated[Path, typer.Argument(help="locomo10.json (LoCoMo, English)", exists=True)],
    k: Annotated[int, typer.Option(help="Top k")] = 10,
) -> None:
    """Recall of evidence turns on LoCoMo: tomo beside USE cosine and BM25."""
    from bench.locomo import evaluate, load

    result = evaluate(load(path), shared_encoder(), k=k)
    table = Table(title=f"LoCoMo evidence recall@{result.k} ({result.questions} questions)")
    for column in ("evidence", "tomo hybrid", "USE cosine", "BM25", "BM25 (stop words, stems)"):
        table.add_column(column, justify="right")
    table.add_row(
        str(result.evidence),
        f"{result.tomo:.1%}",
        f"{result.vector_only:.1%}",
        f"{result.bm25_only:.1%}",
        f"{result.bm25_stemmed:.1%}",
    )
    out.print(table)


def main() -> None:
    """Console-script entry point."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except Exception as error:
        from memory.schema import SchemaNotCurrent

        if not isinstance(error, SchemaNotCurrent):
            raise
        err.print(f"tomo: {error}", soft_wrap=True)  # says to run `tomo db upgrade`
        raise SystemExit(2) from None


if __name__ == "__main__":  # pragma: no cover
    main()
