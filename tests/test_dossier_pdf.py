"""The registration form PDF: Vietnamese text survives, emoji and very long answers do not crash it."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pypdf
import pytest

from dossier import pdf as pdf_module
from dossier.engine import DossierEngine, DossierState
from dossier.form import default_form
from dossier.pdf import build_context, printable, render_dossier_pdf, render_html
from knowledge.communes import CommuneDirectory

NOW = datetime(2026, 3, 2, 17, 30, tzinfo=UTC)  # 03/03/2026 00:30 in Hà Nội


def engine() -> DossierEngine:
    return DossierEngine(default_form(), CommuneDirectory.load())


def answers(**extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "kind": "reevaluation",
        "cert_number": "1234/QĐ-UBND",
        "cert_stars": "4",
        "cert_date": "2023-03-15",
        "producer_type": "cooperative",
        "producer_name": "Hợp tác xã Nông nghiệp Phú Nghĩa",
        "representative": "Nguyễn Thị Hồng Nhung",
        "representative_title": "Chủ nhiệm",
        "phone": "0912345678",
        "tax_code": "0101234567",
        "address": "Thôn Phú Vinh",
        "commune": {"unit": "Phú Nghĩa", "kind": "xã", "old": "Đông Sơn", "old_kind": "xã"},
        "product_name": "Mây tre đan Phú Vinh",
        "product_group": {"group": "craft", "sub": "household"},
        "description": "Giỏ mây đan tay, nghề truyền thống hơn 400 năm của làng Phú Vinh.",
        "raw_materials": "Mây, tre, giang lấy từ rừng trồng",
        "raw_origin": "province",
        "yearly_output": {"value": 2.5, "unit": "tấn"},
        "packaging": "Hộp carton in logo, nhãn có mã QR",
        "quality_announcement": "yes",
        "test_results": "no",
        "trademark": "registered",
        "traceability": "yes",
    }
    base.update(extra)
    return base


def text_of(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def render(state: DossierState, **kwargs: object) -> bytes:
    params: dict[str, object] = {
        "reference": "OCOP-2026-0042",
        "status": "submitted",
        "files": [],
        "now": NOW,
    }
    params.update(kwargs)
    return render_dossier_pdf(engine(), state, **params)  # type: ignore[arg-type]


def test_pdf_has_the_answers_with_diacritics() -> None:
    data = render(
        DossierState(answers=answers()),
        files=[("Ảnh sản phẩm", "gio-may.jpg", "photo"), ("Giấy đăng ký kinh doanh", "dkkd.pdf", "document")],
    )
    assert data.startswith(b"%PDF")
    text = text_of(data)
    for expected in (
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "THÔNG TIN ĐĂNG KÝ SẢN PHẨM THAM GIA CHƯƠNG TRÌNH OCOP",
        "Mẫu 01",
        "OCOP-2026-0042",
        "Hợp tác xã Nông nghiệp Phú Nghĩa",
        "Nguyễn Thị Hồng Nhung",
        "xã Phú Nghĩa (trước đây là xã Đông Sơn)",
        "Bộ số 21: Thủ công mỹ nghệ gia dụng, trang trí",
        "2,5 tấn",
        "15/03/2023",
        "Đã có văn bằng bảo hộ",
        "dkkd.pdf",
        "ngày 03 tháng 03 năm 2026",  # the date in Asia/Ho_Chi_Minh, not UTC
        "NGƯỜI ĐẠI DIỆN",
    ):
        assert expected in text, expected
    assert "Kính gửi: Ủy ban nhân dân xã Phú Nghĩa" in text
    flat = " ".join(text.split())
    assert "Đây không phải bản in của mẫu chính thức" in flat  # it says honestly what it is


def test_irrelevant_answers_are_left_out() -> None:
    text = text_of(render(DossierState(answers=answers(kind="new", food_safety="yes"))))
    assert "1234/QĐ-UBND" not in text  # certificate number belongs to a re-evaluation only
    assert "An toàn thực phẩm" not in text  # handicrafts: no food-safety question


def test_emoji_and_html_do_not_break_the_pdf() -> None:
    state = DossierState(
        answers=answers(product_name="Giỏ mây 🧺✨ <b>đẹp</b> & bền 👍🏽", story="Câu chuyện 🇻🇳\nDòng hai")
    )
    text = text_of(render(state))
    assert "Giỏ mây  <b>đẹp</b> & bền" in text or "Giỏ mây <b>đẹp</b> & bền" in text
    assert "🧺" not in text
    assert "Dòng hai" in text


def test_three_thousand_character_answers() -> None:
    long = ("Làng nghề mây tre đan Phú Vinh có lịch sử hơn bốn trăm năm. " * 60)[:3000]
    data = render(DossierState(answers=answers(description=long, story=long, packaging=long)))
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert len(reader.pages) >= 2
    assert "bốn trăm năm" in text_of(data)


def test_draft_pdf_shows_missing_items_and_no_reference() -> None:
    state = DossierState(answers={"kind": "new", "producer_name": "Tổ hợp tác Đồng Lạc"})
    text = text_of(render(state, reference=None, status="draft"))
    assert "bản nháp" in text and "Còn thiếu" in text and "Tổ hợp tác Đồng Lạc" in text


def test_printable_strips_what_the_font_cannot_draw() -> None:
    assert printable("Phú Nghĩa 🌾\u200d\x07 ✓") == "Phú Nghĩa  ✓"
    assert printable("Nguye\u0302\u0303n") == "Nguyễn"


def test_html_is_autoescaped() -> None:
    e = engine()
    context = build_context(
        e,
        DossierState(answers=answers(producer_name="<script>x</script>")),
        reference=None,
        status="draft",
        files=[],
        now=NOW,
        timezone="Asia/Ho_Chi_Minh",
    )
    html = render_html(context)
    assert "&lt;script&gt;" in html and "<script>" not in html


def test_the_font_parsed_once_gives_the_same_pdf_as_a_fresh_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each PDF copies the font parsed once per process: its glyph subset is its own (an earlier PDF
    with other letters changes nothing) and the bytes equal those of a font parsed for it alone."""
    state = DossierState(answers=answers())
    first = render(state)
    render(DossierState(answers=answers(description="Ωμέγα Жук ẞ ½ → ✓ Ỹ ỹ Ữ")))  # other glyphs
    assert render(state) == first
    monkeypatch.setattr(
        pdf_module,
        "_add_font",
        lambda pdf, style, path: pdf.add_font(pdf_module.FONT_FAMILY, style, str(path)),
    )
    assert render(state) == first


async def test_a_layout_process_gives_the_same_pdf_and_a_dead_one_is_replaced() -> None:
    html = render_html(
        build_context(
            engine(),
            DossierState(answers=answers()),
            reference="OCOP-2026-0042",
            status="submitted",
            files=[],
            now=NOW,
            timezone="Asia/Ho_Chi_Minh",
        )
    )
    in_thread = await pdf_module.layout_pdf(html, "t", NOW, processes=0)
    assert await pdf_module.layout_pdf(html, "t", NOW, processes=1) == in_thread
    pool = pdf_module._process_pool(1)
    for process in list(pool._processes.values()):  # a layout process killed (out of memory, say)
        process.kill()
        process.join()
    assert await pdf_module.layout_pdf(html, "t", NOW, processes=1) == in_thread  # laid out in a thread
    assert pdf_module._process_pool(1) is not pool  # and a new pool next time
    assert await pdf_module.layout_pdf(html, "t", NOW, processes=1) == in_thread
