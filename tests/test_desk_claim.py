"""Assisted entry (/nhaphoso): an officer fills a dossier for a producer who is not on Telegram and hands
it over with a claim link — used once, used twice, by the officer themself, replaced by a newer link,
after expiry (the fake clock moves), mistyped; who is told what; the audit log; the token stored only
as a hash."""

from __future__ import annotations

import asyncio
import hashlib
import re

from sqlalchemy import select

from common.clock import FakeClock
from dossier.claims import ClaimOutcome, DossierClaim
from dossier.models import Dossier
from fakebot.driver import FakeUser, Harness
from storage.db import Database
from storage.models import AuditLog, User
from tests.conftest import ADMIN_ID, STAFF_ID

LINK_RE = re.compile(r"https://t\.me/ocop_test_bot\?start=(claim_([A-Za-z0-9_-]+))")


async def enter_dossier(officer: FakeUser, producer_name: str) -> int:
    """/nhaphoso → a new dossier: the first three answers, then «Lưu và thoát». Returns its id."""
    await officer.send("/nhaphoso")
    await officer.press("➕ Nhập hồ sơ mới")
    assert any("nhập hồ sơ giúp chủ thể" in m.text for m in officer.messages[-2:])
    assert "Phân hạng lần đầu" in officer.last.labels  # the normal dossier flow's first question
    await officer.press("Phân hạng lần đầu")
    await officer.press("Hợp tác xã")
    await officer.send(producer_name)
    buttons = [b for row in officer.last.buttons for b in row]
    data = next(b["callback_data"] for b in buttons if b["text"] == "💾 Lưu và thoát")
    await officer.press("💾 Lưu và thoát")
    return int(data.split(":")[2])


async def get_link(officer: FakeUser, dossier_id: int) -> str:
    """/nhaphoso → «🔗 Link trao …» of that dossier; returns the /start payload."""
    await officer.send("/nhaphoso")
    await officer.press_data(f"dsk:nl:{dossier_id}")
    found = LINK_RE.search(officer.last.text)
    assert found, officer.last.text
    return found.group(1)


async def owner_of(db: Database, dossier_id: int) -> tuple[int, int | None, bool]:
    async with db.session() as s:
        row = (
            await s.execute(
                select(Dossier.owner_id, Dossier.entered_by, Dossier.assisted).where(
                    Dossier.id == dossier_id
                )
            )
        ).one()
    return row[0], row[1], bool(row[2])


async def test_a_claim_link_hands_the_dossier_over_once(bot: Harness, database: Database) -> None:
    officer = bot.user(STAFF_ID, "Cán bộ Hằng")
    d = await enter_dossier(officer, "HTX Chè Tân Tiến")
    assert await owner_of(database, d) == (STAFF_ID, STAFF_ID, True)
    await officer.send("/nhaphoso")
    assert "Hồ sơ anh/chị đang giữ" in officer.last.text
    payload = await get_link(officer, d)
    token = payload.removeprefix("claim_")
    assert len(token) >= 22 and len(payload) <= 64  # ≥ 128 bits, and fits Telegram's start parameter
    assert "một lần" in officer.last.text

    # The officer opening their own link: told to send it on; nothing moves, the link still works.
    await officer.send(f"/start {payload}")
    assert "link anh/chị tạo" in officer.last.text
    assert await owner_of(database, d) == (STAFF_ID, STAFF_ID, True)

    lan = bot.user(620, "Lan")
    await lan.send(f"/start {payload}")
    assert "«HTX Chè Tân Tiến» đã chuyển sang tài khoản của anh/chị" in lan.last.text
    assert lan.last.labels == ["📂 Mở hồ sơ"]
    assert await owner_of(database, d) == (620, STAFF_ID, True)  # still recorded as entered by staff
    await lan.press("📂 Mở hồ sơ")
    resumed = lan.messages[-2].text
    assert "đang làm dở" in resumed and "bước 4" in resumed  # where the officer left it
    await lan.send("/hoso")
    assert any(label.startswith("▶️") for label in lan.last.labels)  # her draft now

    await bot.deliver_outbox()
    assert "Lan" in officer.last.text and "đã nhận hồ sơ" in officer.last.text

    # Used twice: by the same producer, then by somebody else.
    await lan.send(f"/start {payload}")
    assert "đã nhận hồ sơ" in lan.last.text and "qua link này rồi" in lan.last.text
    hung = bot.user(630, "Hùng")
    await hung.send(f"/start {payload}")
    assert "đã được dùng" in hung.last.text and hung.last.labels == []
    assert await owner_of(database, d) == (620, STAFF_ID, True)

    # The officer no longer holds it, and cannot make a link for it any more.
    await officer.send("/nhaphoso")
    assert "đang giữ" not in officer.last.text
    await officer.press_data(f"dsk:nl:{d}")
    assert "không còn do anh/chị giữ" in officer.last.text

    async with database.session() as s:
        claims = (await s.scalars(select(DossierClaim))).all()
        actions = (await s.scalars(select(AuditLog.action).order_by(AuditLog.id))).all()
    assert [c.token_hash for c in claims] == [hashlib.sha256(token.encode()).hexdigest()]
    assert claims[0].used_by == 620
    assert [a for a in actions if a.startswith("desk.")] == [
        "desk.assisted_new",
        "desk.claim_link",
        "desk.claim_refused",  # the officer's own try
        "desk.claim",
        "desk.claim_refused",  # Lan again
        "desk.claim_refused",  # Hùng
    ]


async def test_expired_replaced_and_mistyped_links_change_nothing(
    bot: Harness, database: Database, clock: FakeClock
) -> None:
    officer = bot.user(ADMIN_ID, "Cán bộ Minh")
    d = await enter_dossier(officer, "HTX Mây tre Phú Vinh")
    first = await get_link(officer, d)
    second = await get_link(officer, d)  # a new link cancels the old one
    lan = bot.user(640, "Lan")
    await lan.send(f"/start {first}")
    assert "thay bằng một link mới hơn" in lan.last.text

    clock.advance(days=14, seconds=1)  # CLAIM_LINK_DAYS defaults to 14
    await lan.send(f"/start {second}")
    assert "đã hết hạn" in lan.last.text and lan.last.labels == []
    for payload in ("claim_abc", "claim_" + "A" * 32, "claim_"):
        await lan.send(f"/start {payload}")
        assert "không đúng hoặc không còn" in lan.last.text
    assert await owner_of(database, d) == (ADMIN_ID, ADMIN_ID, True)

    third = await get_link(officer, d)  # a fresh link after expiry works
    await lan.send(f"/start {third}")
    assert "đã chuyển sang tài khoản" in lan.last.text
    assert await owner_of(database, d) == (640, ADMIN_ID, True)


async def test_the_officers_open_flow_ends_when_the_dossier_is_claimed(
    bot: Harness, database: Database
) -> None:
    officer = bot.user(STAFF_ID, "Cán bộ Hằng")
    await officer.send("/nhaphoso")
    await officer.press("➕ Nhập hồ sơ mới")
    async with database.session() as s:
        d = (await s.scalars(select(Dossier.id).where(Dossier.owner_id == STAFF_ID))).one()
    payload = await get_link(officer, d)
    async with database.session() as s:
        assert (await s.get(User, STAFF_ID)).flow == "dossier"  # type: ignore[union-attr]
    await bot.user(650, "Lan").send(f"/start {payload}")
    async with database.session() as s:
        assert (await s.get(User, STAFF_ID)).flow is None  # type: ignore[union-attr]
    await officer.send("Hợp tác xã")  # was an answer in the flow: now the dossier is not theirs
    assert await owner_of(database, d) == (650, STAFF_ID, True)
    async with database.session() as s:
        dossier = await s.get(Dossier, d)
    assert dossier is not None and dossier.answers == {}  # the officer's text changed nothing


async def test_two_people_opening_one_link_at_once_only_one_gets_the_dossier(bot: Harness) -> None:
    ctx = bot.app.bot_data["ctx"]
    for uid, name in ((STAFF_ID, "Cán bộ Hằng"), (661, "Lan"), (662, "Hùng")):
        await bot.user(uid, name).send("/start")
    prompt = await ctx.dossier.create(STAFF_ID)
    await ctx.claims.mark_assisted(STAFF_ID, prompt.dossier_id)
    link = await ctx.claims.issue_link(STAFF_ID, prompt.dossier_id)
    results = await asyncio.gather(ctx.claims.claim(link.token, 661), ctx.claims.claim(link.token, 662))
    outcomes = sorted(r.outcome.value for r in results)
    assert outcomes == ["claimed", "used"]
    winner = 661 if results[0].outcome == ClaimOutcome.CLAIMED else 662
    assert (await ctx.dossier.get(winner, prompt.dossier_id)).id == prompt.dossier_id
