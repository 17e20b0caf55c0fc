"""Counts of dossiers for the officers' desk (/thongke and the export's filter menu), the names the desk
shows for statuses, communes and product sets, and the chart image of dossiers by status and commune.

Everything is counted in SQL (GROUP BY) within an officer's commune scope
(`StaffAccess.commune_filter()`: None = every commune). Status strings are read from `DossierStatus` at
run time, so statuses added by the review workflow appear without a change here; a status with no name
in templates/labels is shown as stored rather than breaking the desk.
"""

from __future__ import annotations

import hashlib
import io
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from common.render import Renderer
from dossier.models import Dossier, DossierStatus
from dossier.schema import Form
from storage.db import Database

FONT_FILE = Path(__file__).resolve().parent / "fonts" / "DejaVuSans.ttf"
FONT_BOLD_FILE = Path(__file__).resolve().parent / "fonts" / "DejaVuSans-Bold.ttf"
PRODUCT_SET_STEP = "product_group"
CHART_COMMUNES = 12  # bars in the commune chart; the rest are added up as "other"


# ---- names ------------------------------------------------------------------------------------
def known_statuses() -> list[str]:
    """Every status the workflow knows, in its order (read at run time)."""
    return [s.value for s in DossierStatus]


def ordered_statuses(found: Iterable[str]) -> list[str]:
    """The workflow's statuses, then any other status found in the data (sorted)."""
    known = known_statuses()
    return known + sorted(set(found) - set(known))


@dataclass(frozen=True)
class ProductSet:
    """A product set (QĐ 26/2026: 26 of them, numbered) or, when no set was chosen, a sector."""

    id: str
    number: int | None
    label: str

    @property
    def title(self) -> str:
        return f"{self.number}. {self.label}" if self.number is not None else self.label


def product_sets(form: Form) -> dict[str, ProductSet]:
    """Every product set and sector of the form's product-group step, by id."""
    out: dict[str, ProductSet] = {}
    if not form.has_step(PRODUCT_SET_STEP):
        return out
    for choice in form.step(PRODUCT_SET_STEP).choices:
        out[choice.id] = ProductSet(choice.id, choice.number, choice.label)
        for sub in choice.sub:
            out[sub.id] = ProductSet(sub.id, sub.number, sub.label)
    return out


def commune_key(commune: str) -> str:
    """A short stable key for a commune name (its names are too long for a button's 64 bytes)."""
    return hashlib.sha1(commune.encode("utf-8")).hexdigest()[:8]


@dataclass(frozen=True)
class DeskNames:
    """What the desk calls things: labels from templates/labels/desk2.yaml, status names (the dossier
    labels first, so the desk and the producers' list agree), communes and product sets."""

    renderer: Renderer
    sets: dict[str, ProductSet]

    def label(self, key: str, /, **context: Any) -> str:
        return self.renderer.label(f"desk2.{key}", **context)

    def status(self, status: str) -> str:
        """The status's short name (templates/labels/dossier.yaml, as on the producers' buttons); a
        status named nowhere is shown as stored."""
        try:
            return self.renderer.label(f"dossier.status_{status}")
        except KeyError:
            return status

    def commune(self, commune: str | None) -> str:
        return commune or self.label("no_commune")

    def product_set(self, set_id: str | None) -> str:
        if set_id is None:
            return self.label("no_product_set")
        found = self.sets.get(set_id)
        return found.title if found else set_id

    def product_set_number(self, set_id: str | None) -> int | None:
        found = self.sets.get(set_id) if set_id else None
        return found.number if found else None


def desk_names(renderer: Renderer, form: Form) -> DeskNames:
    return DeskNames(renderer, product_sets(form))


# ---- counting ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DossierFilter:
    """The export's filter (None: any); the commune scope is applied on top of it."""

    status: str | None = None
    commune: str | None = None
    product_set: str | None = None

    @property
    def empty(self) -> bool:
        return self.status is None and self.commune is None and self.product_set is None


def scope_clauses(
    communes: frozenset[str] | None, flt: DossierFilter | None = None
) -> list[ColumnElement[bool]]:
    """WHERE clauses for an officer's scope (None: every commune) and a filter."""
    clauses: list[ColumnElement[bool]] = []
    if communes is not None:
        clauses.append(Dossier.commune.in_(sorted(communes)))
    if flt is not None:
        if flt.status is not None:
            clauses.append(Dossier.status == flt.status)
        if flt.commune is not None:
            clauses.append(Dossier.commune == flt.commune)
        if flt.product_set is not None:
            clauses.append(Dossier.product_set == flt.product_set)
    return clauses


@dataclass(frozen=True)
class DeskStats:
    """Counts of the dossiers in one scope."""

    total: int
    by_status: list[tuple[str, int]]  # every known status in workflow order (zeros too), then others
    by_commune: list[tuple[str | None, int]]  # most first; None: commune not given yet
    by_product_set: list[tuple[str | None, int]]  # most first
    by_stars: list[tuple[int, int]]  # rated dossiers, fewest stars first

    def status_count(self, status: str) -> int:
        return dict(self.by_status).get(status, 0)


async def _grouped(
    session: AsyncSession, column: Any, where: Sequence[ColumnElement[bool]]
) -> list[tuple[Any, int]]:
    q: Select[Any] = select(column, func.count()).where(*where).group_by(column)
    return [(row[0], int(row[1])) for row in (await session.execute(q)).all()]


async def count_dossiers(db: Database, communes: frozenset[str] | None) -> DeskStats:
    """Counts by status, commune, product set and stars within `communes` (None: all)."""
    where = scope_clauses(communes)
    async with db.session() as s:
        statuses = dict(await _grouped(s, Dossier.status, where))
        by_commune = await _grouped(s, Dossier.commune, where)
        by_set = await _grouped(s, Dossier.product_set, where)
        by_stars = await _grouped(s, Dossier.stars, [*where, Dossier.stars.is_not(None)])
    by_status = [(status, statuses.get(status, 0)) for status in ordered_statuses(statuses)]
    return DeskStats(
        total=sum(statuses.values()),
        by_status=by_status,
        by_commune=_most_first(by_commune),
        by_product_set=_most_first(by_set),
        by_stars=sorted((int(k), v) for k, v in by_stars),
    )


async def count_matching(db: Database, communes: frozenset[str] | None, flt: DossierFilter) -> int:
    """How many dossiers in the scope match the filter."""
    async with db.session() as s:
        q = select(func.count()).select_from(Dossier).where(*scope_clauses(communes, flt))
        return int((await s.execute(q)).scalar_one())


def _most_first(rows: list[tuple[Any, int]]) -> list[tuple[Any, int]]:
    """Biggest count first; ties by name, the unknown (None) last."""
    return sorted(rows, key=lambda r: (-r[1], r[0] is None, str(r[0] or "")))


# ---- the chart ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChartText:
    """The words on the chart (from the labels file)."""

    title: str
    by_status: str
    by_commune: str
    other: str
    axis: str


def chart_text(names: DeskNames, scope: str) -> ChartText:
    return ChartText(
        title=names.label("chart.title", scope=scope),
        by_status=names.label("chart.by_status"),
        by_commune=names.label("chart.by_commune"),
        other=names.label("chart.other"),
        axis=names.label("chart.axis"),
    )


def _nfc(text: str) -> str:
    """Precomposed Vietnamese letters (typed text may come decomposed; the font shapes each glyph)."""
    return unicodedata.normalize("NFC", text)


def render_chart(stats: DeskStats, names: DeskNames, text: ChartText) -> bytes:
    """A PNG of two horizontal bar charts: dossiers by status and by commune (CPU-bound: call it in a
    worker thread). Matplotlib's Agg canvas, no pyplot (no global state); the repo's DejaVu Sans for
    every word, so Vietnamese letters render."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    font = FontProperties(fname=str(FONT_FILE))
    bold = FontProperties(fname=str(FONT_BOLD_FILE), size=14)
    statuses = [(_nfc(names.status(s)), n) for s, n in stats.by_status]
    communes = [(_nfc(names.commune(c)), n) for c, n in stats.by_commune[:CHART_COMMUNES]]
    rest = sum(n for _, n in stats.by_commune[CHART_COMMUNES:])
    if rest:
        communes.append((_nfc(text.other), rest))
    if not communes:
        communes = [(_nfc(names.commune(None)), 0)]

    heights = [max(len(statuses), 1), len(communes)]
    fig = Figure(figsize=(9, 1.6 + 0.42 * sum(heights)), dpi=110)
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 1, gridspec_kw={"height_ratios": heights})
    fig.suptitle(_nfc(text.title), fontproperties=bold)
    for ax, rows, title, colour in (
        (axes[0], statuses, text.by_status, "#2e7d32"),
        (axes[1], communes, text.by_commune, "#1565c0"),
    ):
        labels = [label for label, _ in rows]
        values = [value for _, value in rows]
        positions = list(range(len(rows)))
        bars = ax.barh(positions, values, color=colour)
        ax.set_yticks(positions, labels)
        ax.invert_yaxis()  # the first row on top
        ax.set_title(_nfc(title), fontproperties=font, fontsize=12, loc="left")
        ax.set_xlabel(_nfc(text.axis), fontproperties=font)
        top = max(values, default=0)
        ax.set_xlim(0, max(top * 1.15, 1))
        ax.xaxis.get_major_locator().set_params(integer=True)
        for label in ax.get_yticklabels() + ax.get_xticklabels():
            label.set_fontproperties(font)
        for bar, value in zip(bars, values, strict=True):
            ax.text(
                bar.get_width() + top * 0.01 + 0.02, bar.get_y() + bar.get_height() / 2, str(value),
                va="center", fontproperties=font, fontsize=10,
            )
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout(h_pad=1.5)
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()
