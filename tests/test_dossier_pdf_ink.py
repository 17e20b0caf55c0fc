"""The printout is fit to sign: rendered to pixels, no line's tone marks touch the line above.

Each page is rendered with pdfium; table borders (long vertical and horizontal strokes) are removed,
and the rows of pixels that carry ink form bands. Where two text lines' ink overlapped they would form
one band about two lines tall; every band must stay under that height. The same check on a layout with
the old tight line height finds the overlap, so the test can fail.
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image
from pypdf import PdfReader

from dossier import pdf as pdf_module
from dossier.engine import DossierState
from dossier.pdf import build_context, html_to_pdf, render_html
from tests.test_dossier_pdf import NOW, answers, engine

SCALE = 3.0  # pixels per PDF point
FONT_PT = 11
STACKED = "Ữ Ỹ ậ ặ ỗ Ựa Ẫn Ỗng Ặt ẵ ẫ ữ ỹ Chân không "


def stacked_dossier() -> DossierState:
    medium = (STACKED * 5).strip()  # wraps over several lines inside a table cell
    long = (STACKED * 20).strip()  # printed as a paragraph under its table
    return DossierState(
        answers=answers(
            producer_name="HỢP TÁC XÃ ỮỸẬẶỖ " + STACKED,
            description=long,
            raw_materials=medium,
            packaging=medium,
            address="Thôn Ỗ Ữ Ặ " + STACKED,
        )
    )


def page_images(data: bytes) -> Iterator[Image.Image]:
    document = pdfium.PdfDocument(data)
    try:
        for index in range(len(document)):
            yield document[index].render(scale=SCALE).to_pil().convert("L")
    finally:
        document.close()


def ink_bands(image: Image.Image) -> list[tuple[int, int]]:
    """(top, height) in pixels of the bands of rows that carry text ink, in each column of the page
    between table borders (a label centred beside a two-line value is its own band)."""
    dark = np.asarray(image) < 160
    # a vertical border is a column inked without a break over more than a line; letters never are
    run = np.zeros(dark.shape[1], dtype=np.int32)
    longest = np.zeros(dark.shape[1], dtype=np.int32)
    for row in dark:
        run = (run + 1) * row
        np.maximum(longest, run, out=longest)
    border = longest > FONT_PT * 2 * SCALE
    bands: list[tuple[int, int]] = []
    x = 0
    while x < dark.shape[1]:
        if border[x]:
            x += 1
            continue
        start = x
        while x < dark.shape[1] and not border[x]:
            x += 1
        bands += _bands(dark[:, start:x])
    return bands


def _bands(dark: np.ndarray) -> list[tuple[int, int]]:
    counts = dark.sum(axis=1)
    inked = (counts > 0) & (counts <= dark.shape[1] * 0.4)  # a horizontal rule is not text
    bands: list[tuple[int, int]] = []
    top = None
    for y, has_ink in enumerate(inked):
        if has_ink and top is None:
            top = y
        elif not has_ink and top is not None:
            bands.append((top, y - top))
            top = None
    if top is not None:
        bands.append((top, len(inked) - top))
    return bands


def tallest_band(data: bytes) -> float:
    """The tallest band of ink over all pages, in points."""
    return max(max((h for _top, h in ink_bands(image)), default=0) for image in page_images(data)) / SCALE


def rendered(tight: bool, monkeypatch: pytest.MonkeyPatch) -> bytes:
    context = build_context(
        engine(),
        stacked_dossier(),
        reference="OCOP-2026-0042",
        status="submitted",
        files=[("Ảnh sản phẩm", None, "photo")],
        now=NOW,
        timezone="Asia/Ho_Chi_Minh",
    )
    html = render_html(context)
    if tight:
        monkeypatch.setattr(pdf_module._FormHTML, "TABLE_LINE_HEIGHT", 1.0)
        html = html.replace('line-height="1.6"', 'line-height="1.0"').replace(
            'line-height="1.5"', 'line-height="1.0"'
        )
    return html_to_pdf(html)


def test_no_two_text_lines_ink_overlaps(monkeypatch: pytest.MonkeyPatch) -> None:
    # One line of 11 pt text with a stacked mark over a capital inks about 1.5 em; two lines that
    # touch ink at least one line pitch more. Headings (12 pt) stay under the same bound.
    one_line_max = FONT_PT * 1.75
    assert tallest_band(rendered(False, monkeypatch)) < one_line_max
    assert tallest_band(rendered(True, monkeypatch)) >= one_line_max  # the old tight layout fails


def test_table_cells_are_regular_text_after_a_bold_section_title() -> None:
    context = build_context(
        engine(),
        DossierState(answers=answers()),
        reference="OCOP-2026-0042",
        status="submitted",
        files=[],
        now=NOW,
        timezone="Asia/Ho_Chi_Minh",
    )
    reader = PdfReader(io.BytesIO(html_to_pdf(render_html(context))))
    fonts: dict[str, str] = {}

    def visit(text: str, cm: object, tm: object, font: dict[str, object] | None, size: float) -> None:
        if text.strip() and font is not None:
            fonts.setdefault(text.strip(), str(font.get("/BaseFont", "")))

    reader.pages[0].extract_text(visitor_text=visit)
    assert "Bold" in fonts["2. CHỦ THỂ SẢN XUẤT"]  # the section title stays bold…
    assert "Bold" not in fonts["Tên chủ thể"]  # …the cells after it do not
