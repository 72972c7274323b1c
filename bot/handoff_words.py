"""The words of a handoff that are not the persona's own: bot/data/handoff.yaml.

What tomo tells a customer about a handoff is in the persona's lines (its
voice); a persona without those lines gets the neutral ones of its register
from the data file. How a time is said (明日の9時) and the prefixes that make a
staff reply a note (メモ:) are there too.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from bot.business_hours import WhenWords
from persona.schema import Persona, Register


@dataclass(frozen=True)
class HandoffWords:
    """The neutral words of `bot/data/handoff.yaml`."""

    fallback: dict[str, dict[str, tuple[str, ...]]]  # register → line name → alternatives
    when: WhenWords
    note_prefixes: tuple[str, ...]


@cache
def handoff_words() -> HandoffWords:
    raw: Any = yaml.safe_load(
        resources.files("bot").joinpath("data", "handoff.yaml").read_text(encoding="utf-8")
    )
    when = raw["when"]
    return HandoffWords(
        fallback={
            register: {name: tuple(lines) for name, lines in by_name.items()}
            for register, by_name in raw["fallback_lines"].items()
        },
        when=WhenWords(
            today=when["today"],
            tomorrow=when["tomorrow"],
            weekday=when["weekday"],
            day_names=tuple(when["day_names"]),
            time_format=when["time_format"],
            time_format_minutes=when["time_format_minutes"],
        ),
        note_prefixes=tuple(raw["staff_note_prefixes"]),
    )


def persona_lines(persona: Persona, name: str) -> tuple[str, ...]:
    """The persona's lines of that name, else the neutral ones of its register."""
    own: tuple[str, ...] = getattr(persona.lines, name)
    if own:
        return own
    register = Register(persona.voice.politeness).value
    return handoff_words().fallback[register][name]
