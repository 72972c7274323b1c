"""The company's persona in the data folder: a draft and numbered published versions.

Layout under `<data>/persona/`: `draft.yaml`, `versions/0001.yaml`, …, and
`published` naming the version in force. A roll-back only moves `published`;
no version is ever rewritten.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from persona.schema import Persona


class NoPersonaError(LookupError):
    """No persona has been published yet."""


def persona_to_yaml(persona: Persona) -> str:
    return yaml.safe_dump(
        persona.model_dump(mode="json"), allow_unicode=True, sort_keys=False, width=100
    )


def persona_from_yaml(text: str) -> Persona:
    loaded: Any = yaml.safe_load(text)
    return Persona.model_validate(loaded)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)


class PersonaRepository:
    """Draft, versions and the published pointer of the company's persona."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def _versions(self) -> Path:
        return self.root / "versions"

    def _version_path(self, version: int) -> Path:
        return self._versions / f"{version:04d}.yaml"

    def versions(self) -> list[int]:
        if not self._versions.is_dir():
            return []
        return sorted(int(path.stem) for path in self._versions.glob("*.yaml"))

    def version(self, version: int) -> Persona:
        path = self._version_path(version)
        if not path.is_file():
            raise KeyError(f"no persona version {version}")
        return persona_from_yaml(path.read_text(encoding="utf-8"))

    def published_version(self) -> int | None:
        pointer = self.root / "published"
        return int(pointer.read_text().strip()) if pointer.is_file() else None

    def published(self) -> Persona:
        version = self.published_version()
        if version is None:
            raise NoPersonaError("no persona published yet: run `tomo persona init`")
        return self.version(version)

    def has_draft(self) -> bool:
        """Whether a draft has been saved (it may equal the published version)."""
        return (self.root / "draft.yaml").is_file()

    def draft(self) -> Persona:
        path = self.root / "draft.yaml"
        if path.is_file():
            return persona_from_yaml(path.read_text(encoding="utf-8"))
        return self.published()

    def save_draft(self, persona: Persona) -> None:
        _write_atomically(self.root / "draft.yaml", persona_to_yaml(persona))

    def publish(self) -> int:
        """Publish the draft as a new version; returns its number."""
        draft = self.draft()
        version = (max(self.versions()) if self.versions() else 0) + 1
        _write_atomically(self._version_path(version), persona_to_yaml(draft))
        _write_atomically(self.root / "published", f"{version}\n")
        return version

    def rollback(self, version: int) -> None:
        """Make an earlier version the published one again."""
        self.version(version)  # raises if it does not exist
        _write_atomically(self.root / "published", f"{version}\n")
