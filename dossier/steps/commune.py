"""The commune step: today's commune/ward typed (an old, merged name is mapped to today's unit and
confirmed) or pressed from the list of today's units.

Stored value: {unit, kind, old, old_kind, typed, provisional}; without a commune directory, the typed
text as {unit: None, typed}.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from dossier.schema import Step, fill
from dossier.steps.base import (
    RETYPE,
    CommuneMatchLike,
    Current,
    Pending,
    PromptChoice,
    Question,
    Result,
    Stay,
    StepContext,
    StepKind,
    Store,
    str_tuple,
)
from knowledge.normalize import fold_text

MAX_TYPED = 200


@dataclass(frozen=True)
class CommuneConfirm(Pending):
    """An old commune name was typed: which of today's units (candidates) the producer is in."""

    typed: str = ""
    old: str = ""
    old_kind: str = ""
    candidates: tuple[str, ...] = ()
    unknown: bool = False  # the merger is not known: the candidates are every current unit
    partial: bool = False
    provisional: bool = False
    note: str | None = None

    tag = "commune"
    sub_level = True

    def _fields(self) -> dict[str, Any]:
        return {
            "typed": self.typed,
            "old": self.old,
            "old_kind": self.old_kind,
            "candidates": list(self.candidates),
            "unknown": self.unknown,
            "partial": self.partial,
            "provisional": self.provisional,
            "note": self.note,
        }

    @classmethod
    def _read(cls, step: str, data: dict[str, Any]) -> Pending:
        note = data.get("note")
        return cls(
            step,
            typed=str(data.get("typed") or ""),
            old=str(data.get("old") or ""),
            old_kind=str(data.get("old_kind") or ""),
            candidates=str_tuple(data.get("candidates") or []),
            unknown=bool(data.get("unknown")),
            partial=bool(data.get("partial")),
            provisional=bool(data.get("provisional")),
            note=None if note is None else str(note),
        )


class CommuneKind(StepKind):
    type = "commune"
    messages = ("commune_not_found",)

    def read_text(self, ctx: StepContext, cur: Current, text: str, today: date) -> Result:
        step = cur.step
        if ctx.communes is None:
            if len(text) > MAX_TYPED:
                return ctx.refuse("too_long", step, max=MAX_TYPED, length=len(text))
            return Store({"unit": None, "kind": None, "old": None, "typed": text})
        match = ctx.communes.resolve(text) if len(text) <= MAX_TYPED else None
        if match is None:
            return ctx.refuse("commune_not_found", step)
        if match.is_current:
            unit = match.new_unit or match.old_name
            return Store(_value(unit, unit_kind(ctx, unit), text, match))
        candidates: list[str] = []
        if match.new_unit:
            candidates.append(match.new_unit)
        candidates.extend(u for u in (match.also or ()) if u not in candidates)
        known = {name for _, name in current_units(ctx)}
        candidates = [c for c in candidates if c in known]
        unknown = not candidates
        if unknown:
            candidates = [name for _, name in current_units(ctx)]
        return Stay(
            CommuneConfirm(
                step.id,
                typed=text,
                old=match.old_name,
                old_kind=match.kind,
                candidates=tuple(candidates),
                unknown=unknown,
                partial=bool(match.partial),
                provisional=bool(match.provisional),
                note=match.note,
            )
        )

    def press(self, ctx: StepContext, cur: Current, value: str) -> Result:
        pending = cur.pending if isinstance(cur.pending, CommuneConfirm) else None
        if pending is not None:
            if value == RETYPE:
                return Stay(None)
            if not value.isdigit() or not 0 <= int(value) < len(pending.candidates):
                return ctx.stale()
            unit = pending.candidates[int(value)]
            return Store(
                {
                    "unit": unit,
                    "kind": unit_kind(ctx, unit),
                    "old": pending.old,
                    "old_kind": pending.old_kind,
                    "typed": pending.typed,
                    "provisional": pending.provisional,
                }
            )
        units = current_units(ctx)
        if not value.isdigit() or not 0 <= int(value) < len(units):
            return ctx.stale()
        kind, unit = units[int(value)]
        return Store({"unit": unit, "kind": kind, "old": None, "typed": None})

    def question(self, ctx: StepContext, cur: Current, keep: tuple[PromptChoice, ...]) -> Question:
        pending = cur.pending if isinstance(cur.pending, CommuneConfirm) else None
        if pending is not None:
            labels = [unit_label(ctx, name) for name in pending.candidates]
            choices = tuple(PromptChoice(label, str(i)) for i, label in enumerate(labels))
            detail = {**pending.to_json(), "candidate_labels": labels}
            return Question(
                (*choices, PromptChoice(ctx.label(RETYPE), RETYPE)), "text", "commune_confirm", detail=detail
            )
        choices = tuple(
            PromptChoice(fill(ctx.form.display["commune_current"], kind=k, unit=n).strip(), str(i))
            for i, (k, n) in enumerate(current_units(ctx))
        )
        return Question(choices + keep, "text")

    def display(self, ctx: StepContext, step: Step, value: Any) -> str:
        d = ctx.form.display
        if not value.get("unit"):
            return fill(d["commune_unknown"], typed=value.get("typed") or "")
        if value.get("old") and fold_text(value["old"]) != fold_text(value["unit"]):
            return fill(
                d["commune_mapped"],
                kind=value.get("kind") or "",
                unit=value["unit"],
                old_kind=value.get("old_kind") or "",
                old=value["old"],
            ).strip()
        return fill(d["commune_current"], kind=value.get("kind") or "", unit=value["unit"]).strip()

    def locality(self, value: Any) -> str | None:
        if isinstance(value, dict) and value.get("unit"):
            return f"{value.get('kind') or ''} {value['unit']}".strip()
        return None


def current_units(ctx: StepContext) -> list[tuple[str, str]]:
    """(kind, name) of today's communes/wards, e.g. ('xã', 'Phú Nghĩa')."""
    if ctx.communes is None:
        return []
    return [(_unit_kind(u), _unit_name(u)) for u in ctx.communes.current_units()]


def unit_kind(ctx: StepContext, name: str) -> str:
    return next((kind for kind, unit in current_units(ctx) if unit == name), "")


def unit_label(ctx: StepContext, name: str) -> str:
    return fill(ctx.form.display["commune_current"], kind=unit_kind(ctx, name), unit=name).strip()


def _unit_name(unit: Any) -> str:
    if isinstance(unit, str):
        return unit
    if isinstance(unit, dict):
        return str(unit.get("name"))
    return str(getattr(unit, "name", unit))


def _unit_kind(unit: Any) -> str:
    if isinstance(unit, dict):
        return str(unit.get("kind") or "")
    return str(getattr(unit, "kind", "") or "")


def _value(unit: str, kind: str, typed: str, match: CommuneMatchLike) -> dict[str, Any]:
    """A current unit typed by name: nothing old to map."""
    return {
        "unit": unit,
        "kind": kind,
        "old": None,
        "old_kind": None,
        "typed": typed,
        "provisional": bool(getattr(match, "provisional", False)),
    }
