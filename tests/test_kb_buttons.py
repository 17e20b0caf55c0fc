"""Forged, truncated or oversized button data on the knowledge and staff-desk buttons: the press is
answered with the "button expired" reply, no handler fails, and the database does not change."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from fakebot.driver import FakeUser, Harness
from knowledge.models import Feedback, KbExtraQuestion, Question, StaffThread, StaffThreadMessage
from storage.models import User
from tests.conftest import STAFF_ID

STALE = "không hợp lệ"

PRODUCER_FORGERIES = [
    "kb:p:9223372036854775808:x",
    "kb:up:",
    "kb:up:1:2",
    "kb:dn:-1",
    "kb:dn:2147483648",
    "kb:e:1",
    "kb:p:1:bad entry",
    "kb:zz:1",
    "kb",
    "sd:new:",
    "sd:new:99999999999999999999",
    "sd:new:1:2",
    "sd:fu:abc",
    "sd:done:1:2",
    "sd:write:1",
    "sd:zz:1",
]
STAFF_FORGERIES = [
    "sd:ga:99999999999999999999",
    "sd:ga:",
    "sd:gl:0",
    "sd:gn:1:2",
    "sd:gle:1",
    "sd:gle:99999999999:ocop-la-gi",
    "sd:gle:1:",
    "sd:dr:",
    "sd:dr:99999999999999999999",
    "sd:dl:1",
    "sd:rp:9223372036854775808",
    "sd:xx:1",
]


async def snapshot(bot: Harness) -> list[Any]:
    """Everything the knowledge part and the users table hold, as plain tuples."""
    db = bot.app.bot_data["ctx"].db
    async with db.session() as s:
        rows: list[Any] = []
        for model in (Question, Feedback, StaffThread, StaffThreadMessage, KbExtraQuestion):
            found = (await s.execute(select(model).order_by(model.id))).scalars().all()
            rows.append([tuple(sorted(vars(r).items(), key=lambda kv: kv[0]))[1:] for r in found])
        users = (await s.execute(select(User).order_by(User.id))).scalars().all()
        rows.append([(u.id, u.flow, dict(u.flow_data or {})) for u in users])
        return rows


async def press_forged(bot: Harness, user: FakeUser, data: str) -> None:
    answers_before = len(bot.fake.callback_answers)
    replies = await user.press_data(data)
    assert replies and STALE in replies[-1].text, (data, [r.text for r in replies])
    assert len(bot.fake.callback_answers) == answers_before + 1, data  # the press was answered


async def test_forged_knowledge_and_desk_buttons_are_refused_without_changes(bot: Harness) -> None:
    lan = bot.user(401, "Lan")
    await lan.send("OCOP là gì")
    # An open question in the inbox:
    await lan.send("sản phẩm ocop có được ưu tiên vào bếp ăn trường học không")
    staff = bot.user(STAFF_ID, "Cán bộ")
    await staff.send("/cauhoi")
    before = await snapshot(bot)
    for data in PRODUCER_FORGERIES:
        await press_forged(bot, lan, data)
    for data in STAFF_FORGERIES:
        await press_forged(bot, staff, data)
    assert await snapshot(bot) == before
    # The genuine buttons still work afterwards.
    await staff.send("/cauhoi")
    await staff.press("🆕 Mục mới 1")
    assert "Không có câu hỏi nào" in (await staff.send("/cauhoi"))[-1].text
