"""tomo's settings: read once from the environment at start-up, then passed down.

Only the composition root builds `Settings()`; nothing below it reads the
environment. Secrets are `SecretStr` and never printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.business_hours import BusinessHours
from connectors.logs import LogFormat
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
    memory_shards: int = Field(default=4, ge=1, le=1024, description="TOMO_MEMORY_SHARDS")
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

    # The LINE channel and the workers behind `tomo serve` / `tomo worker`.
    line_groups: Literal["ignore"] = Field(
        default="ignore",
        description="TOMO_LINE_GROUPS: what to do with group and multi-person chats; tomo is "
        "one-to-one, so their events are acknowledged and ignored",
    )
    line_max_body_bytes: int = Field(
        default=1_000_000, ge=1024, description="TOMO_LINE_MAX_BODY_BYTES: larger webhooks get 413"
    )
    line_timeout: float = Field(
        default=10.0, gt=0, description="TOMO_LINE_TIMEOUT: seconds per Messaging API call"
    )
    line_send_attempts: int = Field(
        default=5, ge=1, le=20, description="TOMO_LINE_SEND_ATTEMPTS: tries per send on 429/5xx"
    )
    line_retry_seconds: float = Field(
        default=0.5,
        gt=0,
        description="TOMO_LINE_RETRY_SECONDS: first wait after a 429/5xx; doubles each try",
    )
    line_loading_seconds: int = Field(
        default=20,
        ge=5,
        le=60,
        multiple_of=5,
        description="TOMO_LINE_LOADING_SECONDS: the loading animation while an answer is made",
    )
    unfollowed_retention_days: int | None = Field(
        default=None,
        ge=0,
        description="TOMO_UNFOLLOWED_RETENTION_DAYS: forget a customer this many days after "
        "they block the account (0: at once); unset: keep their data, marked inactive",
    )
    workers: int = Field(
        default=4,
        ge=0,
        le=256,
        description="TOMO_WORKERS: customers handled at the same time per process (0: none)",
    )
    inbox_poll_seconds: float = Field(
        default=0.5,
        gt=0,
        description="TOMO_INBOX_POLL_SECONDS: how often idle workers look for events other "
        "processes stored",
    )
    inbox_lease_seconds: float = Field(
        default=30.0,
        ge=1,
        description="TOMO_INBOX_LEASE_SECONDS: a customer held by a process that stopped "
        "answering is taken over after this",
    )
    burst_seconds: float = Field(
        default=1.5,
        ge=0,
        description="TOMO_BURST_SECONDS: texts a customer sends in a row are answered "
        "together once they pause this long (0: only texts already waiting are joined)",
    )
    burst_max_wait_seconds: float = Field(
        default=8.0,
        ge=0,
        description="TOMO_BURST_MAX_WAIT_SECONDS: the longest a first text waits for the rest",
    )
    inbox_keep_days: int = Field(
        default=7,
        ge=1,
        description="TOMO_INBOX_KEEP_DAYS: handled events are remembered this long to "
        "recognise redeliveries",
    )

    # Handing over to staff in Slack.
    slack_app_token: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("SLACK_APP_TOKEN"),
        description="SLACK_APP_TOKEN (xapp-…): Socket Mode instead of HTTP at /slack/events",
    )
    slack_timeout: float = Field(
        default=10.0, gt=0, description="TOMO_SLACK_TIMEOUT: seconds per Slack Web API call"
    )
    # Unset, tomo claims no hours it was not told: staff are taken to be there (24h).
    business_hours: str = Field(
        default="24h",
        description="TOMO_BUSINESS_HOURS: when staff answer, e.g. 09:00-18:00; default 24h",
    )
    business_days: str = Field(
        default="mon-sun", description="TOMO_BUSINESS_DAYS: e.g. mon-fri, or mon,wed,fri"
    )
    timezone: str = Field(default="Asia/Tokyo", description="TOMO_TIMEZONE of business hours")
    handoff_claim_minutes: float = Field(
        default=15.0,
        gt=0,
        description="TOMO_HANDOFF_CLAIM_MINUTES: a handoff nobody takes within this (business) "
        "time is re-pinged in Slack and the customer told once they are not forgotten",
    )
    handoff_check_seconds: float = Field(
        default=15.0,
        gt=0,
        description="TOMO_HANDOFF_CHECK_SECONDS: how often unclaimed handoffs and Slack "
        "posts that failed are looked at",
    )

    # Operations: the log and the metrics.
    log_format: LogFormat = Field(
        default=LogFormat.TEXT,
        description="TOMO_LOG_FORMAT: text, or json (one object a line: time, level, logger, "
        "message, exception) for a log collector; `--log-format` overrides it",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="TOMO_METRICS_PORT: `tomo worker` serves Prometheus metrics at /metrics on "
        "this port (0: any free port); unset: none (`tomo serve` has GET /metrics anyway)",
    )
    metrics_host: str = Field(
        default="127.0.0.1",
        description="TOMO_METRICS_HOST: the address of `tomo worker`'s metrics port (0.0.0.0: "
        "every interface; keep it on an internal network, it has no authentication)",
    )

    @model_validator(mode="after")
    def _business_hours_are_readable(self) -> Settings:
        try:
            BusinessHours.parse(self.business_hours, self.business_days, self.timezone)
        except ValueError as error:
            raise ValueError(
                f"TOMO_BUSINESS_HOURS / TOMO_BUSINESS_DAYS / TOMO_TIMEZONE: {error}"
            ) from error
        return self

    @property
    def business(self) -> BusinessHours:
        """Business hours, days and time zone, as one value."""
        return BusinessHours.parse(self.business_hours, self.business_days, self.timezone)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or default_database_url(self.data_dir)

    @property
    def persona_dir(self) -> Path:
        return self.data_dir / "persona"
