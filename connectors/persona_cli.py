"""`tomo persona …`: start, show, publish, roll back and check the company's persona.

`publish` and `rollback` go through the same PersonaDesk as the admin web and API:
the same lease (so they take turns with every `tomo serve` process), the same
regression replay on publish, and the same audit log, with the actor
`cli:<os user>`. `init` with a language model configured saves a drafted persona
as a draft, never published; offline it starts from the closest preset and
publishes it, as a first persona must be.

What a manager reads comes from `connectors/data/persona.yaml`.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from bot.chat_model import LlmConfigError
from bot.persona_draft import LineFinding
from connectors.admin.persona_desk import PersonaConflict, PersonaDesk, PublishOutcome
from connectors.cli_common import err, load_settings, out
from connectors.persona_words import say
from connectors.runtime import build_persona_drafter, open_runtime
from memory.embedding import shared_encoder
from persona.presets import (
    DEMO_BRAND,
    build_persona,
    choose_preset,
    commitment_from_text,
    load_brand,
)
from persona.regression import ReplayedReply
from persona.repository import NoPersonaError, PersonaRepository, persona_to_yaml
from persona.schema import Persona
from persona.tone import check_tone

persona_app = typer.Typer(help="The company's persona.", no_args_is_help=True)


def cli_actor() -> str:
    """Who the audit log names for a change made on the command line."""
    return f"cli:{getpass.getuser()}"


def _similarity(text: str, candidates: Sequence[str]) -> list[float]:
    vectors = shared_encoder().encode([text, *candidates])
    return [float(score) for score in vectors[1:] @ vectors[0]]


def init_preset_persona(
    repository: PersonaRepository,
    relationship: str,
    brand: str,
    console: Console,
    commitments: Sequence[str] | None = None,
) -> Persona:
    """Publish the closest preset for a relationship (offline, and the demo's first run)."""
    choice = choose_preset(relationship, _similarity)
    if not choice.exact:
        console.print(say("cli.closest_start", asked=relationship, word=choice.word))
    persona = build_persona(choice.key, brand)
    if commitments is not None:
        persona = persona.model_copy(
            update={"commitments": tuple(commitment_from_text(text) for text in commitments)}
        )
    repository.save_draft(persona)
    version = repository.publish()
    console.print(
        say("cli.created", word=persona.relationship.word, brand=persona.brand, version=version)
    )
    return persona


def _given_commitments(texts: Sequence[str], file: Path | None) -> list[str] | None:
    """The commitments a manager gave (options, then the file's lines); None: none given."""
    given = [text for text in texts if text.strip()]
    if file is not None:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as error:
            err.print(say("cli.unreadable", file=file, error=error))
            raise typer.Exit(2) from error
        given += [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return given if texts or file is not None else None


def persona_table(persona: Persona, title: str) -> Table:
    """The persona as a table a manager reads."""
    voice = persona.voice
    table = Table(title=title, show_header=False)
    table.add_row(say("table.relationship"), persona.relationship.statement)
    table.add_row(say("table.meaning"), persona.relationship.meaning)
    table.add_row(say("table.register"), voice.politeness.value)
    table.add_row(say("table.first_person"), voice.first_person)
    table.add_row(say("table.address"), f"{voice.address} / {voice.address_unknown}")
    table.add_row(say("table.emoji"), f"{voice.emoji.value} {' '.join(voice.emoji_set)}")
    table.add_row(say("table.endings"), "、".join(voice.sentence_endings))
    table.add_row(say("table.use_phrases"), "、".join(voice.use_phrases))
    table.add_row(say("table.never_phrases"), "、".join(voice.never_phrases))
    table.add_row(
        say("table.commitments"), "\n".join(f"{c.title}: {c.body}" for c in persona.commitments)
    )
    table.add_row(say("table.boundaries"), "\n".join(persona.boundaries))
    table.add_row(
        say("table.examples"), "\n".join(f"「{e.customer}」→「{e.tomo}」" for e in persona.examples)
    )
    table.add_row(say("table.faq"), say("table.faq_count", count=len(persona.faq)))
    table.add_row(say("table.test_messages"), "\n".join(persona.test_messages))
    return table


def _line_findings_table(findings: Sequence[LineFinding]) -> Table:
    table = Table(show_lines=True)
    for label in ("table.where", "table.line", "table.reason"):
        table.add_column(say(label), overflow="fold")
    for item in findings:
        table.add_row(item.where, item.text, f"{item.finding.text}: {item.finding.reason}")
    return table


@persona_app.command("init")
def persona_init(
    relationship: Annotated[
        str,
        typer.Option(
            help="The relationship: a word (親友) or, with TOMO_LLM, a definition in free text"
        ),
    ],
    brand: Annotated[
        str, typer.Option(help="A brand YAML file (name, commitments, faq); default: demo")
    ] = DEMO_BRAND,
    commitment: Annotated[
        list[str] | None,
        typer.Option(
            help="One of the brand's commitments, '見出し: 本文' or plain text (repeatable); "
            "replaces the brand file's"
        ),
    ] = None,
    commitments: Annotated[
        Path | None,
        typer.Option(help="A UTF-8 text file of commitments, one a line (like --commitment)"),
    ] = None,
    force: Annotated[bool, typer.Option(help="Replace an existing persona")] = False,
) -> None:
    """Create the company's persona from a relationship definition.

    With TOMO_LLM set, the language model drafts the whole persona (the closest preset
    is its example) and it is saved as a draft to check and `tomo persona publish`;
    offline, or when the model's draft cannot be used, the closest preset is used.
    """
    settings = load_settings()
    repository = PersonaRepository(settings.persona_dir)
    if (repository.published_version() is not None or repository.has_draft()) and not force:
        err.print(say("cli.exists"))
        raise typer.Exit(1)
    given = _given_commitments(commitment or [], commitments)
    try:
        drafter = build_persona_drafter(settings)
    except LlmConfigError as error:
        err.print(str(error))
        raise typer.Exit(2) from error
    try:
        if drafter is None:
            init_preset_persona(repository, relationship, brand, out, given)
            return
        brand_fields = load_brand(brand)
    except (KeyError, ValueError, OSError) as error:
        err.print(say("cli.init_failed", error=error))
        raise typer.Exit(1) from error

    async def run() -> None:
        async with open_runtime(settings) as runtime:
            desk = PersonaDesk(lambda: runtime)
            start = await desk.start_from_relationship(
                relationship, actor=cli_actor(), brand=brand_fields, commitments=given
            )
        out.print(start.note)
        out.print(persona_table(start.persona, f"{start.persona.brand} — draft"))
        out.print(start.findings_note)
        if start.findings:
            out.print(_line_findings_table(start.findings))
        out.print(say("cli.next_publish"))

    try:
        asyncio.run(run())
    except (KeyError, ValueError, OSError, PersonaConflict) as error:
        err.print(say("cli.init_failed", error=error))
        raise typer.Exit(1) from error


@persona_app.command("show")
def persona_show(
    as_yaml: Annotated[bool, typer.Option("--yaml", help="Print the full YAML")] = False,
) -> None:
    """Print the published persona."""
    repository = PersonaRepository(load_settings().persona_dir)
    try:
        persona = repository.published()
    except NoPersonaError as error:
        err.print(str(error))
        raise typer.Exit(1) from error
    if as_yaml:
        sys.stdout.write(persona_to_yaml(persona))
        return
    out.print(persona_table(persona, f"{persona.brand} — v{repository.published_version()}"))


@persona_app.command("history")
def persona_history() -> None:
    """List the published versions."""
    repository = PersonaRepository(load_settings().persona_dir)
    current = repository.published_version()
    for version in repository.versions():
        marker = "*" if version == current else " "
        out.print(f"{marker} {version}  {repository.version(version).relationship.word}")


def _reply_cell(reply: ReplayedReply | None) -> str:
    if reply is None:
        return say("table.none_published")
    return reply.text or say("table.no_reply")


def _regression_table(outcome: PublishOutcome) -> Table:
    table = Table(show_lines=True)
    for label in ("table.message", "table.before", "table.after", "table.findings"):
        table.add_column(say(label), overflow="fold")  # wrapped, never cut short
    for case in outcome.report.cases:
        table.add_row(
            case.message,
            _reply_cell(case.before),
            _reply_cell(case.after),
            "\n".join(f"{f.text}: {f.reason}" for f in case.after.findings),
        )
    return table


@persona_app.command("publish")
def persona_publish(
    force: Annotated[
        bool, typer.Option(help="Publish even when the draft's replies have tone findings")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the outcome and the replay as JSON")
    ] = False,
) -> None:
    """Publish the draft as a new version, after replaying its test messages.

    The replies to the test messages under the published persona and the draft are
    shown side by side with the draft's tone findings; with findings nothing is
    published unless --force (exit status 1). Audited as cli:<os user>. --json prints
    what POST /api/persona/publish answers.
    """
    settings = load_settings()

    async def run() -> PublishOutcome:
        async with open_runtime(settings) as runtime:
            desk = PersonaDesk(lambda: runtime)
            return await desk.publish(force=force, actor=cli_actor())

    try:
        outcome = asyncio.run(run())
    except PersonaConflict as conflict:
        err.print(str(conflict))
        raise typer.Exit(1) from conflict
    except LlmConfigError as error:
        err.print(str(error))
        raise typer.Exit(2) from error
    report = outcome.report
    if as_json:
        sys.stdout.write(json.dumps(outcome.to_json(), ensure_ascii=False) + "\n")
    else:
        out.print(say("cli.replayed", count=len(report.cases)))
        out.print(_regression_table(outcome))
    if not outcome.published:
        err.print(say("cli.refused", count=report.findings))
        raise typer.Exit(1)
    if outcome.forced:
        out.print(say("cli.published_forced", count=report.findings, version=outcome.version))
    else:
        out.print(say("cli.published", version=outcome.version))


@persona_app.command("rollback")
def persona_rollback(version: int) -> None:
    """Make an earlier version the published one again (audited as cli:<os user>)."""
    settings = load_settings()

    async def run() -> None:
        async with open_runtime(settings) as runtime:
            await PersonaDesk(lambda: runtime).rollback(version, actor=cli_actor())

    try:
        asyncio.run(run())
    except KeyError as error:
        err.print(say("cli.no_version", version=version))
        raise typer.Exit(1) from error
    except PersonaConflict as conflict:
        err.print(str(conflict))
        raise typer.Exit(1) from conflict
    out.print(say("cli.rolled_back", version=version))


@persona_app.command("check")
def persona_check(
    file: Annotated[
        str, typer.Argument(help="A UTF-8 text file to check; - (the default) reads stdin")
    ] = "-",
) -> None:
    """Tone check of a text against the published persona (JSON findings on stdout).

    Prints {"version": N, "findings": [{"kind", "start", "end", "text", "reason"}, …]};
    start and end are character offsets into the text.
    """
    repository = PersonaRepository(load_settings().persona_dir)
    try:
        persona = repository.published()
    except NoPersonaError as error:
        err.print(str(error))
        raise typer.Exit(2) from error
    try:
        text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        err.print(say("cli.unreadable", file=file, error=error))
        raise typer.Exit(2) from error
    report = {
        "version": repository.published_version(),
        "findings": [finding.to_json() for finding in check_tone(text, persona)],
    }
    sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
