"""/canbo and /nhatky through the fake Bot API: an admin grants a scoped role, the member is told and gets
the staff commands, the role is changed and removed; non-admins are refused; every change is audited."""

from __future__ import annotations

import json

from fakebot.driver import Harness
from tests.conftest import ADMIN_ID, STAFF_ID, STALE


def _commands(bot: Harness, chat_id: int) -> list[str] | None:
    key = json.dumps({"chat_id": chat_id, "type": "chat"}, sort_keys=True)
    cmds = bot.fake.commands.get(key)
    return None if cmds is None else [c["command"] for c in cmds]


async def test_admin_grants_scopes_changes_and_removes_a_staff_member(bot: Harness) -> None:
    admin = bot.user(ADMIN_ID, "Quản trị")
    hung = bot.user(700, "Hùng", username="hung_qb")
    await hung.send("/start")
    await admin.send("/canbo")
    assert "Cán bộ dùng bot" in admin.last.text
    await admin.press("➕ Thêm cán bộ")
    await admin.send("@nobody_here")
    assert "Chưa thấy ai" in admin.last.text
    await admin.send("@HUNG_QB")
    assert "Hùng" in admin.last.text and "quyền gì" in admin.last.text
    await admin.press("👤 Cán bộ")
    await admin.press("▫️ xã Quảng Bị")
    await admin.press("▫️ xã Xuân Mai")
    assert "Quảng Bị, Xuân Mai" in admin.last.text
    await admin.press("✅ xã Xuân Mai")  # unpress
    await admin.press("💾 Lưu")
    assert "phụ trách Quảng Bị" in admin.last.text

    sent = await bot.deliver_outbox()
    notice = [m for m in sent if m.chat_id == 700]
    assert len(notice) == 1 and "cán bộ" in notice[0].text and "Quảng Bị" in notice[0].text
    assert {"cauhoi", "duyet"} <= set(_commands(bot, 700) or [])

    # Now staff: the staff commands work for Hùng; /canbo is for admins only.
    await hung.send("/cauhoi")
    assert "Câu hỏi" in hung.last.text or "Không có câu hỏi" in hung.last.text
    await hung.send("/canbo")
    assert "Chỉ quản trị viên" in hung.last.text

    # Promote to admin, then remove.
    await admin.send("/canbo")
    await admin.press("✏️ Hùng")
    await admin.press("🛡 Quản trị viên")
    assert "quản trị viên" in admin.last.text
    await admin.send("/canbo")
    await admin.press("🗑 Bỏ quyền Hùng")
    await admin.press("🗑 Bỏ quyền")
    assert "Đã bỏ quyền" in admin.last.text
    await bot.deliver_outbox()
    assert "đã được bỏ" in hung.last.text and _commands(bot, 700) is None
    await hung.send("/canbo")
    assert "không biết lệnh /canbo" in hung.last.text

    await admin.send("/nhatky")
    log = admin.last.text
    assert log.count("staff.grant") == 2 and log.count("staff.revoke") == 1


async def test_configured_staff_cannot_be_removed_and_non_staff_see_nothing(bot: Harness) -> None:
    admin = bot.user(ADMIN_ID, "Quản trị")
    stranger = bot.user(800, "Lạ")
    await stranger.send("/start")
    await stranger.send("/canbo")
    unknown = stranger.last.text
    await stranger.send("/lenhkhongco")
    assert stranger.last.text == unknown.replace("/canbo", "/lenhkhongco")
    await stranger.send("/nhatky")
    assert stranger.last.text == unknown.replace("/canbo", "/nhatky")
    # Forged buttons from a non-staff user: the expired-button answer, nothing changes.
    await stranger.press_data(f"st:r:{800}:a")
    assert stranger.last.text == STALE
    await bot.user(STAFF_ID, "Cán bộ").send("/start")
    await admin.send("/canbo")
    assert "🗑 Bỏ quyền Cán bộ" not in admin.last.labels
    await admin.press_data(f"st:rmok:{STAFF_ID}")
    assert "cấu hình" in admin.last.text
    # A forged id that is too long or not a number.
    await admin.press_data("st:e:99999999999999999999")
    assert admin.last.text == STALE
