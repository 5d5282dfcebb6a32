"""Settings from ``KESU_*`` environment variables (and an optional ``kesu.toml``)."""

from __future__ import annotations

import os
import secrets
import time
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

# The development secret kesu once shipped: anyone could sign a session with it. Refused.
_KNOWN_BAD_SECRETS = frozenset({"kesu-development-secret-change-me", "change-me", "secret"})
SECRET_FILE = "secret_key"


class ConfigError(RuntimeError):
    """A setting kesu cannot start with; the message says what to set."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KESU_", toml_file="kesu.toml", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///./kesu-data/kesu.db"
    # Signs the session cookie. Unset: a random key generated on first start and kept in
    # ``<data dir>/secret_key`` (mode 0600); production refuses to start without one.
    secret_key: str = ""
    # Where kesu keeps its files (the generated secret key): this, else the SQLite database's
    # directory, else ./kesu-data.
    data_dir: Path | None = None
    # The public address customers' links point at (tracking, accept/reject, survey). Empty:
    # the scheme, host and port of the request that made the link, and in the worker the
    # last one a request was served on (kesu.web.public_url). Set it in production.
    base_url: str = ""
    # Sign-in: a session lasts this long; a failed password makes the next try wait
    # base × 2^(failures-1) seconds; after max failures the account (or address) is locked.
    session_hours: float = 12.0
    login_delay_base_seconds: float = 1.0
    login_max_failures: int = 5
    login_max_failures_per_address: int = 20
    login_lockout_minutes: float = 15.0
    # API tokens: default lifetime (settable per token up to the max), active tokens per user.
    token_days_default: int = 90
    token_days_max: int = 366
    tokens_per_user_max: int = 10
    # Requests larger than this are refused with 413 before they are read.
    max_body_bytes: int = 1_048_576
    # …except file uploads (a complaint history to train triage on).
    max_upload_bytes: int = 20_971_520
    # Attachments: the largest file, the most files per complaint and per upload.
    attachment_max_bytes: int = Field(default=10_485_760, ge=1)
    attachments_per_complaint: int = Field(default=20, ge=1)
    attachments_per_upload: int = Field(default=5, ge=1)
    default_locale: str = "zh_CN"
    page_size_default: int = 50
    page_size_max: int = 200
    db_pool_size: int = 10
    # The longest a request waits for the database (SQLite's write lock, a pooled connection,
    # a PostgreSQL row lock) before answering 503 with Retry-After.
    write_lock_timeout_seconds: float = 10.0
    group_commit: bool = True  # creates share transactions (kesu/complaints/group_commit.py)
    # /healthz: unhealthy below this much free space in the data directory, or when a check
    # takes longer than health_timeout_seconds.
    health_min_free_bytes: int = 64 * 1024 * 1024
    health_timeout_seconds: float = 2.0
    # Threads per process for sync routes. Few threads keep the GIL from being handed around
    # while a request holds SQLite's write lock; PostgreSQL deployments may raise it.
    threads: int = 8
    # Warm the segmenter, the triage models, the templates and the configuration before the
    # first request (kesu.web.warmup). Never under KESU_ENVIRONMENT=test (kesu.web.app).
    warm_up: bool = True
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
    # Reply-To of the emails to customers (the intake mailbox, so their reply comes back to
    # the complaint); empty: replies go to smtp_from.
    email_reply_to: str = ""

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
    # PIPL retention: customers whose complaints have all been closed for this many years are
    # anonymised by the worker (hourly) and `kesu privacy anonymize-expired`. 0: never.
    retention_years: int = Field(default=0, ge=0, le=100)
    # Satisfaction surveys (kesu.surveys): overrides the admin's per-channel delay; 0 = at once.
    survey_delay_minutes: int | None = Field(default=None, ge=0, le=525600)

    # Intake: a complaint's received_at may lie at most this many days in the past (older
    # history is imported, not registered).
    received_at_max_age_days: int = 365
    # 重复投诉: a complaint by the same customer with a similar text within this many days of
    # an earlier one is linked to it. The default until an admin saves /admin/repeats.
    repeat_window_days: int = Field(default=30, ge=1, le=365)
    # Exports of the workbench list (kesu.exports): up to this many rows are answered at once,
    # more run in the background; a finished file is kept this many hours.
    export_sync_max_rows: int = Field(default=5000, ge=1, le=100_000)
    export_keep_hours: float = Field(default=24.0, gt=0, le=24 * 90)
    # Public pages (the complaint form, the tracking page): requests per client address and
    # per form session, "N/period" rules joined by ";" (period: second, minute, hour, day).
    # Counted in memory per process: with P processes a client gets up to P times the limit.
    rate_limit_public: str = "10/minute;100/hour"  # posting the form, messages, accept/reject
    rate_limit_lookup: str = "60/minute;600/hour"  # opening a tracking link (token guessing)
    # Social-media webhooks: deliveries per source (kesu/intake/social), whoever sends them.
    rate_limit_social: str = "120/minute;3000/hour"
    # Addresses (or networks, e.g. 10.0.0.0/8) of reverse proxies whose X-Forwarded-For is
    # believed, comma-separated; empty: the peer address is the client.
    trusted_proxies: str = ""
    # A captcha for the public form: "module:Class" implementing kesu.intake.challenge.Challenge.
    challenge: str = ""
    # Webhooks: targets resolving to loopback, private, link-local or other non-public
    # addresses are refused unless allowed here (true: all; or hosts, comma-separated).
    webhook_allow_private: bool = False
    webhook_allowed_hosts: str = ""

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

    def resolved_data_dir(self) -> Path:
        if self.data_dir is not None:
            return self.data_dir
        db_path = self.sqlite_path()
        return db_path.parent if db_path is not None else Path("kesu-data")

    def session_secret(self) -> str:
        """The key that signs session cookies; ``ConfigError`` when kesu must not start.

        ``KESU_SECRET_KEY`` if set (never a known placeholder). Otherwise production refuses;
        tests without a data directory get a random key per process; everything else reads
        (or creates, 0600) ``<data dir>/secret_key``, so restarts keep sessions valid.
        """
        key = self.secret_key.strip()
        if key:
            if key in _KNOWN_BAD_SECRETS or len(key) < 16:
                raise ConfigError(
                    "KESU_SECRET_KEY is a placeholder or shorter than 16 characters; set it to "
                    "a long random value (e.g. python -c 'import secrets; "
                    "print(secrets.token_urlsafe(32))')"
                )
            return key
        if self.environment == "production":
            raise ConfigError(
                "KESU_SECRET_KEY is not set: in production kesu refuses to start without it. "
                "Set it to a long random value (e.g. python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))') and keep it the same for every process."
            )
        if self.environment == "test" and self.data_dir is None:
            return _process_secret()
        return load_or_create_secret(self.resolved_data_dir() / SECRET_FILE)

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


@lru_cache
def _process_secret() -> str:
    return random_secret()


def load_or_create_secret(path: Path) -> str:
    """The secret kept in ``path``; created (random, mode 0600) if it does not exist yet.

    ``O_EXCL`` makes concurrent first starts (several workers) agree on one key.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
        for _ in range(50):  # another process may be writing it this very moment
            value = path.read_text().strip()
            if value:
                return value
            time.sleep(0.01)
        raise ConfigError(f"{path} is empty: delete it to generate a new secret key") from None
    value = random_secret()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value
