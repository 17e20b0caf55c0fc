"""Who may see and act on a dossier at the desk, checked on the server for every command, press and
typed note: officers scoped to a commune hear of, list, open and act on only that commune's dossiers
(another commune's dossier answers like an expired button, also to forged presses); a non-staff user
gets exactly the unknown-command reply to /duyet and the expired-button reply to every forged desk
press, and cannot read or re-rate another producer's dossier."""

from __future__ import annotations

from sqlalchemy import select

from common.config import Settings
from dossier.models import Dossier, DossierStatusHistory
from fakebot.driver import FakeUser, Harness
from storage.models import AuditLog, Role
from tests.conftest import ADMIN_ID, STAFF_CHAT_ID, STAFF_ID, STALE, BotFactory
from tests.test_review_lifecycle import last_id, new_messages, reference_of, submit_new

HERE = "Phú Nghĩa"  # where the test dossier is filed (tests.test_dossier_service.TYPED)
ELSEWHERE = "Chương Mỹ"


async def status_of(bot: Harness, dossier_id: int) -> str:
    async with bot.app.bot_data["ctx"].db.session() as s:
        return (await s.get_one(Dossier, dossier_id)).status


async def officer(bot: Harness, user_id: int, communes: list[str]) -> FakeUser:
    u = bot.user(user_id, f"Cán bộ {user_id}")
    await u.send("/start")
    await bot.app.bot_data["ctx"].staff.grant(ADMIN_ID, user_id, Role.STAFF, communes)
    return u


async def test_officers_in_scope_hear_of_a_submission_without_a_staff_chat(
    settings: Settings, make_bot: BotFactory
) -> None:
    settings.staff_chat_id = None
    bot = await make_bot()
    ours = await officer(bot, 601, [HERE])
    theirs = await officer(bot, 602, [ELSEWHERE])
    unscoped = bot.user(STAFF_ID, "Cán bộ huyện")
    await unscoped.send("/start")
    producer = bot.user(321, "Tĩnh")
    d = await submit_new(bot, producer)
    assert (await bot.app.bot_data["ctx"].dossier.get(producer.id, d)).status == "submitted"
    marks = {u.id: last_id(bot, u.id) for u in (ours, theirs, unscoped)}
    await bot.deliver_outbox()
    ref = await reference_of(bot, d)
    for u in (ours, unscoped):
        [notice] = new_messages(u.id, bot, marks[u.id])
        assert "Hồ sơ mới nộp" in notice.text and ref in notice.text and notice.labels == ["📂 Mở hồ sơ"]
    assert new_messages(theirs.id, bot, marks[theirs.id]) == []
    assert bot.fake.bot_messages(STAFF_CHAT_ID) == []
    await ours.press("📂 Mở hồ sơ")
    assert any(ref in m.text for m in ours.messages[-3:])


async def test_a_scoped_officer_cannot_see_or_act_on_another_communes_dossier(bot: Harness) -> None:
    producer = bot.user(331, "Tĩnh")
    d = await submit_new(bot, producer)
    ref = await reference_of(bot, d)
    theirs = await officer(bot, 603, [ELSEWHERE])
    await theirs.send("/duyet")
    assert ref not in theirs.last.text and "Không có hồ sơ" in theirs.last.text
    assert not any(ref in label for label in theirs.last.labels)
    await theirs.press("🗂 Tất cả (0)")
    assert ref not in theirs.last.text
    # Forged presses naming the dossier: every one answers like an expired button, nothing changes.
    for data in (
        f"rv:o:{d}",
        f"rv:at:{d}",
        f"rv:pdf:{d}",
        f"rv:to:{d}:received",
        f"rv:nn:{d}:received",
        f"rv:rt:{d}",
        f"rv:rf:{d}:3",
        f"rv:rok:{d}",
        f"rv:st:{d}",
        f"rv:sv:{d}:5",
    ):
        replies = await theirs.press_data(data)
        assert [m.text for m in replies if m.chat_id == theirs.id][-1] == STALE, data
        assert not any(ref in m.text for m in replies), data
    assert await status_of(bot, d) == "submitted"
    # Even a note typed in a flow forged into the officer's state is refused on the server.
    await bot.app.bot_data["ctx"].users.set_flow(
        theirs.id, "review_note", {"dossier": d, "target": "received"}
    )
    await theirs.send("Tiếp nhận")
    assert theirs.last.text == STALE and await status_of(bot, d) == "submitted"

    # The officer of the dossier's commune sees it and acts on it.
    ours = await officer(bot, 604, [HERE])
    await ours.send("/duyet")
    await ours.press(next(label for label in ours.last.labels if ref in label))
    await ours.press("📥 Tiếp nhận (đúng thể thức)")
    await ours.press("➡️ Không ghi chú")
    assert await status_of(bot, d) == "received"
    # A role removed meanwhile is not used: the next press is refused.
    await bot.app.bot_data["ctx"].staff.revoke(ADMIN_ID, ours.id)
    replies = await ours.press_data(f"rv:o:{d}")
    assert replies[-1].text == STALE
    async with bot.app.bot_data["ctx"].db.session() as s:
        history = (
            await s.scalars(select(DossierStatusHistory).where(DossierStatusHistory.dossier_id == d))
        ).all()
        audit = [(a.actor_id, a.action) for a in (await s.scalars(select(AuditLog))).all()]
    assert [h.actor_id for h in history if h.to_status == "received"] == [ours.id]
    assert (ours.id, "dossier.received") in audit and (theirs.id, "dossier.received") not in audit


async def test_a_non_staff_user_gets_the_unknown_command_and_expired_button_replies(bot: Harness) -> None:
    owner = bot.user(341, "Tĩnh")
    d = await submit_new(bot, owner)
    ref = await reference_of(bot, d)
    other = bot.user(342, "Mai")
    await other.send("/start")
    unknown = (await other.send("/khongcolenhnay"))[-1].text
    reply = (await other.send("/duyet"))[-1].text
    assert reply == unknown.replace("/khongcolenhnay", "/duyet")
    for data in (
        f"rv:o:{d}",
        "rv:q:open:-:-:0",
        f"rv:to:{d}:received",
        f"rv:rok:{d}",
        "rv:fc:all:-",
        f"rv:sv:{d}:5",
        "rv:zz:1",
    ):
        replies = await other.press_data(data)
        assert [m.text for m in replies] == [STALE], data
    # Another producer's dossier: not in their status list, not by its code, not its PDF nor a re-rating.
    await other.send(f"/trangthai {ref}")
    assert "Không tìm thấy hồ sơ" in other.last.text and "Trứng gà" not in other.last.text
    await other.send(f"/trangthai {d}")
    assert "Không tìm thấy hồ sơ" in other.last.text
    await other.send("/trangthai")
    assert ref not in other.last.text
    for data in (f"dos:pdf:{d}", f"dos:rerate:{d}", f"dos:o:{d}"):
        replies = await other.press_data(data)
        assert not any(ref in m.text or m.document for m in replies), data
    async with bot.app.bot_data["ctx"].db.session() as s:
        assert (await s.scalars(select(Dossier).where(Dossier.owner_id == other.id))).all() == []
        assert (await s.scalars(select(AuditLog).where(AuditLog.actor_id == other.id))).all() == []
    assert await status_of(bot, d) == "submitted"
    # The owner may not re-rate a dossier that is not rated.
    replies = await owner.press_data(f"dos:rerate:{d}")
    assert [m.text for m in replies] == ["Hồ sơ đang ở trạng thái «Đã nộp» nên không sửa được nữa."]
    async with bot.app.bot_data["ctx"].db.session() as s:  # no new dossier was started from it
        assert len((await s.scalars(select(Dossier).where(Dossier.owner_id == owner.id))).all()) == 1
    # A staff member's /duyet typed in the staff group shows nothing there.
    staff = bot.user(STAFF_ID, "Cán bộ Hà")
    await staff.send("/start")
    before = last_id(bot, STAFF_CHAT_ID)
    await staff.send("/duyet", chat_id=STAFF_CHAT_ID)
    assert new_messages(STAFF_CHAT_ID, bot, before) == [] and ref in staff.last.text
