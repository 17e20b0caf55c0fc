"""The commune directory: maps a commune a producer names (often a pre-2025 one) to today's unit.

The data (`knowledge/data/communes.yaml`) lists the current units, the old units with the unit each went
to (or null when unknown, `partial` when it was split), and parts of units outside the old district.
`resolve()` is tolerant: with or without diacritics, with or without "xã"/"thị trấn"/"phường", small
typos, or the name inside a longer sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz, process

from knowledge.normalize import fold_text

COMMUNES_FILE = Path(__file__).resolve().parent / "data" / "communes.yaml"
# Fuzzy name match needed to accept a typed name (rapidfuzz ratio on folded names, 0-100).
MIN_NAME_SCORE = 82.0

_KIND_WORDS = {
    "xa": "xã",
    "thi tran": "thị trấn",
    "tt": "thị trấn",
    "phuong": "phường",
    "p": "phường",
}
# The old district's name (folded): it is also the ward's, which it names only with "phường" before it.
DISTRICT_NAMES = frozenset({"chuong my"})
_NOISE_RE = re.compile(
    r"\b(?:cu|moi|truoc day|truoc|nay|bay gio|hien nay|o|tai|thuoc|em|toi|minh|nha|huyen chuong my|"
    r"chuong my cu|ha noi|tp ha noi|thanh pho ha noi|ha tay)\b"
)


@dataclass(frozen=True)
class CommuneMatch:
    """What a named commune is today.

    `old_name`/`kind` are the unit the user named (as written in the data); `new_unit` is the current
    unit it became (None when unknown); `partial` means it was split (`also` lists the other units that
    took a part); `is_current` means the user already named a current unit.
    """

    old_name: str
    kind: str
    new_unit: str | None
    new_kind: str | None
    partial: bool
    also: tuple[str, ...]
    provisional: bool
    note: str
    is_current: bool
    sources: tuple[str, ...]
    district: str | None = None
    score: float = 100.0
    area_km2: float | None = None  # a current unit's, when known
    population: int | None = None

    @property
    def new_unit_label(self) -> str | None:
        """'xã Phú Nghĩa' / 'phường Chương Mỹ' (None when the new unit is unknown)."""
        if self.new_unit is None:
            return None
        return f"{self.new_kind} {self.new_unit}" if self.new_kind else self.new_unit


@dataclass(frozen=True)
class CurrentUnit:
    name: str
    kind: str
    provisional: bool
    note: str
    sources: tuple[str, ...]
    area_km2: float | None = None
    population: int | None = None

    @property
    def label(self) -> str:
        return f"{self.kind} {self.name}"


def _split_kind(text: str) -> tuple[str | None, str]:
    """('thị trấn', 'xuan mai') from 'thi tran xuan mai'; kind None when not given."""
    folded = fold_text(text)
    folded = _NOISE_RE.sub(" ", folded)
    folded = " ".join(folded.split())
    for word in sorted(_KIND_WORDS, key=len, reverse=True):
        if folded.startswith(word + " "):
            return _KIND_WORDS[word], folded[len(word) + 1 :].strip()
    return None, folded


class CommuneDirectory:
    """Old and current units of the former Chương Mỹ district; see `resolve`."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.updated = data.get("updated")
        self._current = [
            CurrentUnit(
                name=str(u["name"]),
                kind=str(u.get("kind") or "xã"),
                provisional=bool(u.get("provisional", False)),
                note=str(u.get("note") or ""),
                sources=tuple(str(s) for s in u.get("sources") or ()),
                area_km2=float(u["area_km2"]) if u.get("area_km2") is not None else None,
                population=int(u["population"]) if u.get("population") is not None else None,
            )
            for u in data.get("current_units") or []
        ]
        current_by_name = {fold_text(u.name): u for u in self._current}
        self._entries: list[CommuneMatch] = []
        for raw in list(data.get("old_units") or []) + list(data.get("outside_parts") or []):
            new_unit = raw.get("new_unit")
            current = current_by_name.get(fold_text(new_unit)) if new_unit else None
            self._entries.append(
                CommuneMatch(
                    old_name=str(raw["name"]),
                    kind=str(raw.get("kind") or "xã"),
                    new_unit=str(new_unit) if new_unit else None,
                    new_kind=current.kind if current else None,
                    partial=bool(raw.get("partial", False)),
                    also=tuple(str(a) for a in raw.get("also") or ()),
                    provisional=bool(raw.get("provisional", False)) or bool(current and current.provisional),
                    note=str(raw.get("note") or ""),
                    is_current=False,
                    sources=tuple(str(s) for s in raw.get("sources") or ()),
                    district=str(raw["district"]) if raw.get("district") else None,
                )
            )
        for unit in self._current:
            self._entries.append(
                CommuneMatch(
                    old_name=unit.name,
                    kind=unit.kind,
                    new_unit=unit.name,
                    new_kind=unit.kind,
                    partial=False,
                    also=(),
                    provisional=unit.provisional,
                    note=unit.note,
                    is_current=True,
                    sources=unit.sources,
                    area_km2=unit.area_km2,
                    population=unit.population,
                )
            )
        self._names = sorted({fold_text(e.old_name) for e in self._entries}, key=len, reverse=True)

    @classmethod
    def load(cls, path: Path | str | None = None) -> CommuneDirectory:
        """Read communes.yaml (default: knowledge/data/communes.yaml)."""
        with open(Path(path) if path else COMMUNES_FILE, encoding="utf-8") as fh:
            return cls(yaml.safe_load(fh) or {})

    def unit_names(self) -> list[tuple[str, tuple[str, ...]]]:
        """(name, the current units it is part of) for every old unit whose new unit is known, and for
        every current unit: what the matcher tags place names with."""
        found: dict[str, tuple[str, ...]] = {}
        for entry in self._entries:
            if entry.new_unit is None:
                continue
            units = (entry.new_unit, *entry.also)
            found[entry.old_name] = tuple(dict.fromkeys(found.get(entry.old_name, ()) + units))
        return list(found.items())

    def current_units(self) -> list[CurrentUnit]:
        """The units in force today (from 1/7/2025), in data order."""
        return list(self._current)

    def _pick(self, name: str, kind: str | None, score: float) -> CommuneMatch:
        """Among units with this folded name, the one that fits the typed kind (current first)."""
        same = [e for e in self._entries if fold_text(e.old_name) == name]
        if kind is not None:
            with_kind = [e for e in same if e.kind == kind]
            same = with_kind or same
            # "xã Xuân Mai" is the current commune; "thị trấn Xuân Mai" is the old town.
            same.sort(key=lambda e: (not e.is_current, e.district is not None))
        else:
            # No kind given: an old name that maps to itself is the current unit, else the old unit.
            same.sort(key=lambda e: (e.district is not None, e.is_current))
            old = same[0]
            if not old.is_current and old.new_unit and fold_text(old.new_unit) == name:
                current = next((e for e in same if e.is_current), None)
                if current is not None:
                    return _with_score(current, score)
        return _with_score(same[0], score)

    def resolve(self, text: str) -> CommuneMatch | None:
        """The unit named in `text` (exact, fuzzy, or a name inside a sentence), or None."""
        kind, name = _split_kind(text)
        if not name:
            return None
        if name in self._names:
            return self._pick(name, kind, 100.0)
        best = process.extractOne(name, self._names, scorer=fuzz.ratio, processor=None)
        if best is not None and best[1] >= MIN_NAME_SCORE:
            return self._pick(best[0], kind, float(best[1]))
        padded = f" {fold_text(text)} "
        for candidate in self._names:  # longest names first
            if f" {candidate} " in padded:
                found_kind = None
                for word, label in _KIND_WORDS.items():
                    if f" {word} {candidate} " in padded:
                        found_kind = label
                return self._pick(candidate, found_kind, 90.0)
        return None

    def units_named(self, names: Iterable[str]) -> tuple[list[str], list[str]]:
        """(today's units the typed names cover, in order and each once — both units of a split commune —,
        the names that are no known unit)."""
        found: list[str] = []
        unknown: list[str] = []
        for name in names:
            match = self.resolve(name)
            if match is None or match.new_unit is None:
                unknown.append(name)
                continue
            for unit in (match.new_unit, *(match.also if match.partial else ())):
                if unit not in found:
                    found.append(unit)
        return found, unknown

    def mentioned(self, text: str) -> CommuneMatch | None:
        """The unit a longer message names ("tôi ở Tốt Động cũ", "xã Văn Võ cũ"), an old unit rather
        than a current one when it names both; None when it names none. Words like "huyện Chương Mỹ
        cũ" do not count as naming phường Chương Mỹ."""
        padded = " " + " ".join(_NOISE_RE.sub(" ", fold_text(text)).split()) + " "
        found: list[CommuneMatch] = []
        for candidate in self._names:  # longest names first; a shorter name inside a longer one is skipped
            if f" {candidate} " in padded:
                kinds = (label for word, label in _KIND_WORDS.items() if f" {word} {candidate} " in padded)
                kind = next(kinds, None)
                if kind is None and candidate in DISTRICT_NAMES:
                    continue  # "ở Chương Mỹ" is the old district, not the ward
                found.append(self._pick(candidate, kind, 90.0))
                padded = padded.replace(f" {candidate} ", " ")
        found.sort(key=lambda m: m.is_current)
        return found[0] if found else None


def _with_score(match: CommuneMatch, score: float) -> CommuneMatch:
    if match.score == score:
        return match
    return CommuneMatch(**{**match.__dict__, "score": score})
