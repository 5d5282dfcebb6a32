"""Settings from ``KESU_*`` environment variables (and an optional ``kesu.toml``)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEV_SECRET = "kesu-development-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KESU_", toml_file="kesu.toml", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./kesu-data/kesu.db"
    secret_key: str = DEV_SECRET
    base_url: str = "http://127.0.0.1:8000"
    # Requests larger than this are refused with 413 before they are read.
    max_body_bytes: int = 1_048_576
    # …except file uploads (a complaint history to train triage on).
    max_upload_bytes: int = 20_971_520
    default_locale: str = "zh_CN"
    page_size_default: int = 50
    page_size_max: int = 200
    db_pool_size: int = 10
    # Threads per process for sync routes. Few threads keep the GIL from being handed around
    # while a request holds SQLite's write lock; PostgreSQL deployments may raise it.
    threads: int = 8
    # FastAPI's built-in OpenTelemetry spans and metrics; off unless an exporter is set up.
    telemetry: bool = False

    # Outgoing email (the outbox worker sends it; nothing is sent inside a request).
    smtp_host: str = ""  # empty: email notifications stay in the outbox as failed
    smtp_port: int = 25
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_from: str = "kesu@localhost"
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_timeout: float = 10.0

    # Triage: a suggestion at least this confident sets the category at intake; below it the
    # agent picks from the top three. Retrain in the background after this many corrections.
    triage_apply_confidence: float = 0.8
    triage_retrain_after: int = 50
    triage_similar_k: int = 5

    # The worker: how often it looks for due timers and outbox rows, and how it retries.
    worker_interval_seconds: float = 5.0
    notify_max_attempts: int = 8
    notify_backoff_seconds: float = 30.0  # first retry; doubles each attempt
    notify_backoff_max_seconds: float = 3600.0
    notify_lease_seconds: float = 300.0  # a claimed row is retried after this if unanswered
    notify_http_timeout: float = 10.0

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEV_SECRET:
            raise ValueError("KESU_SECRET_KEY must be set to a random value in production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        raw = self.database_url.split(":///", 1)[-1]
        return None if raw in ("", ":memory:") else Path(raw)


@lru_cache
def get_settings() -> Settings:
    return Settings()


def random_secret() -> str:
    return secrets.token_urlsafe(32)
