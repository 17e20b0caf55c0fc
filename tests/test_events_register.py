"""Producers and events through the fake Bot API: registration within capacity, the waiting list that
moves up when someone cancels (the one who moves up is told through the outbox), the .ics file parses
back with the right local time, the staff's QR code decodes to the event's deep link, and importing a
CSV or YAML file (a bad row is named and nothing is imported)."""

from __future__ import annotations

import dataclasses
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import zxingcpp
from PIL import Image
from sqlalchemy import select

from fakebot.driver import Harness
from scheduler.event_models import Event, EventRegistration
from tests.conftest import STAFF_ID
from tests.test_events_wizard import audit_actions, create_training, event_ids, outbox_rows

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


async def test_capacity_waiting_list_and_promotion_with_a_notice(bot: Harness) -> None:
    staff = bot.user(STAFF_ID, "Cán bộ")
    await create_training(staff, capacity="1")
    (event_id,) = await event_ids(bot)
    an, binh, chi = bot.user(811, "An"), bot.user(812, "Bình"), bot.user(813, "Chi")
    for u in (an, binh, chi):
        await u.send("/lich")
        await u.press("1. Tập huấn làm hồ sơ OCOP")
        await u.press("✅ Đăng ký tham gia")
    assert "Đã đăng ký cho anh/chị" in an.last.text
    assert "Bot sẽ nhắc anh/chị trước 1 ngày và 2 giờ." in an.last.text  # REMINDER_TRAINING_HOURS
    assert "danh sách chờ, thứ 1" in binh.last.text
    assert "danh sách chờ, thứ 2" in chi.last.text
    await an.press("↩️ Huỷ đăng ký")
    assert "Đã huỷ đăng ký" in an.last.text
    async with bot.app.bot_data["ctx"].db.session() as s:
        regs = {r.user_id: r.status for r in (await s.scalars(select(EventRegistration))).all()}
    assert regs == {811: "cancelled", 812: "registered", 813: "waiting"}
    notices = await outbox_rows(bot, "event_notice")
    assert [n.chat_id for n in notices] == [812]
    await bot.deliver_outbox()
    assert "Đã có chỗ cho anh/chị" in binh.last.text
    # An registers again: the place is Bình's now, so An waits behind Chi.
    await an.send(f"/start ev_{event_id}")
    await an.press("✅ Đăng ký tham gia")
    assert "danh sách chờ, thứ 2" in an.last.text


async def test_more_places_or_no_limit_move_the_waiting_list_up(bot: Harness) -> None:
    """«Có chỗ trống bot sẽ báo ngay» holds when staff raise the capacity, not only when someone cancels."""
    staff = bot.user(STAFF_ID, "Cán bộ")
    await create_training(staff, capacity="1")
    (event_id,) = await event_ids(bot)
    people = [bot.user(821 + i, f"Người {i}") for i in range(4)]
    for u in people:
        await u.send(f"/start ev_{event_id}")
        await u.press("✅ Đăng ký tham gia")
    ctx = bot.app.bot_data["ctx"]
    events = ctx.events

    async def statuses() -> dict[int, str]:
        async with ctx.db.session() as s:
            return {r.user_id: r.status for r in (await s.scalars(select(EventRegistration))).all()}

    assert await statuses() == {821: "registered", 822: "waiting", 823: "waiting", 824: "waiting"}
    draft = await events.draft_of(event_id)
    await events.edit(ctx.staff, STAFF_ID, event_id, dataclasses.replace(draft, capacity=2))
    assert await statuses() == {821: "registered", 822: "registered", 823: "waiting", 824: "waiting"}
    await events.edit(ctx.staff, STAFF_ID, event_id, dataclasses.replace(draft, capacity=None))
    assert set((await statuses()).values()) == {"registered"}
    await bot.deliver_outbox()
    for u in people[1:]:
        assert "Đã có chỗ cho anh/chị" in u.last.text, u.last.text


async def test_a_moved_training_promises_reminders_only_when_they_will_come(bot: Harness) -> None:
    staff = bot.user(STAFF_ID, "Cán bộ")
    await create_training(staff, capacity="5")
    (event_id,) = await event_ids(bot)
    lan = bot.user(831, "Lan")
    await lan.send(f"/start ev_{event_id}")
    await lan.press("✅ Đăng ký tham gia")
    ctx = bot.app.bot_data["ctx"]
    events, now = ctx.events, ctx.clock.now()
    promise = "Bot sẽ nhắc theo lịch mới"

    async def move_to(when: datetime) -> str:
        ctx.clock.advance(minutes=1)  # a notice is keyed by the event's change time
        draft = await events.draft_of(event_id)
        await events.edit(ctx.staff, STAFF_ID, event_id, dataclasses.replace(draft, starts_at=when))
        await bot.deliver_outbox()
        return lan.last.text

    assert promise in await move_to(now + timedelta(days=10))
    # Too close for even the last reminder (2 hours before by default): no promise.
    assert "Thời gian mới" in (text := await move_to(now + timedelta(hours=1))) and promise not in text
    events.reminder_hours = ()  # REMINDER_TRAINING_HOURS empty: no training reminders at all
    assert "Thời gian mới" in (text := await move_to(now + timedelta(days=12))) and promise not in text


async def test_the_ics_file_parses_back_with_local_times(bot: Harness) -> None:
    staff = bot.user(STAFF_ID, "Cán bộ")
    await create_training(staff, when="20/03/2026 08:30")
    lan = bot.user(821, "Lan")
    await lan.send("/lich")
    await lan.press("1. Tập huấn làm hồ sơ OCOP")
    await lan.press("📥 Thêm vào lịch (.ics)")
    doc = lan.last.document
    assert doc is not None and doc["file_name"].endswith(".ics")
    cal = icalendar.Calendar.from_ical(doc["content"])
    (event,) = cal.walk("VEVENT")
    start = event.decoded("dtstart")
    assert start == datetime(2026, 3, 20, 8, 30, tzinfo=HCM)
    assert start.astimezone(HCM).strftime("%d/%m/%Y %H:%M") == "20/03/2026 08:30"
    assert str(event.get("summary")) == "Tập huấn làm hồ sơ OCOP"
    assert "Xuân Mai" in str(event.get("location"))


async def test_staff_get_a_qr_code_that_decodes_to_the_deep_link(bot: Harness) -> None:
    staff = bot.user(STAFF_ID, "Cán bộ")
    await create_training(staff)
    (event_id,) = await event_ids(bot)
    await staff.send("/sukien")
    await staff.press("1. Tập huấn làm hồ sơ OCOP")
    await staff.press("🔳 Mã QR")
    doc = staff.last.document
    assert doc is not None and doc["file_name"] == f"su-kien-{event_id}-qr.png"
    image = Image.open(io.BytesIO(doc["content"]))
    assert image.format == "PNG" and image.size[0] > 100
    (found,) = zxingcpp.read_barcodes(image.convert("L"))
    assert found.text == f"https://t.me/ocop_test_bot?start=ev_{event_id}"
    assert "event.qr" in await audit_actions(bot)


GOOD_CSV = """kind,title,starts_at,ends_at,place,capacity,communes,product_sets,description,link
tap_huan,Tập huấn ghi nhãn,25/03/2026 08:00,,Nhà văn hóa Hòa Phú,30,Hòa Phú,,Mang nhãn mẫu,
hoi_cho,Hội chợ OCOP Hà Nội,10/04/2026 08:00,12/04/2026 17:00,Cung Văn hóa Hữu nghị,,,"11, 12",,https://ocop.example.vn
"""
BAD_CSV = """kind,title,starts_at,place
tap_huan,Lớp một,25/03/2026 08:00,Hòa Phú
tap_huan,Lớp hai,32/03/2026 08:00,Hòa Phú
"""
GOOD_YAML = """
- kind: han_nop
  title: Hạn nộp hồ sơ xã Xuân Mai
  starts_at: 15/06/2026 17:00
  communes: [Xuân Mai]
- kind: su_kien
  title: Gặp mặt chủ thể OCOP
  starts_at: 01/05/2026 09:00
"""
BAD_YAML = """
- kind: han_nop
  title: Hạn nộp
  starts_at: 15/06/2026 17:00
- kind: tap_huan
  title: Lớp ở xã lạ
  starts_at: 15/05/2026 08:00
  communes: [Hà Đông Mới]
"""


async def test_import_good_files_and_refuse_a_bad_row_whole(bot: Harness) -> None:
    staff = bot.user(STAFF_ID, "Cán bộ")
    await staff.send("/sukien")
    await staff.press("📤 Nhập từ tệp")
    await staff.send_document(BAD_CSV.encode(), "su-kien.csv", "text/csv")
    assert "Dòng 3" in staff.last.text and "32/03/2026 08:00" in staff.last.text
    assert await event_ids(bot) == []
    await staff.send_document(GOOD_CSV.encode(), "su-kien.csv", "text/csv")
    assert "Đã nhập 2 sự kiện" in staff.last.text
    await staff.send("/sukien")
    await staff.press("📤 Nhập từ tệp")
    await staff.send_document(BAD_YAML.encode(), "su-kien.yaml", "application/x-yaml")
    assert "Dòng 2" in staff.last.text and "Hà Đông Mới" in staff.last.text
    await staff.send_document(b"\xff\xfe not utf8", "su-kien.yaml", "application/x-yaml")
    assert "UTF-8" in staff.last.text
    await staff.send("xin chào")
    assert "tệp .csv hoặc .yaml" in staff.last.text
    await staff.send_document(GOOD_YAML.encode(), "su-kien.yml", "application/x-yaml")
    assert "Đã nhập 2 sự kiện" in staff.last.text
    async with bot.app.bot_data["ctx"].db.session() as s:
        events = (await s.scalars(select(Event).order_by(Event.id))).all()
    assert [(e.kind, e.capacity, e.communes, e.product_sets) for e in events] == [
        ("training", 30, ["Hòa Phú"], []),
        ("fair", None, [], ["plant_tea", "tea_leaf"]),
        ("deadline", None, ["Xuân Mai"], []),
        ("general", None, [], []),
    ]
    assert events[1].ends_at is not None
    assert await audit_actions(bot) == ["event.import", "event.import"]
    # A producer of Hòa Phú sees the training; one of elsewhere does not.
    ctx = bot.app.bot_data["ctx"]
    hoa, other = bot.user(831, "Hoa"), bot.user(832, "Minh")
    await hoa.send("/start")
    await other.send("/start")
    async with ctx.db.session() as s:
        from storage.models import User

        (await s.get(User, 831)).commune = "Hòa Phú"
        (await s.get(User, 832)).commune = "Xuân Mai"
    await hoa.send("/lich")
    assert "Tập huấn ghi nhãn" in hoa.last.text and "Hạn nộp hồ sơ xã Xuân Mai" not in hoa.last.text
    await other.send("/lich")
    assert "Tập huấn ghi nhãn" not in other.last.text and "Hạn nộp hồ sơ xã Xuân Mai" in other.last.text


async def test_no_reminder_is_promised_to_someone_who_turned_event_messages_off(bot: Harness) -> None:
    staff = bot.user(STAFF_ID, "Cán bộ")
    await create_training(staff, capacity="5")
    dung = bot.user(814, "Dũng")
    await dung.send("/caidat")
    await dung.press("🔕 Tắt: Sự kiện, tập huấn")
    await dung.send("/lich")
    await dung.press("1. Tập huấn làm hồ sơ OCOP")
    await dung.press("✅ Đăng ký tham gia")
    assert "Đã đăng ký cho anh/chị" in dung.last.text
    assert "Bot sẽ nhắc" not in dung.last.text and "bot sẽ không nhắc lịch" in dung.last.text
