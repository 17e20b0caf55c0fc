"""/thongbao and /caidat through the real Application and the fake Bot API: non-staff get the unknown-command
reply; an officer composes formatted text, picks communes by old names, previews the message exactly as
producers get it, sends it and watches the one progress message become the report; a producer stops the
topic with the button under it and sees it in /caidat; scheduling and its mistakes; a scoped officer."""

from __future__ import annotations

from typing import Any

from common.clock import FakeClock
from common.text import visible_text
from fakebot.driver import FakeUser, Harness
from handlers.outbox_sender import TelegramSender
from storage.models import Role
from storage.outbox_models import Broadcast
from tests.conftest import ADMIN_ID, STAFF_ID, STALE


async def send_formatted(user: FakeUser, text: str, entities: list[dict[str, Any]]) -> None:
    await user.h.process(user._message(text=text, entities=entities))


async def deliver(bot: Harness, clock: FakeClock, broadcast_id: int) -> Broadcast:
    """Run the outbox worker and the broadcast runner on the fake clock until the report is shown."""
    ctx = bot.app.bot_data["ctx"]

    async def sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)

    port = TelegramSender(bot.app.bot)
    worker = ctx.outbox.worker(port, sleep=sleep)
    runner = ctx.broadcasts.runner(port, sleep=sleep)
    for _ in range(60):
        await runner.tick()
        await worker.run_until_drained()
        clock.advance(seconds=6)
        async with ctx.db.session() as s:
            b = await s.get(Broadcast, broadcast_id)
        if b.reported_at is not None and b.csv_sent_at is not None:
            return b
    raise AssertionError("the broadcast did not finish")


async def test_non_staff_get_the_unknown_command_reply(bot: Harness) -> None:
    lan = bot.user(101, "Lan")
    await lan.send("/start")
    await lan.send("/lenhla")
    unknown = lan.last.text.replace("/lenhla", "/thongbao")
    await lan.send("/thongbao")
    assert lan.last.text == unknown
    await lan.press_data("bc:p:1")
    assert lan.last.text == STALE


async def test_compose_preview_send_and_the_report(bot: Harness, clock: FakeClock) -> None:
    officer = bot.user(STAFF_ID, "Hà")
    producers = [bot.user(101, "Lan"), bot.user(102, "Minh"), bot.user(103, "Tú"), bot.user(104, "Hoa")]
    for p in producers:
        await p.send("/start")
    # Lan, Minh and Hoa live in the old commune Tốt Động (today's Quảng Bị); Tú in Xuân Mai.
    for p, commune in zip(producers, ("Tốt Động", "Tốt Động", "Thủy Xuân Tiên", "Tốt Động"), strict=True):
        await p.send("/caidat")
        await p.press("📍 Đổi xã/phường")
        await p.send(commune)
    assert "Quảng Bị" in producers[0].messages[-2].text and "Tốt Động" in producers[0].messages[-2].text

    await officer.send("/thongbao")
    assert "Chưa có thông báo nào" in officer.last.text
    await officer.press("✍️ Soạn thông báo mới")
    text = "Họp bàn OCOP lúc 8 giờ tại nhà văn hóa"
    # Forwarded from someone else, with its formatting (entities): kept as HTML.
    forwarded = {"type": "hidden_user", "sender_user_name": "Phòng Kinh tế", "date": 0}
    await officer.h.process(
        officer._message(
            text=text, entities=[{"type": "bold", "offset": 0, "length": 12}], forward_origin=forwarded
        )
    )
    assert "4 người sẽ nhận" in officer.last.text
    await officer.press("📍 Theo xã/phường")
    await officer.send("Tốt Động")  # an old name, understood
    assert "xã/phường Quảng Bị" in officer.last.text and "3 người sẽ nhận" in officer.last.text
    await officer.press("👁 Xem trước")
    preview, summary = officer.messages[-2:]
    assert preview.html is not None and preview.html.startswith("📢 <b>Thông báo từ Hà</b>")
    assert "<b>Họp bàn OCOP</b> lúc 8 giờ" in preview.html and preview.labels == [
        "🔕 Không nhận loại tin này"
    ]
    assert "Sẽ gửi tới 3 người" in summary.text
    await officer.press("✅ Gửi ngay")
    assert summary.edits == 1 and summary.text.startswith("📤 Đang gửi thông báo #1")
    assert summary.labels == ["⏸ Tạm dừng", "⏹ Hủy"]
    await officer.press("⏸ Tạm dừng")
    assert officer.alerts[-1] == "Đã tạm dừng."
    ctx = bot.app.bot_data["ctx"]
    clock.advance(seconds=2)
    await ctx.broadcasts.runner(TelegramSender(bot.app.bot)).tick()  # the runner shows it, not the handler
    assert summary.text.startswith("⏸ Thông báo #1 đang tạm dừng") and summary.labels[0] == "▶️ Tiếp tục"
    await officer.press("▶️ Tiếp tục")
    bot.fake.blocked_chats.add(104)  # Hoa blocks the bot meanwhile

    b = await deliver(bot, clock, 1)
    assert b.state == "done"
    assert summary.text.startswith("✅ Đã gửi xong thông báo #1") and "Đã nhận: 2" in summary.text
    assert "Không liên lạc được: 1" in summary.text and summary.labels == ["📄 Danh sách chưa nhận (CSV)"]
    document = officer.messages[-1].document
    assert document is not None and document["file_name"] == "thongbao-1-loi.csv"
    assert b"104,Hoa" in document["content"]
    await officer.press("📄 Danh sách chưa nhận (CSV)", message=summary)
    assert officer.last.document is not None and b"104,Hoa" in officer.last.document["content"]
    got = producers[0].last
    assert got.html == preview.html and got.labels == preview.labels  # exactly as previewed
    assert producers[1].last.html == preview.html
    assert not any("Họp bàn" in m.text for m in producers[2].messages)  # Xuân Mai was not chosen
    assert not bot.fake.bot_messages(104)[-1].text.startswith("📢")

    lan = producers[0]
    await lan.press("🔕 Không nhận loại tin này")
    assert "Đã tắt: Thông báo chung của cán bộ" in lan.last.text and "/caidat" in lan.last.text
    await lan.send("/caidat")
    assert "🔕 Thông báo chung của cán bộ (đã tắt)" in lan.last.text and "Quảng Bị" in lan.last.text
    await lan.press("🔔 Bật: Thông báo chung của cán bộ")
    assert "✅ Thông báo chung của cán bộ" in lan.last.text
    await lan.press("🔕 Tắt: Sự kiện, tập huấn")
    assert "🔕 Sự kiện, tập huấn (đã tắt)" in lan.last.text

    await officer.send("/thongbao")
    assert "#1" in officer.last.text and "đã xong" in officer.last.text and "đã nhận 2" in officer.last.text
    await officer.press("📊 #1")
    assert officer.last.text.startswith("✅ Đã gửi xong thông báo #1")


async def test_schedule_with_mistakes_then_unschedule(bot: Harness, clock: FakeClock) -> None:
    officer = bot.user(STAFF_ID, "Hà")
    await bot.user(101, "Lan").send("/start")
    await officer.send("/thongbao")
    await officer.press("✍️ Soạn thông báo mới")
    await officer.send("Tập huấn OCOP tuần sau")
    await officer.press("👁 Xem trước")
    await officer.press("🕒 Hẹn giờ")
    await officer.send("31/02/2026 08:00")
    assert "chưa hiểu ngày giờ" in officer.last.text
    await officer.send("01/03/2026 08:00")  # the fake clock is 02/03/2026 09:00
    assert "đã qua" in officer.last.text
    await officer.send("03/03/2026 07:30")
    assert "Đã hẹn gửi thông báo #1" in officer.last.text and "03/03/2026 07:30" in officer.last.text
    ctx = bot.app.bot_data["ctx"]
    async with ctx.db.session() as s:
        b = await s.get(Broadcast, 1)
    assert b.state == "scheduled" and b.scheduled_at.isoformat() == "2026-03-03T00:30:00+00:00"
    await officer.press("✖️ Hủy lịch gửi")
    assert "Đã hủy lịch gửi thông báo #1" in officer.last.text
    async with ctx.db.session() as s:
        assert (await s.get(Broadcast, 1)).state == "cancelled"


async def test_a_caption_over_the_limit_is_refused_before_anything_is_queued(bot: Harness) -> None:
    officer = bot.user(STAFF_ID, "Hà")
    await officer.send("/thongbao")
    await officer.press("✍️ Soạn thông báo mới")
    await officer.send_photo(caption="x" * 1010)  # fits Telegram, not with «Thông báo từ Hà» before it
    assert "quá giới hạn 1.024 ký tự của Telegram cho chú thích" in officer.last.text
    await officer.send_photo(caption="Ảnh hội chợ")  # the flow waits for another try
    assert "Đối tượng nhận thông báo #1" in officer.last.text
    await officer.press("👁 Xem trước")
    preview = officer.messages[-2]
    assert preview.photo is not None and preview.text.endswith("Ảnh hội chợ")


async def test_a_scoped_officer_cannot_pick_another_commune(bot: Harness) -> None:
    ctx = bot.app.bot_data["ctx"]
    officer = bot.user(510, "Bình")
    await officer.send("/start")
    await ctx.staff.grant(ADMIN_ID, 510, Role.STAFF, ["Phú Nghĩa"])
    await officer.send("/thongbao")
    await officer.press("✍️ Soạn thông báo mới")
    await officer.send("Tin của xã")
    assert "xã/phường Phú Nghĩa" in officer.last.text
    await officer.press("📍 Theo xã/phường")
    assert "Anh/chị phụ trách: Phú Nghĩa" in visible_text(officer.last.html or "")
    await officer.send("Xuân Mai")
    assert "không phụ trách Xuân Mai" in officer.last.text
    async with ctx.db.session() as s:
        b = await s.get(Broadcast, 1)
    assert b.audience["communes"] == ["Phú Nghĩa"]


async def test_cancel_from_the_progress_message_then_a_late_press(bot: Harness, clock: FakeClock) -> None:
    officer = bot.user(STAFF_ID, "Hà")
    for uid in (101, 102):
        await bot.user(uid, "Lan").send("/start")
    await officer.send("/thongbao")
    await officer.press("✍️ Soạn thông báo mới")
    await officer.send("Thông báo thử")
    await officer.press("👁 Xem trước")
    await officer.press("✅ Gửi ngay")
    progress = officer.last
    await officer.press("⏹ Hủy")
    assert officer.alerts[-1] == "Đã hủy."
    clock.advance(seconds=2)
    await bot.app.bot_data["ctx"].broadcasts.runner(TelegramSender(bot.app.bot)).tick()
    assert progress.text.startswith("⏹ Đã hủy thông báo #1") and "Không gửi do đã hủy: 2" in progress.text
    await officer.press_data("bc:p:1", message=progress)  # a press from before the edit
    assert officer.last.text == "Thông báo này không còn đang gửi."
    await officer.press_data("bc:x:1", message=progress)
    assert officer.last.text == "Thông báo này đã kết thúc, không hủy được nữa."
    assert not any(m.text.startswith("📢") for m in bot.fake.bot_messages(101))


async def test_a_long_text_gets_the_broadcast_limit_not_the_general_one(bot: Harness) -> None:
    officer = bot.user(STAFF_ID, "Hà")
    await officer.send("/thongbao")
    await officer.press("✍️ Soạn thông báo mới")
    await officer.send("x" * 4090)  # Telegram takes it from the officer; with «Thông báo từ Hà» it is over
    assert "quá giới hạn 4.096 ký tự của Telegram" in officer.last.text
    await officer.send("z" * 4030)  # over the bot's 4,000 for questions, within a broadcast's limit
    assert "Đối tượng nhận thông báo #1" in officer.last.text


async def test_the_registrants_of_an_event_are_an_audience_in_the_composer(bot: Harness) -> None:
    from tests.test_events_wizard import create_training

    officer = bot.user(STAFF_ID, "Hà")
    await create_training(officer, capacity="5")
    lan, minh = bot.user(121, "Lan"), bot.user(122, "Minh")
    await minh.send("/start")
    await lan.send("/lich")
    await lan.press("1. Tập huấn làm hồ sơ OCOP")
    await lan.press("✅ Đăng ký tham gia")
    await officer.send("/thongbao")
    await officer.press("✍️ Soạn thông báo mới")
    await officer.send("Lớp tập huấn dời sang phòng họp tầng 2")
    assert "2 người sẽ nhận" in officer.last.text
    await officer.press("🎓 Người đăng ký một sự kiện")
    await officer.press("Tập huấn làm hồ sơ OCOP")
    assert "1 người sẽ nhận" in officer.last.text and "người đăng ký sự kiện" in officer.last.text
    await officer.press("✓ Tập huấn làm hồ sơ OCOP")  # pressed again: no longer a criterion
    assert "2 người sẽ nhận" in officer.last.text
    await officer.press_data("bc:ev:1:99")  # an event that is not one of this officer's
    assert officer.last.text == STALE
