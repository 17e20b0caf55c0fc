"""One asker's words never reach another asker: staff answers and links to a group of similar
questions quote each asker's own question, and user text passed on is measured in UTF-16 units."""

from __future__ import annotations

from common.text import clip, utf16_len
from fakebot.driver import Harness
from tests.conftest import STAFF_CHAT_ID, STAFF_ID

NAMED = "em là Nguyễn Văn Tám, sản phẩm ocop có được ưu tiên vào bếp ăn trường học không"
PLAIN = "san pham ocop co duoc uu tien vao bep an truong hoc ko"


async def _two_askers_in_one_group(bot: Harness):
    tam, binh = bot.user(301, "Tám"), bot.user(302, "Bình")
    await tam.send(NAMED)
    await binh.send(PLAIN)
    staff = bot.user(STAFF_ID, "Cán bộ")
    inbox = (await staff.send("/cauhoi"))[-1]
    assert "2 lượt hỏi" in inbox.text and "2 người" in inbox.text, inbox.text
    return tam, binh, staff


async def test_group_answer_quotes_each_asker_own_words_only(bot: Harness) -> None:
    tam, binh, staff = await _two_askers_in_one_group(bot)
    await staff.press("💬 Trả lời 1")
    await staff.send("Bếp ăn trường học: anh/chị hỏi Phòng Kinh tế của xã về chương trình kết nối tiêu thụ.")
    assert "Đã gửi câu trả lời cho 2 người" in staff.last.text
    assert NAMED in tam.last.text and "Phòng Kinh tế" in tam.last.text
    assert "Phòng Kinh tế" in binh.last.text and PLAIN in binh.last.text
    for message in binh.messages:
        assert "Nguyễn Văn Tám" not in message.text and "Xuân Mai" not in message.text
    assert PLAIN not in tam.last.text


async def test_group_link_quotes_each_asker_own_words_only(bot: Harness) -> None:
    tam, binh, staff = await _two_askers_in_one_group(bot)
    await staff.press("🔗 Gắn mục 1")
    await staff.send("ocop-la-gi")
    assert "Đã gắn nhóm vào mục" in staff.last.text
    assert "Cán bộ đã tìm câu trả lời" in binh.last.text and PLAIN in binh.last.text
    assert "Cán bộ đã tìm câu trả lời" in tam.last.text and NAMED in tam.last.text
    for message in binh.messages:
        assert "Nguyễn Văn Tám" not in message.text
    assert PLAIN not in tam.last.text


def test_clip_counts_utf16_units() -> None:
    bees = "🐝" * 10
    assert utf16_len(bees) == 20 and utf16_len("Tám") == 3
    assert clip(bees, 20) == bees
    clipped = clip(bees, 9)
    assert clipped == "🐝" * 4 + "…" and utf16_len(clipped) == 9
    assert clip("Tám 🐝🐝", 5) == "Tám…"


async def test_a_question_of_emoji_is_clipped_by_utf16_units_for_the_staff(bot: Harness) -> None:
    lan = bot.user(303, "Lan 🐝")
    await lan.send("/lienhe")
    await lan.press("✍️ Gửi câu hỏi cho cán bộ")
    question = "🐝" * 2040  # 2,040 characters but 4,080 UTF-16 units: the most Telegram lets a user send
    await lan.send(question)
    forwarded = bot.fake.bot_messages(STAFF_CHAT_ID)[-1]
    assert "🐝" * 1000 in forwarded.text and question not in forwarded.text
    assert utf16_len(forwarded.text) <= 4096
    assert "Đã chuyển câu hỏi" in lan.last.text
    staff = bot.user(STAFF_ID, "Cán bộ")
    await staff.press("✍️ Trả lời", message=forwarded)
    assert "🐝" in staff.last.text


async def test_a_question_that_reaches_no_staff_is_not_called_sent(bot: Harness) -> None:
    """The bot was removed from the staff chat: the producer is told the truth and given contacts."""
    bot.fake.blocked_chats.add(STAFF_CHAT_ID)
    lan = bot.user(251, "Lan")
    await lan.send("/lienhe")
    await lan.press("✍️ Gửi câu hỏi cho cán bộ")
    reply = (await lan.send("Cho em hỏi lịch tập huấn"))[-1]
    assert "chưa chuyển được" in reply.text and "Đã chuyển" not in reply.text


async def test_a_staff_reply_that_cannot_be_delivered_is_not_called_sent(bot: Harness) -> None:
    lan = bot.user(252, "Lan")
    await lan.send("/lienhe")
    await lan.press("✍️ Gửi câu hỏi cho cán bộ")
    await lan.send("Cho em hỏi lịch tập huấn")
    forwarded = bot.fake.bot_messages(STAFF_CHAT_ID)[-1]
    bot.fake.blocked_chats.add(252)  # the producer blocked the bot meanwhile
    staff = bot.user(STAFF_ID, "Cán bộ")
    await staff.send("Ngày 15/12.", chat_id=STAFF_CHAT_ID, reply_to=forwarded.message_id)
    last = bot.fake.bot_messages(STAFF_CHAT_ID)[-1].text
    assert "Chưa gửi được" in last and "Đã gửi" not in last
    user = await bot.app.bot_data["ctx"].users.get(252)
    assert user is not None and user.blocked
