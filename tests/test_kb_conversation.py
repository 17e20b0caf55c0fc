"""Question answering, feedback, the staff relay and inbox, and the eligibility check, through the fake
Bot API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from fakebot.driver import Harness
from handlers.knowledge import result_reply
from knowledge.service import UNNAMED_SUBJECT, AskResult
from tests.conftest import STAFF_CHAT_ID, STAFF_ID

ROOT = Path(__file__).resolve().parent.parent


async def test_question_with_and_without_diacritics_gets_the_same_sourced_answer(bot: Harness) -> None:
    lan = bot.user(201, "Lan")
    accented = (await lan.send("Chương trình OCOP là gì vậy ạ?"))[-1]
    folded = (await lan.send("chuong trinh ocop la gi"))[-1]
    assert accented.text.splitlines()[0] == folded.text.splitlines()[0]
    assert "Nguồn:" in accented.text and "Căn cứ:" in accented.text
    assert accented.labels[:3] == ["👍 Hữu ích", "👎 Chưa đúng", "🙋 Hỏi cán bộ"]


async def test_abbreviations_are_understood(bot: Harness) -> None:
    lan = bot.user(202, "Lan")
    reply = (await lan.send("hkd co dc tham gia ocop ko a"))[-1]
    assert "👍 Hữu ích" in reply.labels, reply.text


async def test_out_of_scope_question_is_not_answered_and_can_go_to_staff(bot: Harness) -> None:
    lan = bot.user(203, "Lan")
    reply = (await lan.send("ngày mai Hà Nội có mưa không"))[-1]
    assert "chưa có câu trả lời" in reply.text
    # Recognised as another subject: named, with where to ask instead, and kept out of the staff inbox.
    assert "Thời tiết" in reply.text and "ngoài chương trình OCOP" in reply.text
    knowledge = bot.app.bot_data["ctx"].knowledge
    assert (await knowledge.last_question(203)).outcome == "out_of_scope"
    assert "📨 Chuyển cho cán bộ" in reply.labels
    await lan.press("📨 Chuyển cho cán bộ")
    staff_msgs = bot.fake.bot_messages(STAFF_CHAT_ID)
    assert staff_msgs and "ngày mai Hà Nội có mưa không" in staff_msgs[-1].text
    assert "Lan" in staff_msgs[-1].text and staff_msgs[-1].labels == ["✍️ Trả lời"]
    assert "Đã chuyển câu hỏi" in lan.last.text


async def test_out_of_scope_replies_name_the_topic_only_when_known(bot: Harness) -> None:
    lan = bot.user(211, "Lan")
    reply = (await lan.send("làm sổ đỏ cho mảnh đất ao cần giấy tờ gì"))[-1]
    assert "Đất đai" in reply.text and "Trung tâm Phục vụ hành chính công" in reply.text
    staff = bot.user(STAFF_ID, "Cán bộ")
    assert "Không có câu hỏi nào" in (await staff.send("/cauhoi"))[-1].text  # not a knowledge gap
    ctx = bot.app.bot_data["ctx"]
    unnamed = AskResult(7, "out_of_scope", 0.2, None, [], UNNAMED_SUBJECT)
    text = result_reply(ctx, unnamed).html
    assert "nằm ngoài chương trình OCOP" in text and "chủ đề" not in text and "nên hỏi" not in text


async def test_greetings_and_thanks_get_an_invitation_to_ask(bot: Harness) -> None:
    lan = bot.user(213, "Lan")
    for text in ("alo", "Cảm ơn bot nhé!", "chào anh chị ạ"):
        reply = (await lan.send(text))[-1]
        assert "cần hỏi gì về OCOP" in reply.text and "chưa có câu trả lời" not in reply.text, text
    knowledge = bot.app.bot_data["ctx"].knowledge
    assert (await knowledge.last_question(213)).outcome == "small_talk"
    staff = bot.user(STAFF_ID, "Cán bộ")
    inbox = (await staff.send("/cauhoi"))[-1]
    assert "Không có câu hỏi nào" in inbox.text and "ngoài phạm vi" not in inbox.text
    # A thank-you in front of a question does not hide it.
    reply = (await lan.send("cám ơn, cho hỏi hồ sơ ocop gồm những gì"))[-1]
    assert "👍 Hữu ích" in reply.labels


async def test_staff_look_through_declined_questions_and_put_one_back_in_the_inbox(bot: Harness) -> None:
    lan = bot.user(212, "Lan")
    await lan.send("làm sổ đỏ cho mảnh đất ao cần giấy tờ gì")
    await lan.send("mai trời có mưa không")
    staff = bot.user(STAFF_ID, "Cán bộ")
    inbox = (await staff.send("/cauhoi"))[-1]
    assert "2 câu hỏi trong 7 ngày qua" in inbox.text and "🚫 Xem 2 câu ngoài phạm vi" in inbox.labels
    listing = (await staff.press("🚫 Xem 2 câu ngoài phạm vi"))[-1]
    assert listing.text.index("mai trời có mưa") < listing.text.index("sổ đỏ")  # newest first
    await staff.press("↩️ Đưa câu 2 vào hộp thư")  # the land question: staff judge it is theirs
    assert "Đã đưa câu hỏi vào hộp thư" in staff.last.text
    await staff.press_data(listing.buttons[1][0]["callback_data"])  # the same button again changes nothing
    assert "đã được xử lý rồi" in staff.last.text
    inbox = (await staff.send("/cauhoi"))[-1]
    assert "sổ đỏ" in inbox.text and "1 câu hỏi trong 7 ngày qua" in inbox.text
    # Forged and non-staff presses.
    assert "đã được xử lý rồi" in (await staff.press_data("sd:dr:999999"))[-1].text
    await staff.press_data("sd:dr:x")
    assert "Nút này đã cũ" in (await lan.press_data("sd:dl"))[-1].text
    assert "Nút này đã cũ" in (await lan.press_data(listing.buttons[0][0]["callback_data"]))[-1].text
    # A week later the declined question no longer shows.
    bot.app.bot_data["ctx"].clock.advance(days=8)
    inbox = (await staff.send("/cauhoi"))[-1]
    assert "ngoài phạm vi" not in inbox.text and not any("ngoài phạm vi" in label for label in inbox.labels)


async def test_feedback_is_stored_once_and_thumbs_down_reaches_the_staff_inbox(bot: Harness) -> None:
    lan = bot.user(204, "Lan")
    await lan.send("chứng nhận OCOP có thời hạn bao lâu")
    await lan.press("👍 Hữu ích")
    assert lan.alerts[-1] == "Cảm ơn anh/chị đã góp ý!"
    await lan.press("👍 Hữu ích")
    assert lan.alerts[-1] == "Anh/chị đã góp ý rồi, cảm ơn!"
    await lan.press("👎 Chưa đúng")
    assert "cán bộ" in lan.last.text
    staff = bot.user(STAFF_ID, "Cán bộ Hùng")
    inbox = (await staff.send("/cauhoi"))[-1]
    assert "chứng nhận OCOP có thời hạn bao lâu" in inbox.text


async def test_forged_feedback_on_someone_elses_question_changes_nothing(bot: Harness) -> None:
    lan = bot.user(205, "Lan")
    answer = (await lan.send("OCOP là gì"))[-1]
    up = next(b["callback_data"] for row in answer.buttons for b in row if b["text"] == "👎 Chưa đúng")
    mallory = bot.user(206, "Mallory")
    await mallory.send("/start")
    replies = await mallory.press_data(up, message=answer)
    assert "không hợp lệ" in replies[-1].text
    staff = bot.user(STAFF_ID, "Cán bộ")
    assert "Không có câu hỏi nào" in (await staff.send("/cauhoi"))[-1].text


async def test_staff_reply_reaches_user_and_follow_up_reaches_staff(bot: Harness) -> None:
    lan = bot.user(207, "Lan")
    await lan.send("/lienhe")
    await lan.press("✍️ Gửi câu hỏi cho cán bộ")
    await lan.send("Cho em hỏi lịch tập huấn OCOP tháng sau ở đâu?")
    forwarded = bot.fake.bot_messages(STAFF_CHAT_ID)[-1]
    assert "lịch tập huấn" in forwarded.text
    staff = bot.user(STAFF_ID, "Cán bộ Hùng")
    await staff.send(
        "Tập huấn ngày 15/12 tại UBND xã Phú Nghĩa.", chat_id=STAFF_CHAT_ID, reply_to=forwarded.message_id
    )
    assert "Tập huấn ngày 15/12" in lan.last.text and "Cán bộ trả lời" in lan.last.text
    assert "Đã gửi câu trả lời" in bot.fake.bot_messages(STAFF_CHAT_ID)[-1].text
    await lan.press("↩️ Hỏi thêm")
    await lan.send("Có cần mang mẫu sản phẩm không ạ?")
    followup = staff.messages[-1]  # the staff member who answered gets the follow-up privately
    assert "hỏi thêm" in followup.text and "mang mẫu" in followup.text
    await staff.press("✍️ Trả lời", message=followup)
    await staff.send("Có, mang 5 mẫu.")
    assert "mang 5 mẫu" in lan.last.text
    await lan.press("✅ Đã rõ, cảm ơn")
    assert "Cảm ơn" in lan.last.text


async def test_staff_group_chatter_is_ignored(bot: Harness) -> None:
    staff = bot.user(STAFF_ID, "Cán bộ")
    replies = await staff.send("chào cả nhóm", chat_id=STAFF_CHAT_ID)
    assert replies == []


async def test_non_staff_cannot_use_staff_commands_or_buttons(bot: Harness) -> None:
    """Staff tools are not revealed: a staff command gets exactly the unknown-command reply."""
    lan = bot.user(208, "Lan")
    unknown = (await lan.send("/khongco"))[-1].text
    for command in ("/cauhoi", "/napkb"):
        reply = (await lan.send(command))[-1].text
        assert reply == unknown.replace("/khongco", command)
    await lan.send("/start")
    assert "Nút này đã cũ" in (await lan.press_data("sd:ga:1"))[-1].text
    assert "Nút này đã cũ" in (await lan.press_data("sd:rp:1"))[-1].text


async def test_staff_answers_a_group_and_every_asker_is_told(bot: Harness) -> None:
    a, b = bot.user(209, "An"), bot.user(210, "Bình")
    await a.send("sản phẩm ocop có được ưu tiên vào bếp ăn trường học không")
    await b.send("san pham ocop co duoc uu tien vao bep an truong hoc ko")
    staff = bot.user(STAFF_ID, "Cán bộ")
    inbox = (await staff.send("/cauhoi"))[-1]
    assert "2 lượt hỏi" in inbox.text and "2 người" in inbox.text
    await staff.press("💬 Trả lời 1")
    await staff.send("Bếp ăn trường học: anh/chị hỏi Phòng Kinh tế của xã về chương trình kết nối tiêu thụ.")
    assert "Đã gửi câu trả lời cho 2 người" in staff.last.text
    assert "Phòng Kinh tế" in a.last.text and "Phòng Kinh tế" in b.last.text
    assert "Không có câu hỏi nào" in (await staff.send("/cauhoi"))[-1].text


async def test_staff_links_a_group_to_an_entry_and_the_bot_learns_it(bot: Harness) -> None:
    a = bot.user(211, "An")
    question = "bên mình có được hỗ trợ làm tem QR cho sản phẩm không"
    first = (await a.send(question))[-1]
    staff = bot.user(STAFF_ID, "Cán bộ")
    if "👍 Hữu ích" in first.labels:  # already answered: mark it wrong so it reaches the inbox
        await a.press("👎 Chưa đúng", message=first)
    await staff.send("/cauhoi")
    await staff.press("🔗 Gắn mục 1")
    await staff.send("ocop-la-gi")
    assert "Đã gắn nhóm vào mục" in staff.last.text
    assert "Cán bộ đã tìm câu trả lời" in a.last.text
    again = (await bot.user(212, "Chi").send(question))[-1]
    assert "👍 Hữu ích" in again.labels
    assert again.text.splitlines()[0] == a.last.text.split("\n\n")[1].splitlines()[0]


async def test_staff_reload_kb(bot: Harness) -> None:
    staff = bot.user(STAFF_ID, "Cán bộ")
    reply = (await staff.send("/napkb"))[-1]
    assert "Đã nạp lại kho kiến thức" in reply.text


async def test_eligibility_check_to_a_verdict_with_back_and_typed_text(bot: Harness) -> None:
    lan = bot.user(213, "Lan")
    await lan.send("/dieukien")
    first = lan.last
    assert "câu 1" in first.text and first.buttons
    await lan.press(first.labels[0])
    second = lan.last
    assert "câu 2" in second.text
    await lan.press("⬅️ Quay lại")
    assert "câu 1" in lan.last.text
    await lan.send("em không biết")
    assert "chọn một câu trả lời" in lan.messages[-2].text
    for _ in range(15):
        msg = lan.last
        if "Bắt đầu đăng ký" in " ".join(msg.labels) or "Làm lại" in " ".join(msg.labels):
            break
        await lan.press(msg.labels[0])
    verdict = lan.last
    assert any(word in verdict.text for word in ("có thể đăng ký", "chưa thể tham gia"))
    assert "🔄 Làm lại" in verdict.labels


async def test_unregistered_household_is_told_what_to_fix_with_its_rule(bot: Harness) -> None:
    lan = bot.user(214, "Lan")
    await lan.send("/dieukien")
    await lan.press("Cá nhân / hộ gia đình chưa đăng ký kinh doanh")
    for _ in range(15):
        msg = lan.last
        if "🔄 Làm lại" in msg.labels:
            break
        await lan.press(msg.labels[0])
    assert "Đăng ký hộ kinh doanh" in lan.last.text and "Căn cứ:" in lan.last.text


async def test_forged_eligibility_buttons(bot: Harness) -> None:
    lan = bot.user(215, "Lan")
    await lan.send("/start")
    for data in ["el:producer:htx", "el:zzz:1", "el:back"]:
        assert "không hợp lệ" in (await lan.press_data(data))[-1].text
    await lan.send("/dieukien")
    assert "không hợp lệ" in (await lan.press_data("el:producer:nope"))[-1].text


def test_ask_json_prints_one_line_per_question(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    questions = "OCOP là gì\nhom nay troi co mua khong\nho so ocop gom nhung gi\n"
    result = subprocess.run(
        [sys.executable, str(ROOT / "bot.py"), "ask", "--json"],
        input=questions,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [x["question"] for x in lines] == [
        "OCOP là gì",
        "hom nay troi co mua khong",
        "ho so ocop gom nhung gi",
    ]
    assert lines[0]["answered"] is True and lines[0]["entry"] == "ocop-la-gi"
    assert lines[1]["answered"] is False and lines[1]["entry"] is None
    assert [x["outcome"] for x in lines] == ["answered", "out_of_scope", "answered"]
    assert all(set(x) >= {"question", "answered", "outcome", "entry", "text"} for x in lines)
    assert not list(tmp_path.glob("*.db"))  # ask does not touch a real database


async def test_a_very_long_question_still_reaches_the_staff_and_the_answer_comes_back(bot: Harness) -> None:
    lan = bot.user(216, "Lan")
    await lan.send("/lienhe")
    await lan.press("✍️ Gửi câu hỏi cho cán bộ")
    story = "Nhà em làm mật ong ở Phú Nghĩa 🐝 " * 120  # ~3,960 characters, under the 4,000 limit
    await lan.send(story)
    forwarded = bot.fake.bot_messages(STAFF_CHAT_ID)[-1]
    assert "Nhà em làm mật ong" in forwarded.text
    staff = bot.user(STAFF_ID, "Cán bộ")
    await staff.send("Trả lời dài. " * 300, chat_id=STAFF_CHAT_ID, reply_to=forwarded.message_id)
    assert "Trả lời dài." in lan.last.text
