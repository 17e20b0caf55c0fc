"""Renders the filled registration form ("Phiếu đăng ký sản phẩm tham gia Chương trình OCOP") as PDF.

Jinja2 (autoescaped, templates/dossier/form_pdf.html) produces simple HTML (a label / value table per
section) that fpdf2's HTML layer lays out with the shipped DejaVu Sans font. Lines get the height
Vietnamese needs (stacked tone marks such as "Ữ", "ặ" rise above the Latin ascent), so no line's marks
touch the line above. Characters the font lacks (emoji and the like) are removed from the answers first.
"""

from __future__ import annotations

import asyncio
import copy
import io
import logging
import multiprocessing
import threading
import unicodedata
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fontTools.ttLib import TTFont
from fpdf import FPDF
from fpdf.fonts import FontFace, SubsetMap, TTFFont
from fpdf.html import HTML2FPDF
from markupsafe import Markup, escape

from common.render import Renderer
from dossier.engine import DossierEngine, DossierState

log = logging.getLogger(__name__)

# DejaVu Sans cut down to Latin (with Vietnamese), Greek, Cyrillic, punctuation and common symbols
# (dossier/fonts/README.md says how): a third of the glyphs, so parsing and subsetting cost less.
FONTS_DIR = Path(__file__).resolve().parent / "fonts"
FONT_FAMILY = "DejaVu"
REGULAR_FONT = FONTS_DIR / "DejaVuSans.ttf"
BOLD_FONT = FONTS_DIR / "DejaVuSans-Bold.ttf"
TEMPLATE = "dossier/form_pdf"
# Line height as a multiple of the font size: enough for a stacked tone mark over a capital.
LINE_HEIGHT = 1.6
# An answer longer than this (or on several lines) is printed under its section's table: a table row
# must fit on one page.
INLINE_LIMIT = 240


@lru_cache(maxsize=1)
def supported_codepoints() -> frozenset[int]:
    """Code points both shipped fonts can draw."""
    sets = []
    for path in (REGULAR_FONT, BOLD_FONT):
        font = TTFont(str(path), lazy=True)
        sets.append(set(font.getBestCmap()))
        font.close()
    return frozenset(set.intersection(*sets))


def printable(text: str) -> str:
    """The text with characters the font cannot draw removed (emoji, joiners, control characters)."""
    supported = supported_codepoints()
    text = unicodedata.normalize("NFC", text)
    out = []
    for ch in text:
        if ch == "\n":
            out.append(ch)
        elif ch == "\t":
            out.append(" ")
        elif ord(ch) in supported and unicodedata.category(ch) not in ("Cc", "Cf", "Co", "Cs"):
            out.append(ch)
    return "".join(out)


def _nl2br(value: str) -> Markup:
    """Escape, then keep the user's line breaks."""
    return Markup("<br>").join(escape(line) for line in str(value).split("\n"))


@lru_cache(maxsize=1)
def _renderer() -> Renderer:
    renderer = Renderer()
    renderer.env.filters["nl2br"] = _nl2br
    return renderer


def build_context(
    engine: DossierEngine,
    state: DossierState,
    *,
    reference: str | None,
    status: str,
    files: Sequence[tuple[str, str | None, str]],
    now: datetime,
    timezone: str,
) -> dict[str, Any]:
    """The template's data: sections of (label, value, long) and the attachments, all printable."""
    local = now.astimezone(ZoneInfo(timezone))
    sections = []
    paper = []
    answers = engine.effective_answers(state.answers)
    for section in engine.review(state):
        items = []
        for item in section.items:
            if item.is_file:
                continue
            if item.step_id.endswith("_mode") and answers.get(item.step_id) == "paper":
                paper.append(item.label)
            value = printable(item.value) if item.value is not None else None
            long = bool(value) and (len(value) > INLINE_LIMIT or "\n" in value)
            items.append({"label": item.label, "value": value, "long": long})
        if items:
            sections.append({"title": section.title, "rows": items})
    counts: dict[str, int] = {}
    for label, _name, _kind in files:
        counts[label] = counts.get(label, 0) + 1
    seen: dict[str, int] = {}
    named_files = []
    for label, name, kind in files:
        seen[label] = seen.get(label, 0) + 1
        named_files.append(
            {
                "label": printable(label),
                "name": printable(name or ""),
                "kind": kind,
                "number": seen[label],
                "count": counts[label],
            }
        )
    return {
        "title": engine.form.title,
        "reference": reference,
        "status": status,
        "day": f"{local.day:02d}",
        "month": f"{local.month:02d}",
        "year": local.year,
        "printed_at": local.strftime("%d/%m/%Y %H:%M"),
        "commune": printable(engine.locality(state.answers)),
        "sections": sections,
        "files": named_files,
        "paper": paper,
        "representative": printable(str(answers.get("representative") or "")),
        "representative_title": printable(str(answers.get("representative_title") or "")),
        "producer_name": printable(str(answers.get("producer_name") or "")),
        "missing": [m.label for m in engine.missing(state)],
    }


def render_html(context: dict[str, Any]) -> str:
    return _renderer().render(TEMPLATE, **context)


def html_to_pdf(html: str, title: str = "", created: datetime | None = None) -> bytes:
    """Lay out the HTML on A4 pages with the DejaVu font; page numbers in the footer. `created`: the
    document's creation date (the same input then gives the same bytes)."""
    pdf = _FormPDF(format="A4", unit="mm")
    if created is not None:
        pdf.set_creation_date(created)
    pdf.set_margins(20, 15, 20)
    pdf.set_auto_page_break(True, margin=18)
    _add_font(pdf, "", REGULAR_FONT)
    _add_font(pdf, "B", BOLD_FONT)
    # No italic face is shipped (and loading a font is most of the render time): the template uses
    # no <i>, and user text is always escaped, so it cannot ask for one.
    pdf.set_title(title)
    pdf.set_creator("Trợ lý OCOP")
    pdf.add_page()
    pdf.set_font(FONT_FAMILY, size=11)
    layout = _FormHTML(
        pdf,
        font_family=FONT_FAMILY,
        tag_styles={
            "h1": FontFace(family=FONT_FAMILY, emphasis="BOLD", size_pt=12),
            "h2": FontFace(family=FONT_FAMILY, emphasis="BOLD", size_pt=11.5),
            "h3": FontFace(family=FONT_FAMILY, emphasis="BOLD", size_pt=11),
        },
        warn_on_tags_not_matching=False,
        table_line_separators=True,  # every row ruled: a table broken over two pages stays closed
    )
    layout.feed(html)
    return bytes(pdf.output())


@lru_cache(maxsize=4)
def _parsed_font(style: str, path: Path) -> tuple[TTFFont, bytes]:
    """The font as fpdf2 reads it (metrics, character widths, glyph ids), parsed once per process,
    and the file's bytes."""
    pdf = FPDF()
    pdf.add_font(FONT_FAMILY, style, str(path))
    return pdf.fonts[f"{FONT_FAMILY.lower()}{style}"], path.read_bytes()


def _add_font(pdf: FPDF, style: str, path: Path) -> None:
    """`pdf.add_font` without parsing the font again: a copy of the parsed font with this document's
    own glyph subset and its own fontTools object (the subsetter changes that one when the PDF is
    written). Falls back to `add_font` if fpdf2's font object is not what this expects."""
    key = f"{FONT_FAMILY.lower()}{style}"
    try:
        parsed, data = _parsed_font(style, path)
        font = copy.copy(parsed)
        font.i = len(pdf.fonts) + 1
        font.ttfont = TTFont(io.BytesIO(data), recalcTimestamp=False, lazy=True)
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        font.subset = SubsetMap(font)
    except (AttributeError, TypeError) as exc:  # a newer fpdf2: parse as usual
        log.warning("PDF font cache unavailable (%s); parsing the font for each PDF", exc)
        pdf.add_font(FONT_FAMILY, style, str(path))
        return
    pdf.fonts[key] = font


class _FormHTML(HTML2FPDF):
    """fpdf2's HTML layer with table rows as tall as Vietnamese needs and no heading row (every row
    of a label / value table is data, printed in the regular face)."""

    TABLE_LINE_HEIGHT = LINE_HEIGHT

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr" and self.table is not None and not self.table.rows:
            # A table takes its cells' font from the PDF's current font at its first row: after a
            # bold section title that font is still bold, and every cell would be. Cells are regular.
            self.pdf.set_font(FONT_FAMILY, "", self.pdf.font_size_pt)
        super().handle_starttag(tag, attrs)
        if tag == "table" and self.table is not None:
            self.table._first_row_as_headings = False
            self.table._num_heading_rows = 0


class _FormPDF(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT_FAMILY, size=8)
        self.cell(0, 6, f"{self.page_no()}/{{nb}}", align="C")


# ----------------------------------------------------------------------------------- process pool

_pool: ProcessPoolExecutor | None = None
_pool_lock = threading.Lock()


def _warm() -> None:
    """Run once in each worker process: the fonts are parsed before the first PDF asks for them."""
    supported_codepoints()
    _parsed_font("", REGULAR_FONT)
    _parsed_font("B", BOLD_FONT)


def _process_pool(processes: int) -> ProcessPoolExecutor:
    """The one pool of layout processes of this process, started on first use ("spawn": a fresh
    interpreter, safe beside the event loop's threads) and warmed at once."""
    global _pool
    with _pool_lock:
        if _pool is None:
            context = multiprocessing.get_context("spawn")
            _pool = ProcessPoolExecutor(processes, mp_context=context, initializer=_warm)
            _pool.submit(_warm)  # start the processes now, not at the first PDF
        return _pool


def start_pdf_processes(processes: int) -> None:
    """Start the layout processes ahead of the first PDF (0: none, PDFs are laid out in a thread)."""
    if processes > 0:
        _process_pool(processes)


def _drop_pool(broken: ProcessPoolExecutor) -> None:
    global _pool
    with _pool_lock:
        if _pool is broken:
            _pool = None
    broken.shutdown(wait=False, cancel_futures=True)


async def layout_pdf(html: str, title: str, created: datetime | None, *, processes: int) -> bytes:
    """`html_to_pdf` away from the event loop: in a layout process (`processes` > 0), so the bot's
    interpreter keeps answering others, or in a thread. A broken pool (a worker killed) is replaced
    next time; this PDF is laid out in a thread."""
    if processes > 0:
        pool = _process_pool(processes)
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, html_to_pdf, html, title, created)
        except BrokenProcessPool:
            log.warning("PDF layout process died; laying this PDF out in a thread")
            _drop_pool(pool)
    return await asyncio.to_thread(html_to_pdf, html, title, created)


def dossier_html(
    engine: DossierEngine,
    state: DossierState,
    *,
    reference: str | None,
    status: str,
    files: Sequence[tuple[str, str | None, str]],
    now: datetime,
    timezone: str = "Asia/Ho_Chi_Minh",
) -> str:
    """The HTML of this dossier's printout (about a millisecond; the layout is what costs)."""
    context = build_context(
        engine, state, reference=reference, status=status, files=files, now=now, timezone=timezone
    )
    return render_html(context)


def render_dossier_pdf(
    engine: DossierEngine,
    state: DossierState,
    *,
    reference: str | None,
    status: str,
    files: Sequence[tuple[str, str | None, str]],
    now: datetime,
    timezone: str = "Asia/Ho_Chi_Minh",
) -> bytes:
    """The registration form of this dossier as PDF bytes. `files`: (step label, file name, kind)."""
    html = dossier_html(
        engine, state, reference=reference, status=status, files=files, now=now, timezone=timezone
    )
    return html_to_pdf(html, title=engine.form.title, created=now)
