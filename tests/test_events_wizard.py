"""/sukien through the fake Bot API: the wizard creates, edits and cancels an event (dates typed
dd/mm/yyyy HH:MM, bad ones explained), registrants are told of a move and a cancellation through the
outbox, the provincial milestones are offered until confirmed, every action is audited, scoped staff
manage only their communes, and /sukien from a producer is exactly an unknown command."""

from __future__ import annotations

from sqlalchemy import select

from fakebot.driver import FakeUser, Harness
from scheduler.event_models import Event
from storage.models import AuditLog, Role
from storage.outbox_models import OutboxMessage
from tests.conftest import STAFF_ID, STALE


async def audit_actions(bot: Harness) -> list[str]:
    async with bot.app.bot_data["ctx"].db.session() as s:
        return list((await s.scalars(select(AuditLog.action).order_by(AuditLog.id))).all())


async def outbox_rows(bot: Harness, kind: str | None = None) -> list[OutboxMessage]:
    async with bot.app.bot_data["ctx"].db.session() as s:
        q = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind:
            q = q.where(OutboxMessage.kind == kind)
        return list((await s.scalars(q)).all())


async def create_training(
    staff: FakeUser, title: str = "Tập huấn làm hồ sơ OCOP", *, when: str = "20/03/2026 08:30",
    capacity: str = "2",
) -> None:
    """Staff make an open training through the wizard."""
    await staff.send("/sukien")
    await staff.press("➕ Tạo sự kiện mới")
    await staff.press("Tập huấn")
    await staff.send(title)
    await staff.send(when)
    await staff.send("Hội trường UBND xã Xuân Mai")
    await staff.send(capacity)
    await staff.press("Mọi người")
    await staff.press("⏭ Bỏ qua")  # description
    await staff.press("⏭ Bỏ qua")  # link
    await staff.press("💾 Lưu sự kiện")


async def event_ids(bot: Harness) -> list[int]:
    async with bot.app.bot_data["ctx"].db.session() as s:
        return list((await s.scalars(select(Event.id).order_by(Event.id))).all())


async def test_wizard_creates_edits_and_cancels_an_event_telling_registrants(bot: Harness) -> None:
    staff = bot.user(STAFF_ID, "Cán bộ")
    await staff.send("/sukien")
    assert "Quản lý sự kiện" in staff.last.text
    assert "📌 Đặt hạn xã cho mốc 30/06/2026" in staff.last.labels
    await staff.press("➕ Tạo sự kiện mới")
    await staff.press("Tập huấn")
    await staff.send("Tập huấn làm hồ sơ OCOP")
    await staff.send("ngày mai 8 giờ")
    assert "15/07/2026 08:30" in staff.last.text and "chưa đúng" in staff.last.text
    await staff.send("31/02/2026 08:30")
    assert "chưa đúng" in staff.last.text
    await staff.send("01/01/2026 08:30")
    assert "đã qua" in staff.last.text
    await staff.send("20/03/2026 08:30")
    assert "địa điểm" in staff.last.text
    await staff.send("Hội trường UBND xã Xuân Mai")
    await staff.send("nhiều")
    assert "Số chỗ là một số" in staff.last.text
    await staff.send("2")
    await staff.press("Xuân Mai")
    assert "✓ Xuân Mai" in staff.last.labels
    await staff.press("Tiếp tục ▶️")
    await staff.send("Mang theo giấy tờ sản phẩm.")
    await staff.send("javascript:alert(1)")
    assert "Đường dẫn" in staff.last.text and "chưa đúng" in staff.last.text
    await staff.send("https://ocop.example.vn/tap-huan")
    assert "Kiểm tra lại sự kiện" in staff.last.text and "20/03/2026 08:30" in staff.last.text
    await staff.press("💾 Lưu sự kiện")
    assert "Đã tạo sự kiện" in staff.last.text
    (event_id,) = await event_ids(bot)
    assert f"t.me/ocop_test_bot?start=ev_{event_id}" in staff.last.text

    lan = bot.user(801, "Lan")
    await lan.send(f"/start ev_{event_id}")
    assert "Tập huấn làm hồ sơ OCOP" in lan.last.text
    await lan.press("✅ Đăng ký tham gia")
    assert "Đã đăng ký" in lan.last.text

    # Move it: the registrant is told through the outbox.
    await staff.send("/sukien")
    await staff.press("1. Tập huấn làm hồ sơ OCOP")
    await staff.press("✏️ Sửa")
    await staff.press("Thời gian")
    await staff.send("21/03/2026 14:00")
    await staff.press("💾 Lưu sự kiện")
    assert "Đã lưu thay đổi" in staff.last.text
    notices = await outbox_rows(bot, "event_notice")
    assert [n.chat_id for n in notices] == [801] and "21/03/2026 14:00" in notices[0].text

    # Cancel it: told again; the producer's calendar no longer lists it.
    await staff.send("/sukien")
    await staff.press("1. Tập huấn làm hồ sơ OCOP")
    await staff.press("❌ Huỷ sự kiện")
    await staff.press("Huỷ sự kiện này")
    assert "Đã huỷ sự kiện" in staff.last.text
    notices = await outbox_rows(bot, "event_notice")
    assert len(notices) == 2 and "đã bị huỷ" in notices[1].text
    await lan.send("/lich")
    assert "Chưa có sự kiện" in lan.last.text or "Hiện chưa có sự kiện" in lan.last.text
    assert await audit_actions(bot) == ["event.create", "event.edit", "event.cancel"]


async def test_a_milestone_is_confirmed_with_the_communes_own_deadline(bot: Harness) -> None:
    staff = bot.user(STAFF_ID, "Cán bộ")
    await staff.send("/sukien")
    await staff.press("📌 Đặt hạn xã cho mốc 30/06/2026")
    await staff.send("02/07/2026 17:00")
    assert "trước mốc của Thành phố (30/06/2026)" in staff.last.text
    await staff.send("15/06/2026 17:00")
    await staff.press("⏭ Bỏ qua")  # place
    await staff.press("Mọi người")
    await staff.press("⏭ Bỏ qua")
    await staff.press("⏭ Bỏ qua")
    await staff.press("💾 Lưu sự kiện")
    assert "Đã tạo sự kiện" in staff.last.text
    await staff.send("/sukien")
    assert "📌 Đặt hạn xã cho mốc 30/06/2026" not in staff.last.labels
    assert "📌 Đặt hạn xã cho mốc 30/12/2026" in staff.last.labels


async def test_scoped_staff_manage_only_events_of_their_communes(bot: Harness) -> None:
    ctx = bot.app.bot_data["ctx"]
    staff = bot.user(STAFF_ID, "Cán bộ")
    await create_training(staff, "Lớp chung toàn vùng")
    scoped = bot.user(620, "Cán bộ xã")
    await scoped.send("/start")
    await ctx.staff.grant(STAFF_ID, 620, Role.STAFF, ["Quảng Bị"])
    await scoped.send("/sukien")
    assert "Lớp chung toàn vùng" not in scoped.last.text and "Quảng Bị" in scoped.last.text
    (event_id,) = await event_ids(bot)
    await scoped.press_data(f"evs:cc:{event_id}")
    assert "Không tìm thấy sự kiện" in scoped.last.text
    await scoped.press("➕ Tạo sự kiện mới")
    await scoped.press("Hội chợ, triển lãm")
    await scoped.send("Hội chợ nông sản Quảng Bị")
    await scoped.send("10/04/2026 08:00")
    await scoped.press("⏭ Bỏ qua")  # ends
    await scoped.press("⏭ Bỏ qua")  # place
    assert "Mọi người" not in scoped.last.labels and "✓ Quảng Bị" in scoped.last.labels
    await scoped.press("Tiếp tục ▶️")
    await scoped.press("⏭ Bỏ qua")
    await scoped.press("⏭ Bỏ qua")
    await scoped.press("💾 Lưu sự kiện")
    assert "Đã tạo sự kiện" in scoped.last.text
    async with ctx.db.session() as s:
        fair = await s.scalar(select(Event).where(Event.kind == "fair"))
    assert fair is not None and fair.communes == ["Quảng Bị"]


async def test_a_producer_gets_the_unknown_command_reply_for_sukien(bot: Harness) -> None:
    lan = bot.user(802, "Lan")
    await lan.send("/khonglenhnao")
    unknown = lan.last.text.replace("/khonglenhnao", "/sukien")
    await lan.send("/sukien")
    assert lan.last.text == unknown
    await lan.press_data("evs:n")
    assert lan.last.text == STALE
    assert await event_ids(bot) == [] and await audit_actions(bot) == []


async def test_menu_button_opens_the_calendar(bot: Harness) -> None:
    lan = bot.user(803, "Lan")
    await lan.send("/menu")
    await lan.press("📅 Lịch & sự kiện")
    assert "Lịch & sự kiện sắp tới" in lan.last.text and "đang được xây dựng" not in lan.last.text
