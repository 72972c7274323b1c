from __future__ import annotations

from pathlib import Path

import pytest

from persona.presets import build_persona
from persona.repository import NoPersonaError, PersonaRepository


def test_nothing_is_published_in_a_new_data_folder(tmp_path: Path) -> None:
    repository = PersonaRepository(tmp_path)
    assert repository.published_version() is None
    with pytest.raises(NoPersonaError, match="tomo persona init"):
        repository.published()


def test_publishing_makes_numbered_versions_and_rollback_moves_the_pointer(
    tmp_path: Path,
) -> None:
    repository = PersonaRepository(tmp_path)
    repository.save_draft(build_persona("shinyu"))
    assert repository.publish() == 1
    repository.save_draft(build_persona("concierge"))
    assert repository.publish() == 2
    assert repository.published().relationship.word == "コンシェルジュ"

    repository.rollback(1)

    assert repository.versions() == [1, 2]
    assert repository.published_version() == 1
    assert repository.published().relationship.word == "親友"


def test_rolling_back_to_a_missing_version_fails(tmp_path: Path) -> None:
    repository = PersonaRepository(tmp_path)
    with pytest.raises(KeyError):
        repository.rollback(3)
