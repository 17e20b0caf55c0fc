"""Configuration from environment variables and an optional .env file, validated once at start."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parent.parent


WEBHOOK_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")


class ConfigError(Exception):
    """Bad configuration, explained in one line for the person starting the bot."""


def _parse_ids(value: object) -> list[int]:
    if value is None or value == "":
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, list | tuple):
        return [int(v) for v in value]
    ids = []
    for part in str(value).replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.lstrip("-").isdigit():
            raise ValueError(f"'{part}' is not a Telegram user id (a whole number)")
        ids.append(int(part))
    return ids


class Settings(BaseSettings):
    """Every setting the bot reads; see .env.example and the README for what each one does."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    telegram_bot_token: str = ""
    database_url: str = "sqlite:///ocop.db"
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_api_file_url: str = "https://api.telegram.org/file/bot"
    staff_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    staff_chat_id: int | None = None
    timezone: str = "Asia/Ho_Chi_Minh"
    log_level: str = "INFO"
    storage_dir: Path = Path("storage_files")
    download_files: bool = True
    max_upload_mb: float = 10.0
    # Processes that lay out dossier PDFs (0: a thread of the bot's own process), so a PDF does not
    # hold the bot's interpreter while others are answered.
    pdf_processes: int = Field(default=1, ge=0, le=16)
    contacts_file: Path = PROJECT_DIR / "knowledge" / "data" / "contacts.yaml"
    max_concurrent_updates: int = Field(default=32, ge=1, le=1024)
    flood_max_updates: int = Field(default=20, ge=1)
    flood_window_seconds: float = Field(default=10.0, gt=0)
    # Webhook mode (`python bot.py webhook`): where PTB's webhook server listens, the public https
    # URL Telegram calls, and the secret Telegram sends back in X-Telegram-Bot-Api-Secret-Token.
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(default=8443, ge=1, le=65535)
    webhook_url: str = ""
    webhook_secret: str = ""
    webhook_path: str = ""
    webhook_health_path: str = "/healthz"
    # Drop an update whose update_id was already processed (by this or another instance). None: on in
    # webhook mode, off in polling (getUpdates' offset already delivers each update once).
    deduplicate_updates: bool | None = None
    # Pace sends with PTB's AIORateLimiter in webhook mode (off only against a fake or local Bot API).
    bot_api_pacing: bool = True
    # The outbox (notices, alerts, broadcasts): messages a second overall (0: unpaced, only against a
    # fake Bot API), seconds between two messages to one chat, and retries of 5xx/timeouts.
    outbox_rate: float = Field(default=25.0, ge=0, le=1000)
    outbox_per_chat_seconds: float = Field(default=1.0, ge=0)
    outbox_max_attempts: int = Field(default=5, ge=1, le=100)
    outbox_retry_base_seconds: float = Field(default=2.0, gt=0)
    outbox_retry_max_seconds: float = Field(default=300.0, gt=0)
    # Run the outbox worker in this process (any number of processes may: they share the pacing).
    outbox_worker: bool = True
    # Assisted entry (/nhaphoso): days a claim link (t.me/<bot>?start=claim_<token>) stays valid.
    claim_link_days: int = Field(default=14, ge=1, le=365)
    # Broadcasts: seconds between two edits of the live progress message, recipients per batch of rows.
    broadcast_progress_seconds: float = Field(default=5.0, ge=1.0)
    broadcast_batch: int = Field(default=500, ge=10, le=10_000)
    # Reminders (scheduler/reminders.py): how far ahead of a commune deadline (days), a training
    # (hours) and a certificate's valid-until date (days) they go; how long a draft / a returned dossier
    # stays untouched before its one nudge (days); quiet hours (local HH:MM) when non-urgent reminders
    # wait for the morning; how often the job runs and how many reminders one run queues at most.
    reminder_deadline_days: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [14, 3, 1])
    reminder_training_hours: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [24, 2])
    reminder_certificate_days: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [90, 30])
    reminder_draft_idle_days: float = Field(default=7.0, gt=0)
    reminder_returned_idle_days: float = Field(default=5.0, gt=0)
    quiet_hours_start: str = "21:00"
    quiet_hours_end: str = "07:00"
    reminder_interval_seconds: float = Field(default=60.0, gt=0)
    reminder_batch: int = Field(default=2000, ge=1)

    @field_validator("staff_ids", "admin_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> list[int]:
        return _parse_ids(value)

    @field_validator(
        "reminder_deadline_days", "reminder_training_hours", "reminder_certificate_days", mode="before"
    )
    @classmethod
    def _offsets(cls, value: object) -> list[int]:
        offsets = _parse_ids(value)
        if any(v <= 0 for v in offsets):
            raise ValueError("offsets are whole numbers above 0, separated by commas (example: 14,3,1)")
        return sorted(set(offsets), reverse=True)

    @field_validator("quiet_hours_start", "quiet_hours_end")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value.strip()):
            raise ValueError(f"'{value}' is not a time of day HH:MM (example: 21:00)")
        return value.strip()

    @field_validator("staff_chat_id", mode="before")
    @classmethod
    def _chat(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone '{value}' (example: Asia/Ho_Chi_Minh)") from None
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        value = value.upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError(f"unknown log level '{value}' (use DEBUG, INFO, WARNING or ERROR)")
        return value

    @field_validator("database_url")
    @classmethod
    def _db(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgres")):
            raise ValueError("only sqlite:///file.db and postgresql://user@host/db are supported")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, value: str) -> str:
        if value and not WEBHOOK_SECRET_RE.fullmatch(value):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str) -> str:
        if value and urlparse(value).scheme not in {"http", "https"}:
            raise ValueError(f"'{value}' is not an http(s) URL (example: https://ocop.example.vn/telegram)")
        return value

    @field_validator("webhook_path", "webhook_health_path")
    @classmethod
    def _path(cls, value: str) -> str:
        if value and not value.startswith("/"):
            raise ValueError(f"'{value}' must start with / (example: /telegram)")
        return value

    @property
    def webhook_local_path(self) -> str:
        """The path PTB's webhook server answers on: WEBHOOK_PATH, else WEBHOOK_URL's path, else /telegram."""
        if self.webhook_path:
            return self.webhook_path
        return urlparse(self.webhook_url).path.rstrip("/") or "/telegram"

    @property
    def staff_set(self) -> frozenset[int]:
        return frozenset(self.staff_ids) | frozenset(self.admin_ids)


def load_settings(**overrides: object) -> Settings:
    """Read the settings; raise ConfigError with one readable line when something is wrong."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]).upper() or "configuration"
        msg = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"Bad configuration: {field}: {msg}") from None
