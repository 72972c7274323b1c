"""`tomo persona check [FILE|-]`: the tone check of any text, as JSON on stdout."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from connectors.cli_common import err, load_settings
from persona.repository import NoPersonaError, PersonaRepository
from persona.tone import check_tone


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
        err.print(f"{file} を読めません: {error}")
        raise typer.Exit(2) from error
    report = {
        "version": repository.published_version(),
        "findings": [finding.to_json() for finding in check_tone(text, persona)],
    }
    sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
