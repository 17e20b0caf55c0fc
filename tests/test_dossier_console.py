"""The console (`python bot.py console`) saves the files the bot sends and shows messages meant for other
users as such."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from fakebot.console import Console
from fakebot.core import SentMessage


def console(tmp_path: Path) -> Console:
    user: Any = SimpleNamespace(id=501)
    harness: Any = None  # show() only prints
    return Console(harness, user, color=False, files_dir=tmp_path / "console")


async def test_a_pdf_the_bot_sends_is_saved_and_its_path_printed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = console(tmp_path)
    pdf = {
        "file_name": "phieu-dang-ky-OCOP-2026-0001.pdf",
        "content": b"%PDF-1.4 x",
        "mime_type": "application/pdf",
    }
    await c.show([SentMessage(501, 1, True, "Phiếu đăng ký", document=pdf)])
    await c.show([SentMessage(501, 2, True, "Phiếu đăng ký", document=pdf)])  # sent again: a second file
    first = tmp_path / "console" / "phieu-dang-ky-OCOP-2026-0001.pdf"
    second = tmp_path / "console" / "phieu-dang-ky-OCOP-2026-0001-2.pdf"
    assert first.read_bytes() == b"%PDF-1.4 x" and second.exists()
    out = capsys.readouterr().out
    assert str(first.resolve()) in out and str(second.resolve()) in out


async def test_a_message_to_another_user_is_shown_as_going_to_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = console(tmp_path)
    to_producer = SentMessage(
        777, 3, True, "Trả lời từ cán bộ: ...", buttons=[[{"text": "👍 Đã rõ", "callback_data": "x"}]]
    )
    mine = SentMessage(501, 4, True, "Đã gửi câu trả lời.", buttons=[[{"text": "OK", "callback_data": "y"}]])
    await c.show([to_producer, mine])
    out = capsys.readouterr().out
    assert "gửi tới người dùng 777" in out and "Trả lời từ cán bộ" in out
    assert "👍 Đã rõ" not in out  # the other user's button is not offered here
    assert [label for label, _m in c.buttons] == ["OK"]


async def test_a_photo_the_bot_sends_is_saved_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    c = console(tmp_path)
    png = b"\x89PNG\r\n\x1a\n rest"
    await c.show([SentMessage(501, 5, True, "Ảnh nhãn", photo={"file_unique_id": "u42", "content": png})])
    saved = tmp_path / "console" / "anh-u42.png"
    assert saved.read_bytes() == png
    assert str(saved.resolve()) in capsys.readouterr().out


async def test_what_the_bot_sent_meanwhile_is_shown_at_the_next_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    c = console(tmp_path)
    log = [SentMessage(777, 9, True, "Nhắc lịch: hạn nộp hồ sơ 30/06"), SentMessage(501, 10, False, "hi")]
    c.h = SimpleNamespace(fake=SimpleNamespace(log=log))  # type: ignore[assignment]
    await c.show_pending()  # e.g. the outbox worker's message to another user
    out = capsys.readouterr().out
    assert "gửi tới người dùng 777" in out and "Nhắc lịch" in out and "hi" not in out
    await c.show_pending()
    assert capsys.readouterr().out == ""  # shown once
