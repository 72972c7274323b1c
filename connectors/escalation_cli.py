"""`tomo escalation check` and `tomo bench escalation`.

`check` runs the escalation policy in force (the company's
`<TOMO_DATA_DIR>/persona/escalation.yaml`, else the default) on one message
per stdin line: with `--jsonl` one JSON object per line,
`{"text", "escalate", "reasons", "priority"}` (priority null when not
escalating); without it, a readable line per message with what showed each
reason and what the customer is told first when someone may be at risk.
With TOMO_LLM set, the model's judgment is merged in as in a real turn.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from bot.chat_model import LlmConfigError, build_chat_model
from bot.emotion import EmotionReader
from bot.escalation import Decision, EscalationContext
from bot.escalation_evidence import EscalationChecker
from bot.escalation_policy import PolicyError, load_policy
from connectors.cli_common import err, load_settings, out
from connectors.settings import Settings
from memory.embedding import shared_encoder
from persona.repository import NoPersonaError, PersonaRepository
from persona.schema import Register

escalation_app = typer.Typer(help="The escalation policy: when a person takes over.")


def _checker(settings: Settings) -> tuple[EscalationChecker, str]:
    try:
        policy, source = load_policy(settings.persona_dir)
    except PolicyError as error:
        err.print(f"エスカレーション方針を読み込めません: {error}")
        raise typer.Exit(2) from error
    model = None
    if settings.llm.strip().lower() != "offline":
        try:
            model = build_chat_model(
                settings.llm,
                base_url=settings.llm_base_url,
                api_key=settings.llm_api_key.get_secret_value() if settings.llm_api_key else None,
                timeout=settings.llm_timeout,
            )
        except LlmConfigError as error:
            err.print(str(error))
            raise typer.Exit(2) from error
    checker = EscalationChecker(
        policy,
        shared_encoder(settings.embedding_threads),
        EmotionReader(),
        model,
        llm_timeout=settings.llm_timeout,
    )
    return checker, source


def _register(settings: Settings) -> Register:
    """The published persona's register, for the care message; polite without one."""
    try:
        return PersonaRepository(settings.persona_dir).published().voice.politeness
    except NoPersonaError:
        return Register.POLITE


def _show(text: str, decision: Decision, register: Register) -> None:
    if decision.escalate:
        reasons = ", ".join(reason.value for reason in decision.reasons)
        priority = decision.priority.value if decision.priority else ""
        out.print(f"[bold]→ 人へ[/] {priority} ({reasons})  {escape(text)}", soft_wrap=True)
    else:
        out.print(f"  そのまま  {escape(text)}", soft_wrap=True)
    for finding in decision.findings:
        out.print(f"      {finding.reason.value}: {escape(finding.source)}", soft_wrap=True)
    if decision.care is not None:
        for line in decision.care.text(register).splitlines():
            out.print(f"      | {escape(line)}", soft_wrap=True)


@escalation_app.command("check")
def check(
    jsonl: Annotated[
        bool,
        typer.Option("--jsonl", help="One JSON object per line: text, escalate, reasons, priority"),
    ] = False,
) -> None:
    """Run the escalation policy on each stdin line (one message a line)."""
    settings = load_settings()
    checker, source = _checker(settings)
    register = _register(settings)
    if not jsonl:
        err.print(f"方針: {source}")

    async def run() -> None:
        for line in sys.stdin:
            text = line.rstrip("\r\n")
            if not text.strip():
                continue
            decision = await checker.check(text, EscalationContext())
            if jsonl:
                sys.stdout.write(json.dumps(decision.as_json(text), ensure_ascii=False) + "\n")
                sys.stdout.flush()
            else:
                _show(text, decision, register)

    asyncio.run(run())


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def bench_escalation(
    labelled: Annotated[
        Path | None, typer.Option(help="A labelled YAML set; default the project's own")
    ] = None,
    misses: Annotated[bool, typer.Option(help="List the messages decided wrongly")] = False,
) -> None:
    """Precision, recall and false escalations on the labelled Japanese set; latency."""
    from bench.escalation import LABELLED, measure_escalation

    path = labelled or LABELLED
    if not path.is_file():
        err.print(f"ラベル付きの文のファイルがありません: {path}")
        raise typer.Exit(1)
    report = measure_escalation(path)

    overall = Table(title=f"escalation policy, offline ({report.messages} labelled messages)")
    for column in ("precision", "recall", "false escalations", "urgent found", "tricky escalated"):
        overall.add_column(column, justify="right")
    negatives = report.false_positives + report.true_negatives
    overall.add_row(
        f"{report.precision:.3f}",
        f"{report.recall:.3f}",
        f"{report.false_escalation_rate:.3f} ({report.false_positives}/{negatives})",
        f"{report.urgent_found}/{report.urgent_labelled}",
        f"{report.tricky_escalated}/{report.tricky}",
    )
    out.print(overall)

    per_reason = Table(title="per reason")
    per_reason.add_column("reason", no_wrap=True)
    for column in ("labelled", "found", "precision", "recall", "false esc."):
        per_reason.add_column(column, justify="right")
    for score in report.per_reason:
        per_reason.add_row(
            score.reason.value,
            str(score.labelled),
            str(score.predicted),
            _rate(score.precision),
            _rate(score.recall),
            str(score.false_escalations),
        )
    out.print(per_reason)

    latency = Table(title="latency per message (encoder + emotion lexicon + rules)")
    for column in ("first ms", "p50 ms", "p95 ms", "max ms"):
        latency.add_column(column, justify="right")
    latency.add_row(
        f"{report.first_ms:.1f}",
        f"{report.p50_ms:.2f}",
        f"{report.p95_ms:.2f}",
        f"{report.max_ms:.2f}",
    )
    out.print(latency)

    if misses:
        for miss in report.misses:
            found = ", ".join(reason.value for reason in miss.decision.reasons) or "–"
            wanted = ", ".join(reason.value for reason in miss.item.reasons) or "–"
            out.print(f"{escape(miss.item.text)}\n    labelled: {wanted}   found: {found}")
