"""Settings read from the environment (``PATRON_*``) and an optional ``.env`` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-secret-change-me"


def default_database_url() -> str:
    """The embedded default: a SQLite file under ``./var/``."""
    return f"sqlite:///{Path('var').resolve() / 'patron.db'}"


class PatronSettings(BaseSettings):
    """The one way settings are read: an environment variable, else a line in ``./.env``, else
    the default. Every group of settings derives from this class and only names its prefix
    (``PATRON_``, ``PATRON_MESSAGES_``…), so a group cannot forget the ``.env`` file (a test
    refuses a settings class built on ``BaseSettings`` directly)."""

    model_config = SettingsConfigDict(
        env_prefix="PATRON_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )


class Settings(PatronSettings):
    """Every core setting Patron reads; see docs/configuration.md."""

    env: Literal["development", "test", "production"] = "development"
    database_url: str = Field(default_factory=default_database_url)
    secret_key: str = DEV_SECRET
    # Public address used in links; defaults to http://{host}:{port}.
    base_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_json: bool = True
    # Run the background worker inside `patron serve` (the embedded default).
    worker_in_process: bool = True
    worker_poll_seconds: float = 1.0
    # `patron serve --workers N`: seconds a server process may take to answer its supervisor's
    # health check before it is killed and replaced (uvicorn's own default, 5, is too short
    # for a busy two-core machine).
    serve_healthcheck_seconds: int = Field(default=30, ge=1)
    # Requests one server process works on at once; more wait up to request_queue_seconds
    # for a slot, then get 503 with Retry-After (docs/operations.md, ADR 0040).
    max_requests_in_flight: int = Field(default=8, ge=1, le=1000)
    request_queue_seconds: float = Field(default=0.5, ge=0, le=30)
    # Of those, requests that may write (POST, PUT, PATCH, DELETE); 0: no separate bound.
    # None: 2 on SQLite (writers take turns on one lock), no separate bound on PostgreSQL.
    max_writes_in_flight: int | None = Field(default=None, ge=0, le=1000)
    # Database connections per process (SQLAlchemy pool): enough for every request in flight,
    # the in-process worker and a page's analytics sync; a checkout that still finds none within
    # the timeout is answered 503, not 500.
    database_pool_size: int = Field(default=20, ge=1)
    database_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    # /metrics wants `Authorization: Bearer <this>` when set; open when empty (docs/operations.md).
    metrics_token: str = ""
    portal_link_max_age_seconds: int = 900
    # One-time sign-in codes of the member portal (ADR 1300): how long a code lasts, how soon
    # another may be sent to the same phone or email, and how many wrong codes a phone/email and
    # a client address may try before each further try waits 2, 4, 8 … seconds. Sending codes
    # counts against the client address too (with its own, larger allowance).
    portal_code_max_age_seconds: int = Field(default=600, ge=60, le=3600)
    portal_code_resend_seconds: int = Field(default=60, ge=0, le=3600)
    portal_code_max_failures_before_delay: int = Field(default=5, ge=1)
    portal_code_address_max_failures_before_delay: int = Field(default=30, ge=1)
    portal_code_address_max_sends_before_delay: int = Field(default=30, ge=1)
    # A font with the store's script for the name printed under a join QR code (PNG); empty:
    # the first Noto CJK / DejaVu font found on the machine, else Pillow's own.
    qr_label_font: str = ""
    # Wrong passwords an account, and a client address, may send before each further attempt
    # waits 2, 4, 8 … seconds (at most 15 minutes); failures are forgotten after a quiet spell.
    login_max_failures_before_delay: int = Field(default=5, ge=1)
    login_address_max_failures_before_delay: int = Field(default=20, ge=1)
    login_failures_forget_seconds: int = Field(default=3600, ge=60)
    # Request rate limits ("N/second|minute|hour", the ``limits`` notation); over a limit the
    # answer is 429 with Retry-After. Counters are kept in the process (memory://) unless a
    # shared storage is named (e.g. redis://host:6379, with the redis package installed).
    rate_limit_enabled: bool = True
    rate_limit_storage: str = "memory://"
    rate_limit_api_key: str = "6000/minute"
    rate_limit_api_address: str = "12000/minute"
    rate_limit_sign_in_address: str = "30/minute"
    rate_limit_portal_address: str = "60/minute"
    rate_limit_portal_token: str = "10/minute"
    # Patron's own mail to staff (password reset links); empty host: no reset by email.
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_from: str = "patron@localhost"
    password_reset_max_age_seconds: int = Field(default=1800, ge=60)
    webhook_timeout_seconds: float = 10.0
    webhook_max_attempts: int = 8
    analytics_path: str = "var/analytics.duckdb"
    # Uploaded files (review photos) on local disk, one folder per merchant (ADR 1501).
    media_dir: str = "var/media"
    # The worker's daily prediction run (sync, fit, store member_predictions) per merchant.
    analytics_predict_daily: bool = True
    # The analytics pages sync the copy first when its last sync is older than this.
    analytics_max_age_minutes: float = 10.0
    # The largest CSV file the dashboard accepts for an import (bigger files: `patron import`).
    import_max_upload_mb: int = Field(default=50, ge=1, le=2048)
    # The largest body any other API request may send (imports: the upload limit above).
    api_max_body_mb: int = Field(default=10, ge=1, le=2048)
    # Records per committed batch of a dashboard import, and how long a worker's claim on an
    # import lasts without news (renewed with every batch; a dead worker's import resumes after).
    import_batch_rows: int = Field(default=2000, ge=1)
    import_lease_seconds: float = Field(default=300.0, gt=0)

    @model_validator(mode="after")
    def _default_base_url(self) -> Settings:
        if not self.base_url:
            self.base_url = f"http://{self.host}:{self.port}"
        self.base_url = self.base_url.rstrip("/")
        return self

    @model_validator(mode="after")
    def _refuse_default_secret_in_production(self) -> Settings:
        if self.env == "production" and self.secret_key == DEV_SECRET:
            raise ValueError("PATRON_SECRET_KEY must be set to a real secret in production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://") or self.env == "production"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; tests build their own ``Settings``)."""
    return Settings()
