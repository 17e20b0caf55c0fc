"""Configuration: defaults, parsing of id lists, and one-line errors for bad values."""

from __future__ import annotations

import pytest

from common.config import ConfigError, load_settings
from common.render import Renderer, format_number


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for key in (
        "TELEGRAM_BOT_TOKEN",
        "DATABASE_URL",
        "STAFF_IDS",
        "ADMIN_IDS",
        "STAFF_CHAT_ID",
        "TIMEZONE",
        "LOG_LEVEL",
        "MAX_UPLOAD_MB",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here


def test_defaults() -> None:
    s = load_settings()
    assert s.database_url == "sqlite:///ocop.db"
    assert s.telegram_api_base_url == "https://api.telegram.org/bot"
    assert s.timezone == "Asia/Ho_Chi_Minh"
    assert s.staff_ids == [] and s.staff_chat_id is None


def test_id_lists_and_staff_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STAFF_IDS", "11, 12;13")
    monkeypatch.setenv("ADMIN_IDS", "99")
    monkeypatch.setenv("STAFF_CHAT_ID", "-100123")
    s = load_settings()
    assert s.staff_ids == [11, 12, 13] and s.admin_ids == [99] and s.staff_chat_id == -100123
    assert s.staff_set == {11, 12, 13, 99}


def test_dotenv_file_is_read(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> None:
    with open(".env", "w", encoding="utf-8") as fh:
        fh.write("TELEGRAM_BOT_TOKEN=42:XYZ\nSTAFF_IDS=5\n")
    s = load_settings()
    assert s.telegram_bot_token == "42:XYZ" and s.staff_ids == [5]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("STAFF_IDS", "abc", "STAFF_IDS"),
        ("TIMEZONE", "Mars/Olympus", "TIMEZONE"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
        ("LOG_LEVEL", "LOUD", "LOG_LEVEL"),
        ("STAFF_CHAT_ID", "group", "STAFF_CHAT_ID"),
        ("MAX_UPLOAD_MB", "lots", "MAX_UPLOAD_MB"),
    ],
)
def test_bad_values_give_one_line(
    monkeypatch: pytest.MonkeyPatch, key: str, value: str, expected: str
) -> None:
    monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(f"Bad configuration: {expected}") and "\n" not in message


def test_renderer_escapes_user_text_and_formats_times() -> None:
    from datetime import UTC, datetime

    r = Renderer()
    html = r.render("common/welcome", name="<i>x</i> & y", is_new=True)
    assert "&lt;i&gt;x&lt;/i&gt; &amp; y" in html
    assert r.format_datetime(datetime(2026, 1, 31, 17, 30, tzinfo=UTC)) == "01/02/2026 00:30"
    assert format_number(1234567) == "1.234.567" and format_number(2.5) == "2,5"
