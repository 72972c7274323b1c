"""tomo's settings: read once from the environment at start-up, then passed down.

Only the composition root builds `Settings()`; nothing below it reads the
environment. Secrets are `SecretStr` and never printed.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from memory.database import default_database_url


class Settings(BaseSettings):
    """Every setting, with the environment variable it comes from."""

    model_config = SettingsConfigDict(env_prefix="TOMO_", extra="ignore", frozen=True)

    data_dir: Path = Field(default=Path(".tomo"), description="TOMO_DATA_DIR")
    database_url: str | None = Field(
        default=None, description="TOMO_DATABASE_URL; default SQLite in the data folder"
    )
    chroma_url: str | None = Field(
        default=None, description="TOMO_CHROMA_URL; default an embedded Chroma"
    )
    memory_shards: int = Field(default=16, ge=1, le=1024, description="TOMO_MEMORY_SHARDS")
    embedding_threads: int | None = Field(
        default=None, ge=1, description="TOMO_EMBEDDING_THREADS; default min(2, cores)"
    )

    llm: str = Field(default="offline", description="TOMO_LLM: offline or <provider>:<model>")
    llm_base_url: str | None = Field(
        default=None, description="TOMO_LLM_BASE_URL, e.g. an OpenAI-compatible server"
    )
    llm_api_key: SecretStr | None = Field(
        default=None, description="TOMO_LLM_API_KEY; providers' own variables also work"
    )
    llm_timeout: float = Field(default=30.0, gt=0, description="TOMO_LLM_TIMEOUT seconds")

    admin_token: SecretStr | None = Field(default=None, description="TOMO_ADMIN_TOKEN")

    line_channel_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("LINE_CHANNEL_SECRET")
    )
    line_channel_access_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("LINE_CHANNEL_ACCESS_TOKEN")
    )
    line_api_base: str = Field(
        default="https://api.line.me", validation_alias=AliasChoices("LINE_API_BASE")
    )
    slack_bot_token: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_BOT_TOKEN")
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_SIGNING_SECRET")
    )
    slack_handoff_channel: str | None = Field(
        default=None, validation_alias=AliasChoices("SLACK_HANDOFF_CHANNEL")
    )
    slack_api_base: str = Field(
        default="https://slack.com/api/", validation_alias=AliasChoices("SLACK_API_BASE")
    )

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or default_database_url(self.data_dir)

    @property
    def persona_dir(self) -> Path:
        return self.data_dir / "persona"
