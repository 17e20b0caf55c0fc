"""The desk's queue: oldest status change first, counts by status, and the filters by status, commune
and product set, all by buttons."""

from __future__ import annotations

from sqlalchemy import update

from common.clock import FakeClock
from dossier.models import Dossier
from fakebot.driver import Harness
from tests.conftest import STAFF_ID
from tests.test_review_lifecycle import reference_of, submit_new


async def test_queue_order_counts_and_filters(bot: Harness, clock: FakeClock) -> None:
    ctx = bot.app.bot_data["ctx"]
    ids = []
    for n, (commune, product_set) in enumerate(
        [("Phú Nghĩa", "proc_plant"), ("Chương Mỹ", "proc_plant"), ("Chương Mỹ", "tea_leaf")]
    ):
        d = await submit_new(bot, bot.user(351 + n, f"Người {n}"))
        async with ctx.db.session() as s:  # as if filed there (the test form always answers Phú Nghĩa)
            await s.execute(
                update(Dossier).where(Dossier.id == d).values(commune=commune, product_set=product_set)
            )
        ids.append(d)
        clock.advance(hours=1)
    refs = [await reference_of(bot, d) for d in ids]
    officer = bot.user(STAFF_ID, "Cán bộ Hà")
    await officer.send("/duyet")
    text = officer.last.text
    assert "Đã nộp, chờ xã kiểm tra: 3" in text
    assert text.index(refs[0]) < text.index(refs[1]) < text.index(refs[2])  # oldest first

    await officer.press("🏘 Xã/phường: tất cả")
    assert officer.last.labels[1:] == ["Chương Mỹ", "Phú Nghĩa"]
    await officer.press("Chương Mỹ")
    text = officer.last.text
    assert refs[0] not in text and refs[1] in text and refs[2] in text
    assert "Xã/phường: Chương Mỹ" in text
    await officer.press("📦 Bộ SP: tất cả")
    tea = ctx.review.set_name("tea_leaf")
    assert tea.startswith("11.") and tea in officer.last.labels
    await officer.press(tea)
    text = officer.last.text
    assert refs[2] in text and refs[1] not in text and "Xã/phường: Chương Mỹ" in text

    # Status filter: take one in, then list only what was taken in.
    await officer.press_data(f"rv:o:{ids[0]}")
    await officer.press("📥 Tiếp nhận (đúng thể thức)")
    await officer.press("➡️ Không ghi chú")
    await officer.send("/duyet")
    assert "Xã đã tiếp nhận: 1" in officer.last.text and "Đã nộp, chờ xã kiểm tra: 2" in officer.last.text
    await officer.press("Xã đã tiếp nhận (1)")
    text = officer.last.text
    assert refs[0] in text and refs[1] not in text and refs[2] not in text
