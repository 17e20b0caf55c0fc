"""The dossiers in an officer's scope as an Excel workbook and a CSV file (/xuat).

One row per dossier, Vietnamese headers (templates/labels/desk2.yaml and the form's own step labels).
The workbook has an "all" sheet and one sheet per status, dates as real dates shown dd/mm/yyyy, column
widths and a frozen header; it is written with openpyxl's write-only mode, so it streams to a file
instead of holding a cell object per value. The CSV is UTF-8 with a byte-order mark (Excel then reads
the Vietnamese letters right), dates written dd/mm/yyyy.

Rows are read in keyset pages (`WHERE id > last ORDER BY id LIMIT n`), each in its own short
transaction, as plain rows rather than ORM objects: thousands of dossiers never sit in memory at once,
and the database connection is free for other users between pages. Each page is written in a worker
thread so the bot keeps answering meanwhile.

Text a producer typed is always written as text: a value starting with "=" never becomes a formula
in the workbook, and in the CSV such values get the usual leading apostrophe.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from dossier.engine import DossierEngine
from dossier.models import Dossier
from dossier.stats import DeskNames, DossierFilter, ordered_statuses, scope_clauses
from storage.db import Database
from storage.models import User

PAGE_ROWS = 500
DATE_FORMAT = "DD/MM/YYYY"
ANSWER_COLUMNS = ("producer_type", "producer_name", "representative", "phone")  # step ids of the form
SHEET_TITLE_BAD = re.compile(r"[\[\]:*?/\\]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    key: str
    kind: str  # text | int | float | date
    width: float


COLUMNS: tuple[Column, ...] = (
    Column("reference", "text", 17),
    Column("id", "int", 8),
    Column("product_name", "text", 32),
    Column("status", "text", 18),
    Column("commune", "text", 18),
    Column("product_set_number", "int", 8),
    Column("product_set", "text", 34),
    Column("producer_type", "text", 16),
    Column("producer_name", "text", 32),
    Column("representative", "text", 22),
    Column("phone", "text", 14),
    Column("owner", "text", 22),
    Column("assisted", "text", 10),
    Column("entered_by", "text", 20),
    Column("created", "date", 12),
    Column("submitted", "date", 12),
    Column("updated", "date", 12),
    Column("stars", "int", 7),
    Column("score", "float", 7),
    Column("certificate_no", "text", 18),
    Column("valid_until", "date", 12),
)


@dataclass(frozen=True)
class ExportRow:
    """One dossier as the files show it: `values` in COLUMNS order; `status` routes it to its sheet."""

    id: int
    status: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class ExportFiles:
    xlsx: bytes
    csv: bytes
    rows: int
    by_status: dict[str, int]


def headers(names: DeskNames, engine: DossierEngine) -> list[str]:
    """The header row: the form's own labels for answers, the desk's labels for the rest."""
    form = engine.form
    out = []
    for col in COLUMNS:
        if col.key in ANSWER_COLUMNS and form.has_step(col.key):
            out.append(form.step(col.key).label)
        else:
            out.append(names.label(f"export.{col.key}"))
    return out


def _query(communes: frozenset[str] | None, flt: DossierFilter) -> Any:
    owner = aliased(User, name="owner")
    entered = aliased(User, name="entered")
    return (
        select(
            Dossier.id,
            Dossier.reference,
            Dossier.product_name,
            Dossier.status,
            Dossier.commune,
            Dossier.product_set,
            Dossier.answers,
            Dossier.created_at,
            Dossier.submitted_at,
            Dossier.updated_at,
            Dossier.stars,
            Dossier.score,
            Dossier.certificate_no,
            Dossier.valid_until,
            owner.full_name,
            Dossier.assisted,
            entered.full_name,
        )
        .outerjoin(owner, owner.id == Dossier.owner_id)
        .outerjoin(entered, entered.id == Dossier.entered_by)
        .where(*scope_clauses(communes, flt))
        .order_by(Dossier.id)
    )


class RowMaker:
    """Turns a database row into an ExportRow (names, local dates, answers as a person reads them)."""

    def __init__(self, names: DeskNames, engine: DossierEngine, timezone: str) -> None:
        self.names = names
        self.engine = engine
        self.tz = ZoneInfo(timezone)
        self.yes = names.label("export.assisted_mark")

    def _day(self, value: datetime | None) -> date | None:
        return value.astimezone(self.tz).date() if value is not None else None

    def _answer(self, answers: dict[str, Any], step_id: str) -> str:
        form = self.engine.form
        if not form.has_step(step_id):
            return ""
        try:
            return self.engine.display(form.step(step_id), (answers or {}).get(step_id))
        except Exception:  # an answer an older form stored differently: shown as stored
            return str((answers or {}).get(step_id) or "")

    def make(self, r: Any) -> ExportRow:
        (did, reference, product_name, status, commune, product_set, answers, created, submitted, updated,
         stars, score, certificate_no, valid_until, owner_name, assisted, entered_name) = r
        n = self.names
        values = {
            "reference": reference or "",
            "id": did,
            "product_name": product_name or "",
            "status": n.status(status),
            "commune": commune or "",
            "product_set_number": n.product_set_number(product_set),
            "product_set": n.product_set(product_set) if product_set else "",
            "producer_type": self._answer(answers, "producer_type"),
            "producer_name": self._answer(answers, "producer_name"),
            "representative": self._answer(answers, "representative"),
            "phone": self._answer(answers, "phone"),
            "owner": owner_name or "",
            "assisted": self.yes if assisted else "",
            "entered_by": (entered_name or "") if assisted else "",
            "created": self._day(created),
            "submitted": self._day(submitted),
            "updated": self._day(updated),
            "stars": stars,
            "score": score,
            "certificate_no": certificate_no or "",
            "valid_until": valid_until,
        }
        return ExportRow(did, status, tuple(values[c.key] for c in COLUMNS))


async def stream_rows(
    db: Database,
    communes: frozenset[str] | None,
    flt: DossierFilter,
    maker: RowMaker,
    page: int = PAGE_ROWS,
) -> AsyncIterator[list[ExportRow]]:
    """The matching dossiers in id order, a page at a time (one short transaction per page)."""
    base = _query(communes, flt)
    last = 0
    while True:
        async with db.session() as s:
            rows = (await s.execute(base.where(Dossier.id > last).limit(page))).all()
        if not rows:
            return
        yield [maker.make(r) for r in rows]
        if len(rows) < page:
            return
        last = rows[-1][0]


async def status_counts(db: Database, communes: frozenset[str] | None, flt: DossierFilter) -> dict[str, int]:
    async with db.session() as s:
        q = select(Dossier.status, func.count()).where(*scope_clauses(communes, flt)).group_by(Dossier.status)
        return {row[0]: int(row[1]) for row in (await s.execute(q)).all()}


def sheet_title(name: str, taken: set[str]) -> str:
    """A worksheet title Excel accepts (≤ 31 characters, none of []:*?/\\), unique in the workbook."""
    base = SHEET_TITLE_BAD.sub(" ", name).strip()[:31] or "Sheet"
    title, n = base, 2
    while title.lower() in taken:
        suffix = f" ({n})"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(title.lower())
    return title


class XlsxWriter:
    """A write-only workbook: the "all" sheet first, then a sheet per status (created when first needed,
    in the order given), each with the header row frozen, widths and an auto-filter."""

    def __init__(self, header: Sequence[str], all_title: str, status_titles: dict[str, str]) -> None:
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Font, PatternFill

        self.wb = Workbook(write_only=True)
        self.header = list(header)
        self.status_titles = status_titles
        self.bold = Font(bold=True)
        self.fill = PatternFill("solid", fgColor="DDEBF7")
        self.wrap = Alignment(wrap_text=True, vertical="top")
        self.taken: set[str] = set()
        self.sheets: dict[str | None, Any] = {}
        self.counts: dict[str | None, int] = {}
        self._sheet(None, all_title)
        for status, title in status_titles.items():
            self._sheet(status, title)

    def _sheet(self, key: str | None, title: str) -> Any:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.utils import get_column_letter

        ws = self.wb.create_sheet(sheet_title(title, self.taken))
        for i, col in enumerate(COLUMNS, start=1):
            ws.column_dimensions[get_column_letter(i)].width = col.width
        ws.freeze_panes = "A2"
        cells = []
        for text in self.header:
            cell = WriteOnlyCell(ws, value=text)
            cell.font = self.bold
            cell.fill = self.fill
            cell.alignment = self.wrap
            cells.append(cell)
        ws.append(cells)
        self.sheets[key] = ws
        self.counts[key] = 0
        return ws

    def _cells(self, ws: Any, row: ExportRow) -> list[Any]:
        from openpyxl.cell import WriteOnlyCell

        out: list[Any] = []
        for col, value in zip(COLUMNS, row.values, strict=True):
            if value is None or value == "":
                out.append(None)
                continue
            cell = WriteOnlyCell(ws, value=value)
            if col.kind == "date":
                cell.number_format = DATE_FORMAT
            elif col.kind == "text":
                cell.data_type = "s"  # typed text stays text, even "=…" (never a formula)
            out.append(cell)
        return out

    def add(self, rows: Sequence[ExportRow]) -> None:
        for row in rows:
            ws = self.sheets.get(row.status)
            if ws is None:  # a status that appeared during the export
                ws = self._sheet(row.status, self.status_titles.get(row.status, row.status))
            for key, sheet in ((None, self.sheets[None]), (row.status, ws)):
                sheet.append(self._cells(sheet, row))
                self.counts[key] += 1

    def finish(self) -> bytes:
        for key, ws in self.sheets.items():
            last = self.counts[key] + 1
            from openpyxl.utils import get_column_letter

            ws.auto_filter.ref = f"A1:{get_column_letter(len(COLUMNS))}{last}"
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "export.xlsx"
            self.wb.save(path)
            return path.read_bytes()


class CsvWriter:
    """UTF-8 with a byte-order mark, comma-separated, dates dd/mm/yyyy, numbers as written."""

    def __init__(self, header: Sequence[str]) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer)
        self.writer.writerow(header)

    @staticmethod
    def _text(value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, date):
            return value.strftime("%d/%m/%Y")
        if isinstance(value, float):
            return f"{value:g}"
        text = str(value)
        return "'" + text if text.startswith(FORMULA_START) else text

    def add(self, rows: Sequence[ExportRow]) -> None:
        for row in rows:
            self.writer.writerow([self._text(v) for v in row.values])

    def finish(self) -> bytes:
        return self.buffer.getvalue().encode("utf-8-sig")


async def export_dossiers(
    db: Database,
    communes: frozenset[str] | None,
    flt: DossierFilter,
    names: DeskNames,
    engine: DossierEngine,
    timezone: str,
) -> ExportFiles:
    """Both files for the dossiers in `communes` (None: all) matching `flt`."""
    counts = await status_counts(db, communes, flt)
    header = headers(names, engine)
    titles = {s: names.status(s) for s in ordered_statuses(counts) if counts.get(s)}
    xlsx = await asyncio.to_thread(XlsxWriter, header, names.label("export.sheet_all"), titles)
    table = CsvWriter(header)
    maker = RowMaker(names, engine, timezone)
    total = 0
    async for page in stream_rows(db, communes, flt, maker):
        await asyncio.to_thread(xlsx.add, page)
        table.add(page)
        total += len(page)
    content = await asyncio.to_thread(xlsx.finish)
    by_status = {k: v for k, v in xlsx.counts.items() if k is not None}
    return ExportFiles(content, table.finish(), total, by_status)
