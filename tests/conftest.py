"""Shared fixtures. The network is off (loopback only) from the first import."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

NETGUARD = Path(__file__).parent / "netguard"
sys.path.insert(0, str(NETGUARD))
import tomo_netguard  # noqa: E402

tomo_netguard.install()

from connectors.runtime import Runtime, open_runtime  # noqa: E402
from connectors.settings import Settings  # noqa: E402
from persona.presets import build_persona  # noqa: E402
from persona.repository import PersonaRepository  # noqa: E402
from tests.fakes.chroma_server import ChromaServer  # noqa: E402

_OUR_PREFIXES = ("TOMO_", "LINE_", "SLACK_", "OPENAI_", "ANTHROPIC_")

# Read before the environment is cleaned for each test: the PostgreSQL server
# the scale-out tests may use (`.ci/run` sets it when the machine has one).
TEST_DATABASE_URL = os.environ.get("TOMO_TEST_DATABASE_URL")
NO_POSTGRES = (
    "PostgreSQL tests need TOMO_TEST_DATABASE_URL "
    "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test); .ci/run sets it"
)


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


@pytest.fixture(scope="module")
def _module_chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    folder = tmp_path_factory.mktemp("chroma-server")
    server = ChromaServer(folder / "data", folder / "chroma.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def chroma_server(_module_chroma_server: ChromaServer) -> Iterator[ChromaServer]:
    """A real Chroma server, one per test module (it takes about a second to start).

    Tests share its collections: keep data apart with customer ids of the test's
    own. A test may stop or freeze it; it is running again for the next test.
    """
    yield _module_chroma_server
    _module_chroma_server.thaw()
    _module_chroma_server.start()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped afterwards.

    Skipped, with the reason, where TOMO_TEST_DATABASE_URL is not set; where it
    is set but the server cannot be reached, the test fails.
    """
    if not TEST_DATABASE_URL:
        pytest.skip(NO_POSTGRES)
    import psycopg
    from sqlalchemy.engine import make_url

    server = make_url(TEST_DATABASE_URL)
    name = f"tomo_test_{uuid.uuid4().hex[:12]}"
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url() -> str | None:
    """The SQL store of the app fixtures (None: SQLite in the data folder).

    A test module overrides it to run the same tests on PostgreSQL (see
    tests/connectors/line/test_on_postgresql.py).
    """
    return None


@pytest.fixture
async def migrated_postgres_url(postgres_url: str) -> str:
    """A fresh PostgreSQL database after `tomo db upgrade`'s migrations."""
    await migrate(postgres_url)
    return postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The test runs twice: on SQLite in the data folder, and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        from memory.database import default_database_url

        (tmp_path / "sql").mkdir()
        return default_database_url(tmp_path / "sql")
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def any_engine(any_database_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated engine on `any_database_url` (SQLite, then PostgreSQL), disposed after."""
    from memory.database import open_engine

    engine = await open_engine(any_database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


async def migrate(url: str) -> None:
    """What `tomo db upgrade` does, for a test's own database."""
    from memory.database import open_engine

    engine = await open_engine(url, migrate=True)
    await engine.dispose()
