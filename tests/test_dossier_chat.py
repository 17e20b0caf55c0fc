"""The registration dossier through the fake Bot API, as a producer fills it on a phone."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

from fakebot.core import SentMessage
from fakebot.driver import FakeUser, Harness
from tests.conftest import BotFactory

PDF = b"%PDF-1.4\n% test document\n"


def dossier_id(message: SentMessage) -> int:
    for row in message.buttons:
        for b in row:
            m = re.match(r"^dos:x:(\d+)$", b.get("callback_data", ""))
            if m:
                return int(m.group(1))
    raise AssertionError(f"no dossier buttons on {message.text[:80]!r}")


async def producer_steps(u: FakeUser, name: str = "HTX Mây tre đan Phú Vinh") -> None:
    await u.press("Hợp tác xã")
    await u.send(name)
    await u.send("Nguyễn Văn Tĩnh")
    await u.press("⏭ Bỏ qua")
    await u.send("0912 345 678")
    await u.press("⏭ Bỏ qua")  # email
    await u.press("⏭ Bỏ qua")  # website
    await u.send("0101234567")
    await u.send("01G8001234")  # business registration number
    await u.send("15/03/2018")  # and its date
    await u.send("Thôn Phú Vinh")
    await u.send("xa Dong Son")
    assert "Đông Sơn (cũ) nay thuộc xã Phú Nghĩa" in u.last.text
    await u.press("xã Phú Nghĩa")
    await producer_scale(u)


async def producer_scale(u: FakeUser) -> None:
    """From the production site (skipped) to the capacity."""
    await u.press("⏭ Bỏ qua")  # production site
    await u.send("2012")  # year production started
    await u.send("300 chiếc/tháng")  # capacity


async def local_steps(u: FakeUser) -> None:
    """What the commune assesses: raw-material share, labour, idea, local identity."""
    await u.press("Toàn bộ")
    await u.send("12 người")
    await u.send("10 người")
    await u.press("Truyền thống địa phương")
    await u.send("Nghề đan mây truyền thống của thôn Phú Vinh.")


async def product_steps(
    u: FakeUser,
    product: str = "Giỏ mây đan tay",
    *,
    description: str = "Giỏ đan từ mây tự nhiên, làm thủ công.",
    materials: str = "Mây, tre của thôn Phú Vinh",
    packaging: str = "Túi giấy, nhãn dán có mã QR",
    story: str | None = None,
) -> None:
    """The product and quality sections of a handicraft (no food-safety steps); story skipped if None."""
    await u.send(product)
    await u.press("Hàng thủ công mỹ nghệ")
    await u.press(u.last.labels[0])  # the first sub-group
    await u.send(description)
    await u.send(materials)
    await u.press("Tại địa phương (trong xã)")
    await u.send("1.500 chiếc")
    await u.send(packaging)
    await u.press("Trong xã")  # markets
    await u.press("✅ Xong")
    await local_steps(u)
    await u.press("Chưa đăng ký")
    await u.press("Không")  # traceability
    await u.press("Không")  # raw-material contract
    await u.press("Không")  # awards
    await u.press("Có")  # five samples ready
    await u.press("Chợ, cửa hàng")
    await u.press("✅ Xong")
    if story is None:
        await u.press("⏭ Bỏ qua")
    else:
        await u.send(story)


async def attachments(u: FakeUser) -> None:
    await u.press("Mang bản giấy đến xã")  # self-assessment (Mẫu 02)
    await u.press("Mang bản giấy đến xã")  # business plan
    await u.send_photo()
    await u.send_photo()
    await u.press("✅ Xong")
    await u.send_photo()
    await u.send_document(PDF, "dang-ky-kinh-doanh.pdf", "application/pdf")


async def fill_complete(u: FakeUser, **kwargs: str) -> int:
    await u.send("/hoso")
    await u.press("Phân hạng lần đầu")
    d = dossier_id(u.last)
    await producer_steps(u, **{k: v for k, v in kwargs.items() if k == "name"})
    await product_steps(u, **{k: v for k, v in kwargs.items() if k == "product"})
    await attachments(u)
    return d


def pdf_text(message: SentMessage) -> str:
    assert message.document is not None
    reader = PdfReader(io.BytesIO(message.document["content"]))
    return "\n".join(page.extract_text() for page in reader.pages)


async def test_full_dossier_from_hoso_to_submit_with_photos_and_pdf(bot: Harness) -> None:
    u = bot.user(301, "Tĩnh")
    await fill_complete(u)
    # the step line counts on by one and its total does not drift once the product's set is known
    steps = [re.search(r"· mục (\d+) / khoảng (\d+)", m.text) for m in u.messages]
    seen = [(int(m.group(1)), int(m.group(2))) for m in steps if m]
    positions = [n for i, (n, _t) in enumerate(seen) if i == 0 or n != seen[i - 1][0]]
    assert positions == list(range(1, len(positions) + 1)) and len(positions) > 40
    after_group = [t for n, t in seen if n > 20]
    assert len(set(after_group)) == 1 and after_group[0] == positions[-1]
    review = u.last
    assert "Xem lại hồ sơ" in review.text and "Giỏ mây đan tay" in review.text
    assert "📨 Nộp hồ sơ" in review.labels
    await u.press("📨 Nộp hồ sơ")
    await u.press("✅ Nộp ngay")
    submitted = [m for m in u.messages if "Đã nộp hồ sơ" in m.text][-1]
    assert re.search(r"OCOP-2026-\d{4}", submitted.text)
    document = u.last
    assert document.document is not None and document.document["file_name"].endswith(".pdf")
    text = pdf_text(document)
    for expected in ("HTX Mây tre đan Phú Vinh", "Nguyễn Văn Tĩnh", "Giỏ mây đan tay", "Phú Nghĩa"):
        assert expected in text, expected
    # locked: an old button no longer changes it
    replies = await u.press_data(f"dos:b:{dossier_id(review)}", message=review)
    assert any("không sửa được" in m.text for m in replies)
    # "Hồ sơ của tôi" lists it and sends the form again
    await u.send("/menu")
    await u.press("📂 Hồ sơ của tôi")
    assert "Đã nộp" in u.last.text
    pdf_button = next(label for label in u.last.labels if label.startswith("📄"))
    await u.press(pdf_button)
    assert u.last.document is not None


async def test_invalid_inputs_are_refused_with_an_example(bot: Harness) -> None:
    u = bot.user(302, "Lan")
    await u.send("/hoso")
    await u.press("Phân hạng lần đầu")
    await u.press("Hộ kinh doanh")
    await u.send("Hộ kinh doanh Lan")
    await u.send("Trần Thị Lan")
    await u.press("⏭ Bỏ qua")
    bad_phone = (await u.send("12345"))[-1]
    assert "⚠️" in bad_phone.text and "0912345678" in bad_phone.text
    await u.send("+84 912 345 678")
    await u.press("⏭ Bỏ qua")
    bad_site = (await u.send("trang của tôi"))[-1]
    assert "⚠️" in bad_site.text and "facebook.com" in bad_site.text
    await u.send("facebook.com/matonglan")
    bad_tax = (await u.send("MST-abc"))[-1]
    assert "⚠️" in bad_tax.text
    await u.send("0101234567-001")
    await u.send("01G8001234")
    future = (await u.send("15/03/2099"))[-1]
    assert "⚠️" in future.text and "tương lai" in future.text
    await u.send("15/03/2018")
    await u.send("Xóm Chợ")
    sticker = await u.send_sticker()
    assert any("chưa nhận" in m.text for m in sticker)
    await u.send("Phụng Châu")
    assert "phường Chương Mỹ" in u.last.text
    await u.press("phường Chương Mỹ")
    await u.press("⏭ Bỏ qua")  # production site
    bad_year = (await u.send("năm ngoái"))[-1]
    assert "⚠️" in bad_year.text and "2015" in bad_year.text
    await u.send("2019")
    await u.send("40 thùng/ngày")
    too_long = (await u.send("x" * 1500))[-1]
    assert "⚠️" in too_long.text
    await u.send("Mật ong hoa nhãn")
    await u.press("Thực phẩm")
    await u.press(u.last.labels[0])
    short = (await u.send("Mật ong"))[-1]
    assert "⚠️" in short.text and "20 ký tự" in short.text
    await u.send("Mật ong nguyên chất từ hoa nhãn vùng Chương Mỹ")
    await u.send("Mật ong từ đàn ong của gia đình")
    await u.press("Tại địa phương (trong xã)")
    bad_number = (await u.send("nhiều lắm"))[-1]
    assert "⚠️" in bad_number.text
    await u.send("2,5 tấn")
    assert "đóng gói" in u.last.text


async def test_wrong_file_type_and_oversize_files_are_refused(bot: Harness) -> None:
    u = bot.user(303, "Tĩnh")
    await u.send("/hoso")
    await u.press("Phân hạng lần đầu")
    await producer_steps(u)
    await product_steps(u)
    await u.press("Mang bản giấy đến xã")
    await u.press("Mang bản giấy đến xã")
    word = await u.send_document(b"PK\x03\x04", "don.docx", "application/vnd.openxmlformats-officedocument")
    assert "⚠️" in word[-1].text
    huge = await u.send_photo(size=50 * 1024 * 1024)
    assert "⚠️" in huge[-1].text
    await u.send_photo()
    assert "Đã nhận 1 ảnh" in u.last.text


async def test_back_skip_and_conditions(bot: Harness) -> None:
    u = bot.user(304, "Hùng")
    await u.send("/hoso")
    await u.press("Phân hạng lại")
    assert "giấy chứng nhận" in u.last.text.lower()
    assert "⏭ Bỏ qua" not in u.last.labels  # a required step cannot be skipped
    d = dossier_id(u.last)
    forged = await u.press_data(f"dos:s:{d}")
    assert "⚠️" in forged[-1].text
    await u.send("1234/QĐ-UBND")
    await u.press("4 sao")
    bad_date = (await u.send("31/02/2024"))[-1]
    assert "⚠️" in bad_date.text
    await u.press("◀️ Quay lại")
    assert "mấy sao" in u.last.text
    await u.press("◀️ Quay lại")
    await u.press("◀️ Quay lại")
    await u.press("Phân hạng lần đầu")
    assert "loại hình" in u.last.text  # the certificate steps are gone for a new product


async def test_leave_and_resume_after_a_restart(bot: Harness, make_bot: BotFactory) -> None:
    u = bot.user(305, "Tĩnh")
    await u.send("/hoso")
    await u.press("Phân hạng lần đầu")
    await u.press("Hợp tác xã")
    await u.send("HTX Nông nghiệp Đông Sơn")
    await u.press("💾 Lưu và thoát")
    assert "Đã lưu hồ sơ" in u.last.text
    restarted = await make_bot()
    again = restarted.user(305, "Tĩnh")
    await again.send("/hoso")
    assert "đang làm dở" in again.last.text
    open_label = next(label for label in again.last.labels if label.startswith("▶️"))
    await again.press(open_label)
    assert any("Tiếp tục nhé" in m.text and "bước 4" in m.text for m in again.messages)
    assert "người đại diện" in again.last.text
    # typing goes on in the flow after yet another restart, with nothing lost
    third = (await make_bot()).user(305, "Tĩnh")
    await third.send("Nguyễn Văn An")
    assert "Chức vụ" in third.last.text
    await third.press("📋 Xem lại hồ sơ")
    assert "HTX Nông nghiệp Đông Sơn" in third.last.text and "Nguyễn Văn An" in third.last.text


async def test_edit_from_the_review_returns_to_the_review(bot: Harness) -> None:
    u = bot.user(306, "Tĩnh")
    await fill_complete(u)
    await u.press("✏️ Sửa một mục")
    sections = u.last.labels
    assert len(sections) <= 8 and sections[1] == "Chủ thể sản xuất (15 mục)"  # a phone's screenful
    await u.press(sections[1])
    first_page = u.last.labels
    assert len(first_page) <= 11 and "◀️ Các phần khác" in first_page and "(trang 1/2)" in u.last.text
    await u.press("Trang sau ➡️")
    assert "(trang 2/2)" in u.last.text and "⬅️ Trang trước" in u.last.labels
    assert not set(first_page[:8]) & set(u.last.labels)  # the other items of the section
    await u.press("⬅️ Trang trước")
    assert u.last.labels == first_page
    phone_label = next(label for label in u.last.labels if "điện thoại" in label.lower())
    await u.press(phone_label)
    await u.send("0987654321")
    assert "Xem lại hồ sơ" in u.last.text and "0987654321" in u.last.text


async def test_two_dossiers_and_nobody_else_can_touch_them(bot: Harness) -> None:
    u = bot.user(307, "Tĩnh")
    await u.send("/hoso")
    await u.press("Phân hạng lần đầu")
    first = dossier_id(u.last)
    await u.press("💾 Lưu và thoát")
    await u.send("/hoso")
    await u.press("➕ Hồ sơ mới")
    await u.press("Phân hạng lần đầu")
    second = dossier_id(u.last)
    assert first != second
    await u.send("/menu")
    await u.press("📂 Hồ sơ của tôi")
    assert u.last.text.count("Nháp") == 2
    mallory = bot.user(308, "Mallory")
    await mallory.send("/start")
    for data in (
        f"dos:o:{first}",
        f"dos:a:{first}:1:0",
        f"dos:pdf:{first}",
        f"dos:del:{first}",
        f"dos:delok:{second}",
        f"dos:ok:{second}",
        f"dos:r:{second}",
        "dos:zz:1",
        "dos:a:x",
    ):
        replies = await mallory.press_data(data)
        assert replies and any(w in replies[-1].text for w in ("Không tìm thấy", "không hợp lệ")), data
    await mallory.send("/menu")
    await mallory.press("📂 Hồ sơ của tôi")
    assert "chưa có hồ sơ" in mallory.last.text
    await u.send("/hoso")
    assert "2 hồ sơ đang làm dở" in u.last.text


async def test_html_emoji_and_long_answers_are_stored_and_shown_escaped(bot: Harness) -> None:
    u = bot.user(309, "Tĩnh")
    await u.send("/hoso")
    await u.press("Phân hạng lần đầu")
    await producer_steps(u, name="<b>HTX</b> & Mây 🌾 <script>")
    await u.send("Giỏ <i>mây</i> 🧺")
    await u.press("Hàng thủ công mỹ nghệ")
    await u.press(u.last.labels[0])
    refused = (await u.send("Quá dài! " * 560))[-1]  # 5,040 characters: more than Telegram lets one send
    assert "dài quá" in refused.text
    assert "mô tả ngắn sản phẩm" in u.messages[-2].text  # the question is still the same one
    await u.send("Mô tả dài. " * 270)  # ~2,970 characters: a long answer is fine
    await u.press("📋 Xem lại hồ sơ")
    review = u.last
    assert "<b>HTX</b> & Mây 🌾 <script>" in review.text
    assert "&lt;script&gt;" in (review.html or "")
    assert "Giỏ <i>mây</i> 🧺" in review.text


async def test_delete_a_draft_with_confirmation(bot: Harness) -> None:
    u = bot.user(310, "Tĩnh")
    await u.send("/hoso")
    await u.press("Phân hạng lần đầu")
    await u.press("💾 Lưu và thoát")
    await u.send("/hoso")
    delete_label = next(label for label in u.last.labels if label.startswith("🗑"))
    await u.press(delete_label)
    assert "Xóa hẳn" in u.last.text
    await u.press("🗑 Xóa hẳn")
    assert "Đã xóa" in u.last.text
    await u.send("/menu")
    await u.press("📂 Hồ sơ của tôi")
    assert "chưa có hồ sơ" in u.last.text


async def test_files_that_are_not_what_they_claim_are_refused_and_the_step_waits(bot: Harness) -> None:
    u = bot.user(331, "Tĩnh")
    await u.send("/hoso")
    await u.press("Phân hạng lần đầu")
    await producer_steps(u)
    await product_steps(u)
    await u.press("Gửi tệp qua bot")  # the self-assessment (Mẫu 02) as a file
    asked = u.last.text
    fake_pdf = await u.send_document(b"PK\x03\x04 a Word file renamed", "tu-danh-gia.pdf", "application/pdf")
    assert "⚠️" in fake_pdf[-1].text and "không phải tệp PDF" in fake_pdf[-1].text
    empty = await u.send_document(b"", "tu-danh-gia.pdf", "application/pdf", size=0)
    assert "⚠️" in empty[-1].text and "0 byte" in empty[-1].text
    broken = await u.send_document(b"\xff\xd8\xff\xe0 not really a jpeg", "anh.jpg", "image/jpeg")
    assert "⚠️" in broken[-1].text and "Không mở được ảnh" in broken[-1].text
    assert "Mẫu 02" in u.last.text and "Mẫu 02" in asked  # still the same step
    await u.send_document(PDF, "tu-danh-gia.pdf", "application/pdf")
    assert "Phương án" in u.last.text  # a real PDF moves on


async def test_a_question_typed_at_an_answer_step_is_asked_about_not_saved(bot: Harness) -> None:
    u = bot.user(332, "Hà")
    await u.send("/hoso")
    await u.press("Phân hạng lần đầu")
    await u.press("Hợp tác xã")
    await u.send("hồ sơ ocop gồm những gì?")
    assert "giống một câu hỏi" in u.last.text
    assert u.last.labels == ["✍️ Đây là câu trả lời", "❓ Đây là câu hỏi"]
    await u.press("❓ Đây là câu hỏi")
    assert "Tên đầy đủ của chủ thể" in u.last.text  # the step waits, asked again after the answer
    assert any("giống một câu hỏi" not in m.text and m.text for m in u.messages[-3:-1])
    await u.send("HTX Mây tre đan Phú Vinh")  # a plain answer is saved at once
    assert "người đại diện" in u.last.text
    await u.press("◀️ Quay lại")
    await u.send("Mây tre đan ra sao?")
    await u.press("✍️ Đây là câu trả lời")  # it was the name after all
    assert "người đại diện" in u.last.text
    await u.press("📋 Xem lại hồ sơ")
    assert "Mây tre đan ra sao?" in u.last.text and "ocop gồm" not in u.last.text


async def test_a_question_mid_form_is_answered_and_a_description_is_not_taken_for_one(bot: Harness) -> None:
    u = bot.user(334, "Hà")
    await u.send("/hoso")
    await u.press("Phân hạng lần đầu")
    await producer_steps(u)
    await u.send("Bánh chưng Phú Vinh")  # the product's name
    await u.press("Thực phẩm")
    await u.press("6. Chế biến từ gạo, ngũ cốc")
    await u.send("Gạo nếp cái hoa vàng gói lá dong, luộc 10 tiếng, đóng gói hút chân không")
    assert "Nguyên liệu chính" in u.last.text  # a description ending in «không» is stored at once
    await u.send("Gạo nếp, lá dong của thôn Phú Vinh")
    await u.press("Tại địa phương (trong xã)")
    assert "Sản lượng" in u.last.text
    replies = await u.send("cần những giấy tờ gì")  # a question where a number is expected
    assert len(replies) == 2 and "Sản lượng" in replies[-1].text and "⚠️" not in replies[-1].text
    assert "Mẫu 01" in replies[0].text or "Phiếu đăng ký" in replies[0].text  # the knowledge base's answer
    await u.send("khoang 20 tan")
    assert "đóng gói thế nào" in u.last.text
    await u.press("📋 Xem lại hồ sơ")
    assert "gồm những" not in u.last.text and "20 tấn" in u.last.text
    assert "hút chân không" in u.last.text


async def test_a_name_typed_in_small_letters_is_offered_with_capitals(bot: Harness) -> None:
    u = bot.user(333, "An")
    await u.send("/hoso")
    await u.press("Phân hạng lần đầu")
    await u.press("Hợp tác xã")
    await u.send("HTX Rau sạch Thủy Xuân Tiên")
    await u.send("nguyen van an")
    assert "«Nguyen Van An»" in u.last.text and "có dấu" in u.last.text
    assert u.last.labels[:2] == ["✅ Nguyen Van An", "↪️ Giữ như đã gõ"]
    await u.send("nguyễn văn an")  # typed again with accents: offered again, with them
    await u.press("✅ Nguyễn Văn An")
    assert "Chức vụ" in u.last.text
    await u.press("◀️ Quay lại")
    await u.send("lê thị bình")
    await u.press("↪️ Giữ như đã gõ")
    await u.press("📋 Xem lại hồ sơ")
    assert "lê thị bình" in u.last.text
