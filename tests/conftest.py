"""Shared fixtures. The network is off (loopback only) from the first import."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

NETGUARD = Path(__file__).parent / "netguard"
sys.path.insert(0, str(NETGUARD))
import tomo_netguard  # noqa: E402

tomo_netguard.install()

from connectors.runtime import Runtime, open_runtime  # noqa: E402
from connectors.settings import Settings  # noqa: E402
from persona.presets import build_persona  # noqa: E402
from persona.repository import PersonaRepository  # noqa: E402

_OUR_PREFIXES = ("TOMO_", "LINE_", "SLACK_", "OPENAI_", "ANTHROPIC_")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never see the developer's own tomo, LINE, Slack or LLM settings."""
    for name in list(os.environ):
        if name.startswith(_OUR_PREFIXES):
            monkeypatch.delenv(name)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir)


def publish_preset(settings: Settings, preset: str = "shinyu") -> None:
    repository = PersonaRepository(settings.persona_dir)
    repository.save_draft(build_persona(preset))
    repository.publish()


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    publish_preset(settings)
    async with open_runtime(settings) as opened:
        yield opened


@pytest.fixture
def subprocess_env(data_dir: Path) -> Iterator[dict[str, str]]:
    """Environment for running `tomo` in a subprocess: own data folder, network guard."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(_OUR_PREFIXES)}
    env["TOMO_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NETGUARD), env.get("PYTHONPATH")]))
    env["PYTHONIOENCODING"] = "utf-8"
    yield env
