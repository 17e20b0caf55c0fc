"""Configuration from environment variables and an optional .env file, validated once at start."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parent.parent


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
    contacts_file: Path = PROJECT_DIR / "knowledge" / "data" / "contacts.yaml"
    max_concurrent_updates: int = Field(default=32, ge=1, le=1024)
    flood_max_updates: int = Field(default=20, ge=1)
    flood_window_seconds: float = Field(default=10.0, gt=0)

    @field_validator("staff_ids", "admin_ids", mode="before")
    @classmethod
    def _ids(cls, value: object) -> list[int]:
        return _parse_ids(value)

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
