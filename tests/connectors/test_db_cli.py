"""`tomo db upgrade|current`, and commands refusing a database that is not migrated."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.connectors.test_cli import tomo


@pytest.fixture
def named_database(subprocess_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """A database the operator names (not the embedded default): never migrated implicitly."""
    return subprocess_env | {"TOMO_DATABASE_URL": f"sqlite:///{tmp_path / 'named.db'}"}


def test_a_command_on_an_unmigrated_named_database_says_to_run_tomo_db_upgrade(
    named_database: dict[str, str],
) -> None:
    refused = tomo(named_database, "chat", "--customer", "花子", "--json", stdin="こんにちは\n")

    assert refused.returncode == 2
    assert "tomo db upgrade" in refused.stderr
    assert "Traceback" not in refused.stderr and refused.stdout == ""


def test_db_upgrade_migrates_once_and_then_the_command_works(
    named_database: dict[str, str],
) -> None:
    before = tomo(named_database, "db", "current", "--check")
    first = tomo(named_database, "db", "upgrade")
    again = tomo(named_database, "db", "upgrade")
    after = tomo(named_database, "db", "current", "--check")
    chat = tomo(named_database, "chat", "--customer", "花子", "--json", stdin="こんにちは\n")

    assert before.returncode == 1 and "not migrated" in before.stdout
    assert first.returncode == 0 and "upgraded from an empty database" in first.stdout
    assert again.returncode == 0 and "up to date" in again.stdout
    assert after.returncode == 0
    assert chat.returncode == 0 and '"reply"' in chat.stdout
