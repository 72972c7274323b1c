from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from connectors.settings import Settings


def test_settings_read_the_documented_environment_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TOMO_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TOMO_DATABASE_URL", "postgresql+psycopg://tomo@127.0.0.1/test")
    monkeypatch.setenv("TOMO_CHROMA_URL", "http://127.0.0.1:8000")
    monkeypatch.setenv("TOMO_LLM", "openai:gpt-4o-mini")
    monkeypatch.setenv("TOMO_ADMIN_TOKEN", "admin-secret")
    monkeypatch.setenv("LINE_CHANNEL_SECRET", "line-secret")
    monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", "line-token")
    monkeypatch.setenv("LINE_API_BASE", "http://127.0.0.1:9")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "slack-secret")
    monkeypatch.setenv("SLACK_HANDOFF_CHANNEL", "C123")
    monkeypatch.setenv("SLACK_API_BASE", "http://127.0.0.1:10/api/")

    settings = Settings()

    assert settings.data_dir == tmp_path
    assert settings.resolved_database_url == "postgresql+psycopg://tomo@127.0.0.1/test"
    assert settings.chroma_url == "http://127.0.0.1:8000"
    assert settings.llm == "openai:gpt-4o-mini"
    assert settings.admin_token is not None
    assert settings.admin_token.get_secret_value() == "admin-secret"
    assert settings.line_channel_secret is not None
    assert settings.line_channel_secret.get_secret_value() == "line-secret"
    assert settings.line_api_base == "http://127.0.0.1:9"
    assert settings.slack_handoff_channel == "C123"
    assert settings.slack_api_base == "http://127.0.0.1:10/api/"


def test_defaults_are_the_embedded_stores_and_the_offline_responder() -> None:
    settings = Settings()
    assert settings.data_dir == Path(".tomo")
    assert settings.resolved_database_url.startswith("sqlite:///")
    assert settings.resolved_database_url.endswith("/.tomo/tomo.db")
    assert settings.chroma_url is None
    assert settings.llm == "offline"


def test_secrets_are_not_shown_when_settings_are_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINE_CHANNEL_SECRET", "do-not-print-me")
    assert "do-not-print-me" not in repr(Settings())


def test_a_bad_value_fails_loudly_with_the_variable_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOMO_MEMORY_SHARDS", "zero")
    with pytest.raises(ValidationError, match="memory_shards"):
        Settings()
