"""Return for correction, item by item, through the fake Bot API: the officer marks the wrong items and
types why for each; the producer is told exactly which and why; only those items open for editing
(a forged jump to another one changes nothing); on resubmission the officers hear of it and see old →
new for each changed field."""

from __future__ import annotations

from sqlalchemy import select

from dossier.models import Dossier, DossierStatusHistory
from fakebot.driver import Harness
from tests.conftest import STAFF_CHAT_ID, STAFF_ID
from tests.test_review_lifecycle import last_id, new_messages, reference_of, submit_new


async def test_a_correction_round_trip_with_the_diff(bot: Harness) -> None:
    ctx = bot.app.bot_data["ctx"]
    form = ctx.dossier.form
    officer = bot.user(STAFF_ID, "Cán bộ Hà")
    await officer.send("/start")
    producer = bot.user(311, "Tĩnh")
    d = await submit_new(bot, producer)
    ref = await reference_of(bot, d)
    await bot.deliver_outbox()

    # The officer marks two items, each with its reason, changes their mind about a third.
    await officer.send("/duyet")
    await officer.press(next(label for label in officer.last.labels if ref in label))
    await officer.press("↩️ Trả lại để sửa")
    assert "chọn phần" in officer.last.text
    for step_id, why in (("phone", "Số điện thoại không liên lạc được"), ("description", "Mô tả quá ngắn")):
        step = form.step(step_id)
        await officer.press(form.section_of(step).title)
        await officer.press(step.label)
        assert step.label in officer.last.text
        await officer.send(why)
        assert why in officer.last.text and "📨 Gửi trả lại" in " ".join(officer.last.labels)
    tax = form.step("tax_code")
    await officer.press(form.section_of(tax).title)
    await officer.press(tax.label)
    await officer.send("Sai mã số thuế")
    await officer.press(form.section_of(tax).title)
    await officer.press("✓ " + tax.label)  # unmark it
    assert "Sai mã số thuế" not in officer.last.text
    await officer.press("📨 Gửi trả lại (2 mục)")
    assert "Trả lại để sửa" in officer.last.text

    # The producer is told exactly which items and why, with a button to fix them.
    mark = last_id(bot, producer.id)
    await bot.deliver_outbox()
    [told] = new_messages(producer.id, bot, mark)
    assert "Hồ sơ cần sửa" in told.text and "sửa 2 mục" in told.text
    assert "Số điện thoại: Số điện thoại không liên lạc được" in told.text
    assert "Mô tả sản phẩm: Mô tả quá ngắn" in told.text and "Mã số thuế" not in told.text
    assert told.labels == ["✏️ Sửa hồ sơ"]

    # Only the flagged items open: a button for each; a forged jump to another item changes nothing.
    await producer.press("✏️ Sửa hồ sơ", message=told)
    review = producer.last
    assert "✏️ Số điện thoại" in review.labels and "✏️ Mô tả sản phẩm" in review.labels
    assert "Cán bộ đề nghị sửa 2 mục" in review.text and "Mô tả quá ngắn" in review.text
    name_step = form.step("producer_name")
    forged = await producer.press_data(f"dos:j:{d}:{name_step.index}", message=review)
    assert any("chỉ sửa được các mục cán bộ yêu cầu" in m.text for m in forged)
    await producer.press("✏️ Sửa một mục", message=review)
    assert producer.last.labels == ["✏️ Số điện thoại", "✏️ Mô tả sản phẩm", "📋 Xem lại hồ sơ"]
    await producer.press("✏️ Số điện thoại")
    await producer.send("0987 654 321")
    await producer.press("✏️ Mô tả sản phẩm")
    await producer.send(
        "Trứng gà ta nuôi thả vườn đồi, cho ăn ngô và thóc của xã, không dùng cám công nghiệp."
    )
    async with ctx.db.session() as s:
        row = await s.get_one(Dossier, d)
        assert row.answers["producer_name"] == "HTX Nông nghiệp Phú Nghĩa"
    await producer.press("📨 Nộp hồ sơ")
    await producer.press("✅ Nộp ngay")
    assert any("Đã nộp lại hồ sơ" in m.text and ref in m.text for m in producer.messages[-3:])

    # Officers hear of the resubmission and see old → new for each changed field.
    before = last_id(bot, STAFF_CHAT_ID)
    await bot.deliver_outbox()
    [notice] = new_messages(STAFF_CHAT_ID, bot, before)
    assert "nộp lại sau khi sửa" in notice.text and "Đã sửa 2 mục" in notice.text
    await officer.press("📂 Mở hồ sơ", message=notice)
    head = next(m for m in officer.messages[-4:] if "cũ → mới" in m.text)
    assert "Số điện thoại: 0912345678 → 0987654321" in head.text
    assert (
        "Mô tả sản phẩm: Trứng gà ta nuôi thả vườn, cho ăn ngô và thóc. → Trứng gà ta nuôi thả vườn đồi"
        in head.text
    )
    assert "Tên chủ thể" not in head.text.split("cũ → mới")[1].split("Diễn biến")[0]

    async with ctx.db.session() as s:
        history = (
            await s.scalars(
                select(DossierStatusHistory)
                .where(DossierStatusHistory.dossier_id == d)
                .order_by(DossierStatusHistory.id)
            )
        ).all()
    assert [(h.from_status, h.to_status) for h in history][-2:] == [
        ("submitted", "returned"),
        ("returned", "resubmitted"),
    ]
    assert history[-2].flagged_steps == ["phone", "description"] and history[-2].actor_id == STAFF_ID
    # And the officer can take it in now.
    await officer.press("📥 Tiếp nhận (đúng thể thức)")
    await officer.press("➡️ Không ghi chú")
    async with ctx.db.session() as s:
        assert (await s.get_one(Dossier, d)).status == "received"
