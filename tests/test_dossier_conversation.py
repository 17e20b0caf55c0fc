"""The dossier chat, the paths tests/test_dossier_chat.py leaves out: the menu and the deep link, /huy,
a full dossier of 3,000-character answers (review under Telegram's limit, PDF text with diacritics,
downloaded uploads), forged buttons from the owner, a submitted dossier that nothing changes, a double
tap on «Nộp ngay», and emoji-heavy answers measured in Telegram's UTF-16 units."""

from __future__ import annotations

import asyncio
import re

from fakebot.driver import FakeUser, Harness
from tests.conftest import BotFactory
from tests.test_dossier_chat import (
    attachments,
    dossier_id,
    fill_complete,
    pdf_text,
    producer_steps,
    product_steps,
)

LONG = "Nếp cái hoa vàng, đồ xôi bằng chõ gỗ; ủ men lá 🌾 <b>&</b> "  # 56 characters, emoji and markup


def long_answer(length: int = 3000) -> str:
    return (LONG * (length // len(LONG) + 1))[:length].strip()


async def long_product_steps(u: FakeUser) -> None:
    """The product section with every free-text answer about 3,000 characters long."""
    text = long_answer()
    await product_steps(
        u, "Giỏ mây đan tay Phú Vinh", description=text, materials=text, packaging=text, story=text
    )


async def test_menu_and_deep_link_start_or_list_dossiers(bot: Harness) -> None:
    u = bot.user(401, "Hoa")
    await u.send("/start hoso")
    assert "Đăng ký sản phẩm OCOP" in u.last.text and u.last.labels == ["➕ Hồ sơ mới"]
    await u.send("/start hoso")  # following the link again creates nothing either
    await u.send("/menu")
    await u.press("📂 Hồ sơ của tôi")
    assert "Hồ sơ chưa đặt tên" not in u.last.text
    await u.send("/start hoso")
    await u.press("➕ Hồ sơ mới")
    assert "Phân hạng lần đầu" in u.last.labels  # a new dossier's first question
    await u.press("Phân hạng lần đầu")
    await u.press("💾 Lưu và thoát")
    await u.send("/menu")
    await u.press("📝 Đăng ký hồ sơ")
    assert "đang làm dở" in u.last.text
    assert "➕ Hồ sơ mới" in u.last.labels
    assert any(label.startswith("🗑") for label in u.last.labels)


async def test_huy_leaves_the_flow_and_keeps_the_answers(bot: Harness) -> None:
    u = bot.user(402, "Hoa")
    await u.send("/hoso")
    await u.press("Phân hạng lần đầu")
    await u.press("Hợp tác xã")
    await u.send("HTX Rau sạch Thủy Xuân Tiên")
    await u.send("/huy")
    await u.send("Sản phẩm OCOP là gì?")  # a question for the knowledge base, not the dossier's next answer
    await u.send("/hoso")
    open_label = next(label for label in u.last.labels if label.startswith("▶️"))
    await u.press(open_label)
    assert any("đang làm dở" in m.text and "bước 4" in m.text for m in u.messages[-3:])
    await u.press("📋 Xem lại hồ sơ")
    review = u.last.text
    assert "HTX Rau sạch Thủy Xuân Tiên" in review and "Sản phẩm OCOP là gì" not in review


async def test_full_dossier_of_long_answers_fits_and_prints(bot: Harness, settings: object) -> None:
    u = bot.user(403, "Tĩnh")
    await u.send("/hoso")
    await u.press("Phân hạng lần đầu")
    d = dossier_id(u.last)
    await producer_steps(u)
    await long_product_steps(u)
    await attachments(u)
    review = u.last
    assert "Xem lại hồ sơ" in review.text and len(review.text) <= 4096  # the fake refuses longer anyway
    assert "&lt;b&gt;" in (review.html or "")  # typed markup is shown as text
    await u.press("📨 Nộp hồ sơ")
    await u.press("✅ Nộp ngay")
    assert re.search(r"OCOP-2026-\d{4}", "\n".join(m.text for m in u.messages[-3:]))
    document = u.last
    assert document.document is not None and len(document.text) <= 1024
    text = " ".join(pdf_text(document).split())
    for expected in ("Giỏ mây đan tay Phú Vinh", "Nếp cái hoa vàng, đồ xôi bằng chõ gỗ", "Phú Nghĩa"):
        assert expected in text, expected
    # every upload was downloaded through the bot into the storage folder
    folder = settings.storage_dir / "dossiers" / str(d)  # type: ignore[attr-defined]
    assert len(list(folder.iterdir())) == 4


async def test_forged_buttons_of_the_owner_change_nothing(bot: Harness) -> None:
    u = bot.user(404, "Tĩnh")
    await u.send("/hoso")
    await u.press("Phân hạng lần đầu")
    d = dossier_id(u.last)
    first_question = u.last
    await u.press("Hợp tác xã")
    await u.send("HTX Mây tre đan Phú Vinh")
    for data in (
        f"dos:a:{d}:1:reevaluation",  # a step that is no longer current
        f"dos:a:{d}:99:x",
        f"dos:j:{d}:abc",
        f"dos:{d}",
        "dos:",
        "dos:a:::::",
    ):
        replies = await u.press_data(data, message=first_question)
        assert replies, data
    await u.press("📋 Xem lại hồ sơ")
    review = u.last.text
    assert "Phân hạng lần đầu" in review and "Đánh giá lại" not in review
    assert "HTX Mây tre đan Phú Vinh" in review


async def test_a_submitted_dossier_cannot_be_changed(bot: Harness, make_bot: BotFactory) -> None:
    u = bot.user(405, "Tĩnh")
    await u.send("/hoso")
    await u.press("Phân hạng lần đầu")
    d = dossier_id(u.last)
    first_question = u.last
    await producer_steps(u)
    await product_steps(u)
    await attachments(u)
    await u.press("📨 Nộp hồ sơ")
    await u.press("✅ Nộp ngay")
    await u.send("HTX Khác hẳn")  # the flow is over: this is a question, not an answer
    for data in (
        f"dos:a:{d}:1:reevaluation",
        f"dos:j:{d}:5",
        f"dos:del:{d}",
        f"dos:delok:{d}",
        f"dos:sub:{d}",
        f"dos:ok:{d}",
        f"dos:x:{d}",
    ):
        replies = await u.press_data(data, message=first_question)
        assert replies and not any("OCOP-2026-0002" in m.text for m in replies), data
    again = (await make_bot()).user(405, "Tĩnh")
    await again.send("/menu")
    await again.press("📂 Hồ sơ của tôi")
    listing = again.last
    assert "Đã nộp" in listing.text and "OCOP-2026-0001" in listing.text
    pdf_button = next(label for label in listing.labels if label.startswith("📄"))
    await again.press(pdf_button)
    text = " ".join(pdf_text(again.last).split())
    assert "HTX Mây tre đan Phú Vinh" in text and "HTX Khác hẳn" not in text


async def test_a_double_tap_on_submit_gives_one_reference(bot: Harness) -> None:
    u = bot.user(406, "Tĩnh")
    await fill_complete(u)
    await u.press("📨 Nộp hồ sơ")
    confirm = u.last
    data = next(b["callback_data"] for row in confirm.buttons for b in row if b["text"] == "✅ Nộp ngay")
    await asyncio.gather(u.press_data(data, message=confirm), u.press_data(data, message=confirm))
    references = {r for m in u.messages for r in re.findall(r"OCOP-2026-\d{4}", m.text)}
    assert references == {"OCOP-2026-0001"}
    assert sum(1 for m in u.messages if m.document is not None) == 1


EMOJI = "🌾🧺"  # each one character but two UTF-16 code units, which is what Telegram's limit counts


async def emoji_dossier(u: FakeUser) -> None:
    """A full dossier whose free-text answers are emoji up to each step's length limit."""
    await u.send("/hoso")
    await u.press("Phân hạng lần đầu")
    await u.press("Hợp tác xã")
    await u.send(EMOJI * 100)
    await u.send(EMOJI * 50)
    await u.press("⏭ Bỏ qua")
    await u.send("0912 345 678")
    await u.press("⏭ Bỏ qua")
    await u.press("⏭ Bỏ qua")
    await u.send("0101234567")
    await u.send(EMOJI * 25)
    await u.send("15/03/2018")
    await u.send(EMOJI * 150)
    await u.send("xa Dong Son")
    await u.press("xã Phú Nghĩa")
    await u.send(EMOJI * 150)  # production site
    await u.send("2012")
    await u.send("300 chiếc/tháng")
    emoji = EMOJI * 1500
    await product_steps(u, EMOJI * 100, description=emoji, materials=emoji, packaging=emoji, story=emoji)
    await attachments(u)


async def test_a_review_full_of_emoji_fits_one_message(bot: Harness) -> None:
    u = bot.user(407, "Tĩnh")
    await emoji_dossier(u)
    assert "Xem lại hồ sơ" in u.last.text


async def test_editing_a_long_emoji_answer_fits_one_message(bot: Harness) -> None:
    u = bot.user(408, "Tĩnh")
    await u.send("/hoso")
    await u.press("Phân hạng lần đầu")
    await producer_steps(u)
    await u.send("Giỏ mây đan tay")
    await u.press("Hàng thủ công mỹ nghệ")
    await u.press(u.last.labels[0])
    await u.send(EMOJI * 1500)  # the description: 3,000 characters, 6,000 UTF-16 units
    await u.press("◀️ Quay lại")  # back to it: the question shows what is written
    assert "mô tả ngắn" in u.last.text
