"""Conversation tests of the basics through the fake Bot API: /start, menu, help, media, errors."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from telegram.ext import CommandHandler

from fakebot.driver import HandlerFailed, Harness
from storage.models import User
from tests.conftest import STAFF_ID

MENU = [
    "❓ Hỏi đáp OCOP",
    "✅ Kiểm tra điều kiện",
    "📝 Đăng ký hồ sơ",
    "📂 Hồ sơ của tôi",
    "📅 Lịch & sự kiện",
    "☎️ Liên hệ cán bộ",
]


async def test_start_new_user_greets_by_name_and_shows_menu(bot: Harness) -> None:
    lan = bot.user(101, "Lan", username="lan_htx")
    replies = await lan.send("/start")
    assert len(replies) == 1
    assert "Xin chào Lan" in replies[0].text
    assert replies[0].labels == MENU
    async with bot.app.bot_data["ctx"].db.session() as s:
        user = (await s.scalars(select(User).where(User.id == 101))).one()
    assert user.full_name == "Lan" and user.username == "lan_htx" and user.role == "producer"


async def test_start_returning_user_is_welcomed_back(bot: Harness) -> None:
    lan = bot.user(101, "Lan")
    await lan.send("/start")
    replies = await lan.send("/start")
    assert "quay lại" in replies[0].text
    assert "Xin chào" not in replies[0].text


async def test_every_menu_button_answers(bot: Harness) -> None:
    lan = bot.user(101, "Lan")
    await lan.send("/start")
    for label in MENU:
        await lan.send("/menu")
        replies = await lan.press(label)
        assert replies, f"{label} gave no answer"
        assert all(m.text.strip() for m in replies)
    assert all(a.get("callback_query_id") for a in bot.fake.callback_answers)


async def test_deep_link_payload_is_stored_and_unknown_payload_still_greets(bot: Harness) -> None:
    lan = bot.user(102, "Hoa")
    replies = await lan.send("/start zalo_campaign")
    assert "Xin chào Hoa" in replies[0].text
    user = await bot.app.bot_data["ctx"].users.get(102)
    assert user is not None and user.start_payload == "zalo_campaign"


async def test_forged_start_payload_is_ignored_safely(bot: Harness) -> None:
    lan = bot.user(103, "Minh")
    replies = await lan.send("/start <b>x</b>&" + "a" * 100)
    assert "Xin chào Minh" in replies[0].text
    user = await bot.app.bot_data["ctx"].users.get(103)
    assert user is not None and user.start_payload is None


async def test_help_lists_commands_and_staff_sees_staff_commands(bot: Harness) -> None:
    producer = bot.user(104, "Tú")
    text = (await producer.send("/help"))[0].text
    assert "/hoso" in text and "/cauhoi" not in text
    assert "/hoso" in (await producer.send("/trogiup"))[0].text
    staff = bot.user(STAFF_ID, "Cán bộ")
    assert "/cauhoi" in (await staff.send("/trogiup"))[0].text


async def test_unknown_command_gets_polite_answer(bot: Harness) -> None:
    lan = bot.user(105, "Lan")
    replies = await lan.send("/khongco abc")
    assert "/khongco" in replies[0].text and "/trogiup" in replies[0].text


@pytest.mark.parametrize("kind", ["sticker", "voice", "location", "contact"])
async def test_unexpected_media_gets_polite_answer(bot: Harness, kind: str) -> None:
    lan = bot.user(106, "Lan")
    replies = await getattr(lan, f"send_{kind}")()
    assert len(replies) == 1 and "chưa xử lý được" in replies[0].text


async def test_unexpected_photo_outside_a_flow(bot: Harness) -> None:
    lan = bot.user(107, "Lan")
    replies = await lan.send_photo()
    assert "ảnh" in replies[0].text


async def test_html_in_name_is_escaped(bot: Harness) -> None:
    evil = bot.user(108, "<b>Bà</b> & <script>")
    replies = await evil.send("/start")
    assert "<b>Bà</b> & <script>" in replies[0].text  # shown literally
    assert "&lt;script&gt;" in (replies[0].html or "")


async def test_forged_callback_data_changes_nothing(bot: Harness) -> None:
    lan = bot.user(109, "Lan")
    await lan.send("/start")
    for data in ["zzz", "m:doesnotexist", "m:", "x" * 64, "dos:a:999999:0", "kb:fb:1:up"]:
        replies = await lan.press_data(data)
        assert any(w in replies[-1].text for w in ("không hợp lệ", "Không tìm thấy")), data
    user = await bot.app.bot_data["ctx"].users.get(109)
    assert user is not None and user.flow is None


def break_menu_command(bot: Harness) -> None:
    """Make the /menu handler raise, as a bug in any handler would."""

    async def boom(update: object, context: object) -> None:
        raise RuntimeError("boom")

    handler = next(h for h in bot.app.handlers[0] if isinstance(h, CommandHandler) and "menu" in h.commands)
    handler.callback = boom


async def test_failing_handler_reaches_error_handler_and_user_gets_apology(bot: Harness) -> None:
    lan = bot.user(110, "Lan")
    await lan.send("/start")
    break_menu_command(bot)
    with bot.expect_error() as errors:
        replies = await lan.send("/menu")
    assert errors and isinstance(errors[0], RuntimeError)
    assert "Xin lỗi" in replies[-1].text


async def test_unexpected_handler_error_fails_the_test_step(bot: Harness) -> None:
    break_menu_command(bot)
    with pytest.raises(HandlerFailed):
        await bot.user(111, "Lan").send("/menu")


async def test_long_message_is_refused_politely(bot: Harness) -> None:
    lan = bot.user(112, "Lan")
    replies = await lan.send("a" * 5000)
    assert "dài quá" in replies[0].text


async def test_commands_are_registered_in_vietnamese_with_staff_scope(bot: Harness) -> None:
    scopes = {json.loads(k)["type"]: v for k, v in bot.fake.commands.items()}
    names = [c["command"] for c in scopes["default"]]
    assert "hoso" in names and "cauhoi" not in names
    staff = next(v for k, v in bot.fake.commands.items() if str(STAFF_ID) in k)
    assert "cauhoi" in [c["command"] for c in staff]
    assert all(c["description"] for c in scopes["default"])


async def test_cancel_leaves_flow(bot: Harness) -> None:
    lan = bot.user(113, "Lan")
    await lan.send("/start")
    assert "không có việc" in (await lan.send("/huy"))[0].text
