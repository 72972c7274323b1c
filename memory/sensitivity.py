"""Which memories are sensitive (health, family, money, …): a pure, offline tagging.

A sensitive memory is recalled when the customer asks about it and listed when
they ask what tomo remembers, but never brought up casually.
"""

from __future__ import annotations

import functools
import unicodedata
from importlib import resources
from typing import Any

import yaml


@functools.cache
def _lexicon() -> dict[str, tuple[str, ...]]:
    raw: Any = yaml.safe_load(
        resources.files("memory").joinpath("data", "sensitivity.yaml").read_text(encoding="utf-8")
    )
    return {
        tag: tuple(unicodedata.normalize("NFKC", word).lower() for word in words)
        for tag, words in raw.items()
    }


def sensitivity_of(text: str) -> str | None:
    """The first sensitivity tag whose words appear in the text, or None."""
    plain = unicodedata.normalize("NFKC", text).lower()
    for tag, words in _lexicon().items():
        if any(word in plain for word in words):
            return tag
    return None
