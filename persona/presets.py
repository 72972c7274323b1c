"""Relationship presets and brands, shipped as YAML data files.

A preset holds everything that follows from the relationship word (voice,
boundaries, examples, offline lines); a brand holds what is the company's own
(name, commitments, FAQ). A persona is one preset merged with one brand.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from persona.schema import Commitment, Persona

DEMO_BRAND = "demo"

# (text, candidates) → one similarity per candidate; injected so this room needs no model.
Similarity = Callable[[str, Sequence[str]], Sequence[float]]


def _data(kind: str) -> Any:
    return resources.files("persona").joinpath("data", kind)


def _load_yaml(text: str, where: str) -> dict[str, Any]:
    loaded = yaml.safe_load(text)
    if not isinstance(loaded, dict):
        raise ValueError(f"{where}: expected a mapping at the top level")
    return loaded


def preset_keys() -> list[str]:
    return sorted(
        entry.name.removesuffix(".yaml")
        for entry in _data("presets").iterdir()
        if entry.name.endswith(".yaml")
    )


def load_preset(key: str) -> dict[str, Any]:
    entry = _data("presets").joinpath(f"{key}.yaml")
    if not entry.is_file():
        raise KeyError(f"no preset {key!r}; presets: {', '.join(preset_keys())}")
    return _load_yaml(entry.read_text(encoding="utf-8"), f"preset {key}")


def load_brand(source: str | Path = DEMO_BRAND) -> dict[str, Any]:
    """The shipped demo brand by name, or a brand YAML file of the company's own."""
    path = Path(source)
    if path.suffix in {".yaml", ".yml"}:
        return _load_yaml(path.read_text(encoding="utf-8"), str(path))
    entry = _data("brands").joinpath(f"{source}.yaml")
    if not entry.is_file():
        raise KeyError(f"no brand {source!r}")
    return _load_yaml(entry.read_text(encoding="utf-8"), f"brand {source}")


def build_persona(preset_key: str, brand: str | Path = DEMO_BRAND) -> Persona:
    """The persona made of one preset and one brand (validated)."""
    return Persona.model_validate({**load_preset(preset_key), **load_brand(brand)})


@dataclass(frozen=True)
class PresetChoice:
    key: str
    word: str
    exact: bool  # False: no preset has this word; the closest one was chosen


def _words(preset: dict[str, Any]) -> list[str]:
    relationship = preset["relationship"]
    return [relationship["word"], *relationship.get("aliases", [])]


def choose_preset(word: str, similarity: Similarity | None = None) -> PresetChoice:
    """The preset for a relationship word: exact or contained match, else the closest."""
    wanted = word.strip().strip("「」『』\"'")
    presets = {key: load_preset(key) for key in preset_keys()}
    for key, preset in presets.items():
        if wanted in _words(preset):
            return PresetChoice(key, preset["relationship"]["word"], exact=True)
    for key, preset in presets.items():
        if any(candidate in wanted for candidate in _words(preset)):
            return PresetChoice(key, preset["relationship"]["word"], exact=True)
    if similarity is None:
        raise KeyError(
            f"no preset for {wanted!r}; presets: "
            + ", ".join(presets[key]["relationship"]["word"] for key in presets)
        )
    described = [
        " ".join([*_words(preset), preset["relationship"].get("meaning", "")])
        for preset in presets.values()
    ]
    scores = list(similarity(wanted, described))
    best = max(range(len(scores)), key=scores.__getitem__)
    key = list(presets)[best]
    return PresetChoice(key, presets[key]["relationship"]["word"], exact=False)


# Where a free-text commitment's title ends: the manager's own "見出し: 本文" or the first clause.
_TITLE_SEPARATORS = (":", "：")
_CLAUSE_ENDS = "。、！？!?,，.\n"
TITLE_LENGTH = 20


def commitment_from_text(text: str) -> Commitment:
    """A commitment a manager wrote as free text: "見出し: 本文", or just the text, whose
    first clause then becomes the title. The words are kept as written."""
    text = text.strip()
    for separator in _TITLE_SEPARATORS:
        title, found, body = text.partition(separator)
        if found and title.strip() and body.strip():
            return Commitment(title=title.strip(), body=body.strip())
    first = text
    for index, character in enumerate(text):
        if character in _CLAUSE_ENDS:
            first = text[:index]
            break
    title = first.strip() or text
    if len(title) > TITLE_LENGTH:
        title = title[:TITLE_LENGTH] + "…"
    return Commitment(title=title, body=text)
