"""What managers read about the persona, from `connectors/data/persona.yaml`."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import yaml


@functools.cache
def _words() -> dict[str, Any]:
    text = resources.files("connectors").joinpath("data", "persona.yaml")
    loaded: dict[str, Any] = yaml.safe_load(text.read_text(encoding="utf-8"))
    return loaded


def say(key: str, **values: Any) -> str:
    """The text at a dotted key ("cli.published"), its placeholders filled in."""
    found: Any = _words()
    for part in key.split("."):
        found = found[part]
    return str(found).format(**values) if values else str(found)
