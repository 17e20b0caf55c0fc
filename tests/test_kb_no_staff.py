"""Questions passed to staff always wait in the staff inbox; with no staff configured the bot warns at
start and tells the asker honestly that nobody is there to answer, with the commune contacts."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from common.config import Settings
from fakebot.driver import Harness
from fakebot.session import start_session
from knowledge.relay import warn_if_unstaffed
from storage.db import Database
from tests.conftest import STAFF_CHAT_ID, STAFF_ID


@pytest.fixture
def unstaffed(tmp_path: Path, database: Database) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        telegram_bot_token="123456:TEST",
        database_url=database.url,
        storage_dir=tmp_path / "files",
    )


def test_a_start_without_staff_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="knowledge.relay"):
        assert warn_if_unstaffed([], None) is True
    assert "No staff configured" in caplog.text
    assert warn_if_unstaffed([5], None) is False
    assert warn_if_unstaffed([], -100) is False


async def test_a_question_written_to_staff_also_waits_in_the_inbox(bot: Harness) -> None:
    lan = bot.user(401, "Lan")
    await lan.send("/lienhe")
    await lan.press("✍️ Gửi câu hỏi cho cán bộ")
    await lan.send("Cho em hỏi lịch tập huấn OCOP tháng sau ở đâu?")
    assert "lịch tập huấn" in bot.fake.bot_messages(STAFF_CHAT_ID)[-1].text
    assert "Đã chuyển câu hỏi" in lan.last.text
    staff = bot.user(STAFF_ID, "Cán bộ")
    assert "lịch tập huấn" in (await staff.send("/cauhoi"))[-1].text


async def test_without_staff_the_asker_is_told_nobody_will_answer_and_given_the_contacts(
    bot: Harness, unstaffed: Settings
) -> None:
    harness, ctx = await start_session(unstaffed, clock=bot.app.bot_data["ctx"].clock, db=ctx_db(bot))
    try:
        lan = harness.user(402, "Lan")
        await lan.send("/lienhe")
        await lan.press("✍️ Gửi câu hỏi cho cán bộ")
        await lan.send("Xã tôi bao giờ có lớp tập huấn OCOP?")
        text = lan.last.text
        assert "Đã chuyển" not in text and "cán bộ sẽ trả lời" not in text.lower()
        assert "chưa có cán bộ nào trực" in text and "liên hệ trực tiếp" in text
        assert "UBND" in text or "☎️" in text or "Trung tâm" in text
        # "Hỏi cán bộ" under an answer: the same honest reply, and the question is in the inbox.
        answer = (await lan.send("OCOP là gì"))[-1]
        await lan.press("🙋 Hỏi cán bộ", message=answer)
        assert "chưa có cán bộ nào trực" in lan.last.text
        groups = await ctx.inbox.groups()
        texts = {g.representative for g in groups}
        assert "Xã tôi bao giờ có lớp tập huấn OCOP?" in texts and "OCOP là gì" in texts
    finally:
        harness.app.bot_data["ctx"].db = ctx_db(bot)
        await harness.app.shutdown()


def ctx_db(bot: Harness) -> Database:
    return bot.app.bot_data["ctx"].db


async def test_the_bot_warns_at_start_when_no_staff_is_configured(
    settings: Settings, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    unstaffed = settings.model_copy(update={"staff_ids": [], "admin_ids": [], "staff_chat_id": None})
    harness, _ctx = await start_session(unstaffed, db=database)
    try:
        assert any("No staff configured" in r.getMessage() for r in caplog.records)
    finally:
        harness.app.bot_data["ctx"].db = database
        await harness.app.shutdown()
