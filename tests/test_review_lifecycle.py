"""A dossier's whole life through the fake Bot API, with every notice read where it lands: submitted
(officers hear of it in the staff chat, with a button to open it), received, forwarded, rated with
stars, score, certificate and 36 months of validity, proposed to the central level; the producer's
/trangthai timeline and a re-rating linked to the rated dossier. The outbox worker is drained after
each change, as it would run beside the bot."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from common.clock import FakeClock
from dossier.models import Attachment, Dossier, DossierStatusHistory
from fakebot.core import SentMessage, StoredFile
from fakebot.driver import FakeUser, Harness
from storage.models import AuditLog
from tests.conftest import STAFF_CHAT_ID, STAFF_ID
from tests.test_dossier_service import fill


def register_files(bot: Harness, count: int = 20) -> None:
    """The test uploads' file ids (file-<n>, tests.test_dossier_service) known to the fake, so an
    officer's desk can send them again by file_id."""
    for n in range(1, count + 1):
        bot.fake.files[f"file-{n}"] = StoredFile(
            f"file-{n}", f"uniq-{n}", b"\xff\xd8\xff\xe0x", None, "image/jpeg"
        )


async def submit_new(bot: Harness, u: FakeUser) -> int:
    """A complete dossier (filled through the service, as the chat would), submitted in the chat."""
    await u.send("/start")
    ctx = bot.app.bot_data["ctx"]
    for key in [k for k in bot.fake.files if k.startswith("file-")]:
        del bot.fake.files[key]  # as in tests.test_dossier_service: uploads the bot cannot fetch
    prompt = await fill(ctx.dossier, u.id, await ctx.dossier.create(u.id))
    bot.fake.refusals.clear()  # the service tried to keep copies of ids the fake never issued
    register_files(bot)
    await u.send("/hoso")
    await u.press(next(label for label in u.last.labels if label.startswith("▶️")))
    await u.press("📨 Nộp hồ sơ")
    await u.press("✅ Nộp ngay")
    return prompt.dossier_id


def new_messages(chat: int, bot: Harness, since: int) -> list[SentMessage]:
    return [m for m in bot.fake.bot_messages(chat) if m.message_id > since]


def last_id(bot: Harness, chat: int) -> int:
    msgs = bot.fake.bot_messages(chat)
    return msgs[-1].message_id if msgs else 0


async def reference_of(bot: Harness, dossier_id: int) -> str:
    ctx = bot.app.bot_data["ctx"]
    async with ctx.db.session() as s:
        d = await s.get_one(Dossier, dossier_id)
        return str(d.reference)


async def test_the_whole_lifecycle_with_every_notice(bot: Harness, clock: FakeClock) -> None:
    ctx = bot.app.bot_data["ctx"]
    officer = bot.user(STAFF_ID, "Cán bộ Hà")
    await officer.send("/start")
    producer = bot.user(301, "Tĩnh")
    d = await submit_new(bot, producer)
    ref = await reference_of(bot, d)
    submitted = next(m for m in producer.messages if "Đã nộp hồ sơ" in m.text)
    assert "báo cán bộ" in submitted.text and "/trangthai" in submitted.text  # a promise that holds

    # Officers hear of it at once, in the staff chat, with a button to open it.
    before = last_id(bot, STAFF_CHAT_ID)
    await bot.deliver_outbox()
    [notice] = new_messages(STAFF_CHAT_ID, bot, before)
    assert "Hồ sơ mới nộp" in notice.text and ref in notice.text and "Tĩnh" in notice.text
    assert notice.labels == ["📂 Mở hồ sơ"]

    # Pressed in the group: the dossier opens in the officer's private chat, never in the group.
    group_before = last_id(bot, STAFF_CHAT_ID)
    await officer.press("📂 Mở hồ sơ", message=notice)
    assert new_messages(STAFF_CHAT_ID, bot, group_before) == []
    opened = officer.messages[-4:]
    text = "\n".join(m.text for m in opened)
    assert ref in text and "Trứng gà sạch Cường Hương" in text and "HTX Nông nghiệp Phú Nghĩa" in text
    assert "📥 Tiếp nhận (đúng thể thức)" in officer.last.labels

    # Attachments re-sent by file_id, and the printout.
    await officer.press(next(label for label in officer.last.labels if label.startswith("📎")))
    files = [
        m for m in officer.messages if m.photo or (m.document and m.document["file_id"].startswith("file-"))
    ]
    assert files and all(ref in m.text for m in files)
    async with ctx.db.session() as s:
        stored = {
            a.file_id for a in (await s.scalars(select(Attachment).where(Attachment.dossier_id == d))).all()
        }
    sent_ids = {(m.photo or m.document or {}).get("file_id") for m in files}
    assert sent_ids == stored
    await officer.press("📄 Phiếu PDF", message=opened[-1])
    assert officer.last.document is not None and officer.last.document["content"].startswith(b"%PDF")

    # Received, with a note the officer types: the producer is told what, why and what next.
    clock.advance(hours=2)
    await officer.press("📥 Tiếp nhận (đúng thể thức)", message=opened[-1])
    assert "ghi chú" in officer.last.text
    await officer.send("Hồ sơ đủ thể thức, hẹn nộp mẫu thứ Hai")
    assert "Xã đã tiếp nhận" in officer.last.text and "báo ngay" in officer.last.text
    mark = last_id(bot, producer.id)
    await bot.deliver_outbox()
    [told] = new_messages(producer.id, bot, mark)
    assert "Xã đã tiếp nhận hồ sơ" in told.text and ref in told.text
    assert "hẹn nộp mẫu thứ Hai" in told.text and "Bước tiếp theo" in told.text
    assert told.labels == ["📂 Hồ sơ của tôi"]

    # Forwarded to the province, without a note.
    clock.advance(days=1)
    await officer.send("/duyet")
    await officer.press(next(label for label in officer.last.labels if ref in label))
    await officer.press("📤 Chuyển Hội đồng Thành phố")
    await officer.press("➡️ Không ghi chú")
    mark = last_id(bot, producer.id)
    await bot.deliver_outbox()
    [told] = new_messages(producer.id, bot, mark)
    assert "chuyển Hội đồng cấp Thành phố" in told.text and "Ghi chú" not in told.text

    # Rated: stars by button, then score, certificate and date one at a time (bad input refused).
    clock.advance(days=20)
    await officer.press_data(f"rv:o:{d}")
    await officer.press("⭐ Ghi kết quả")
    await officer.press("5 ⭐")
    await officer.send("một trăm")
    assert "⚠️" in officer.last.text and "78,5" in officer.last.text
    await officer.send("92,5")
    await officer.send("1234/QĐ-UBND")
    await officer.send("31/12/2099")
    assert "⚠️" in officer.last.text  # not after today
    await officer.send("20/03/2026")
    assert "Đã được công nhận" in officer.last.text
    mark = last_id(bot, producer.id)
    await bot.deliver_outbox()
    [told] = new_messages(producer.id, bot, mark)
    assert "công nhận 5 sao" in told.text and "92,5" in told.text and "1234/QĐ-UBND" in told.text
    assert "20/03/2026" in told.text and "20/03/2029" in told.text
    async with ctx.db.session() as s:
        row = await s.get_one(Dossier, d)
        assert (row.stars, row.score, row.certificate_no) == (5, 92.5, "1234/QĐ-UBND")
        assert (row.recognized_on, row.valid_until) == (date(2026, 3, 20), date(2029, 3, 20))

    # Proposed to the central level (5 stars only), with a note.
    await officer.press_data(f"rv:o:{d}")
    await officer.press("🏅 Đề xuất Trung ương")
    await officer.send("Đề xuất đánh giá 5 sao quốc gia")
    mark = last_id(bot, producer.id)
    await bot.deliver_outbox()
    [told] = new_messages(producer.id, bot, mark)
    assert "đề xuất lên Trung ương" in told.text and "5 sao quốc gia" in told.text

    # The producer's view: status, last change, next step and the timeline, in Vietnam's time.
    await producer.send("/trangthai")
    status = producer.last.text
    assert "Đề xuất Trung ương" in status and ref in status and "➡️" in status
    for when in ("02/03/2026 09:00", "02/03/2026 11:00", "03/03/2026 11:00", "23/03/2026 11:00"):
        assert when in status, when
    await producer.send(f"/trangthai {ref}")
    assert ref in producer.last.text

    # Every officer action is in the audit log, with who did it.
    async with ctx.db.session() as s:
        actions = [(a.actor_id, a.action) for a in (await s.scalars(select(AuditLog))).all()]
        history = (
            await s.scalars(
                select(DossierStatusHistory)
                .where(DossierStatusHistory.dossier_id == d)
                .order_by(DossierStatusHistory.id)
            )
        ).all()
    for action in (
        "review.open",
        "review.files",
        "review.pdf",
        "review.queue",
        "dossier.received",
        "dossier.forwarded",
        "dossier.rated",
        "dossier.proposed",
    ):
        assert (STAFF_ID, action) in actions, action
    assert [(h.from_status, h.to_status, h.actor_id) for h in history] == [
        (None, "draft", producer.id),
        ("draft", "submitted", producer.id),
        ("submitted", "received", STAFF_ID),
        ("received", "forwarded", STAFF_ID),
        ("forwarded", "rated", STAFF_ID),
        ("rated", "proposed", STAFF_ID),
    ]
    assert history[2].note == "Hồ sơ đủ thể thức, hẹn nộp mẫu thứ Hai"

    # A re-rating starts a new dossier linked to the rated one, its answers and files copied.
    rerate = next(label for label in producer.last.labels if label.startswith("🔁"))
    await producer.press(rerate)
    assert any("phân hạng lại" in m.text.lower() for m in producer.messages[-3:])
    async with ctx.db.session() as s:
        new = (await s.scalars(select(Dossier).where(Dossier.previous_id == d))).one()
        old = await s.get_one(Dossier, d)
        copies = (await s.scalars(select(Attachment).where(Attachment.dossier_id == new.id))).all()
    assert new.status == "draft" and new.owner_id == producer.id and new.reference is None
    assert new.answers["product_name"] == old.answers["product_name"]
    assert new.answers["kind"] == "reevaluation" and new.answers.get("cert_number") == "1234/QĐ-UBND"
    assert {a.file_id for a in copies} == stored
    await producer.send("/trangthai")
    assert ref in producer.last.text and "Phân hạng lại của hồ sơ" in producer.last.text


async def test_not_rated_needs_a_reason_and_the_producer_gets_it(bot: Harness) -> None:
    officer = bot.user(STAFF_ID, "Cán bộ Hà")
    await officer.send("/start")
    producer = bot.user(302, "Lan")
    d = await submit_new(bot, producer)
    for label in ("📥 Tiếp nhận (đúng thể thức)", "📤 Chuyển Hội đồng Thành phố"):
        await officer.press_data(f"rv:o:{d}")
        await officer.press(label)
        await officer.press("➡️ Không ghi chú")
    await officer.press_data(f"rv:o:{d}")
    await officer.press("🚫 Không đạt")
    assert "bắt buộc" in officer.last.text and "➡️ Không ghi chú" not in officer.last.labels
    forged = await officer.press_data(f"rv:nn:{d}:not_rated")  # no way round the reason
    assert any("cũ hoặc không hợp lệ" in m.text for m in forged)
    await officer.send("Điểm dưới 50, chưa đạt 3 sao")
    mark = last_id(bot, producer.id)
    await bot.deliver_outbox()
    told = new_messages(producer.id, bot, mark)[-1]
    assert "chưa được công nhận" in told.text and "Lý do: Điểm dưới 50" in told.text
    # Nothing more can happen to it: the actions message offers no change, a forged one is refused.
    await officer.press_data(f"rv:o:{d}")
    assert "không còn bước nào" in officer.last.text
    await officer.press_data(f"rv:to:{d}:received")
    assert "không chuyển như vậy được" in officer.last.text
