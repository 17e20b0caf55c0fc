"""Steps answered from a list: one choice (and yes/no), several choices, a group and its sub-group.

Stored values: choice/yes_no → the choice id; multi → [ids] in form order; group → {group, sub}.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from dossier.schema import Choice, Step, fill
from dossier.steps.base import (
    DONE,
    SKIP,
    UP,
    Current,
    Pending,
    PromptChoice,
    Question,
    Result,
    Stay,
    StepContext,
    StepKind,
    Store,
    by_index,
    in_form_order,
    match_choice,
    str_tuple,
)
from knowledge.normalize import fold_text


class ChoiceKind(StepKind):
    """One option, by button or typed (label, alias or number)."""

    type = "choice"
    messages = ("choice_invalid",)
    choices = "own"
    invalid_message = "choice_invalid"

    def read_text(self, ctx: StepContext, cur: Current, text: str, today: date) -> Result:
        choice = match_choice(cur.step.choices, text)
        if choice is None:
            return ctx.refuse(self.invalid_message, cur.step)
        return Store(choice.id)

    def press(self, ctx: StepContext, cur: Current, value: str) -> Result:
        choice = by_index(cur.step.choices, value)
        return ctx.stale() if choice is None else Store(choice.id)

    def question(self, ctx: StepContext, cur: Current, keep: tuple[PromptChoice, ...]) -> Question:
        choices = tuple(
            PromptChoice(c.button_label, str(i), c.id == cur.answer) for i, c in enumerate(cur.step.choices)
        )
        return Question(choices + keep, "choice")

    def display(self, ctx: StepContext, step: Step, value: Any) -> str:
        choice = step.choice(str(value))
        return choice.label if choice else str(value)

    def readable(self, step: Step, value: Any) -> bool:
        return isinstance(value, str) and step.choice(value) is not None


class YesNoKind(ChoiceKind):
    """Yes or no; the choices are the form's own `yes_no` list."""

    type = "yes_no"
    messages = ("yes_no_invalid",)
    choices = "yes_no"
    invalid_message = "yes_no_invalid"


@dataclass(frozen=True)
class MultiSelection(Pending):
    """The boxes ticked so far on a multiple-choice step (stored when «Xong» is pressed)."""

    selected: tuple[str, ...] = ()

    tag = "multi"

    def _fields(self) -> dict[str, Any]:
        return {"selected": list(self.selected)}

    @classmethod
    def _read(cls, step: str, data: dict[str, Any]) -> Pending:
        return cls(step, str_tuple(data.get("selected") or []))


class MultiKind(StepKind):
    """Several options: buttons toggle, «Xong» stores; or typed, separated by commas."""

    type = "multi"
    messages = ("choice_invalid", "multi_empty")
    choices = "own"

    def read_text(self, ctx: StepContext, cur: Current, text: str, today: date) -> Result:
        parts = [p for p in (x.strip() for x in text.replace(";", ",").replace("\n", ",").split(",")) if p]
        chosen: list[str] = []
        for part in parts:
            choice = match_choice(cur.step.choices, part)
            if choice is None:
                return ctx.refuse("choice_invalid", cur.step)
            if choice.id not in chosen:
                chosen.append(choice.id)
        if not chosen:
            return ctx.refuse("multi_empty", cur.step)
        return Store(in_form_order(cur.step, chosen))

    def press(self, ctx: StepContext, cur: Current, value: str) -> Result:
        if value == DONE:
            return self.done(ctx, cur)
        choice = by_index(cur.step.choices, value)
        if choice is None:
            return ctx.stale()
        selected = self.selection(cur)
        if choice.id in selected:
            selected.remove(choice.id)
        else:
            selected.append(choice.id)
        return Stay(MultiSelection(cur.step.id, tuple(selected)))

    def done(self, ctx: StepContext, cur: Current) -> Result:
        selected = self.selection(cur)
        if not selected:
            return ctx.refuse("multi_empty", cur.step) if cur.step.required else SKIP
        return Store(in_form_order(cur.step, selected))

    @staticmethod
    def selection(cur: Current) -> list[str]:
        if isinstance(cur.pending, MultiSelection):
            return list(cur.pending.selected)
        return list(cur.answer or [])

    def question(self, ctx: StepContext, cur: Current, keep: tuple[PromptChoice, ...]) -> Question:
        selected = set(self.selection(cur))
        choices = tuple(
            PromptChoice(
                ctx.label("selected", label=c.button_label) if c.id in selected else c.button_label,
                str(i),
                c.id in selected,
            )
            for i, c in enumerate(cur.step.choices)
        )
        return Question((*choices, PromptChoice(ctx.label(DONE), DONE)), "choice")

    def display(self, ctx: StepContext, step: Step, value: Any) -> str:
        return ", ".join(_label_of(step.choice(v), v) for v in value)

    def readable(self, step: Step, value: Any) -> bool:
        return isinstance(value, list) and all(step.choice(str(v)) is not None for v in value)


@dataclass(frozen=True)
class SubgroupChoice(Pending):
    """A group with sub-groups was chosen; its sub-group is asked next."""

    group: str = ""

    tag = "subgroup"
    sub_level = True

    def _fields(self) -> dict[str, Any]:
        return {"group": self.group}

    @classmethod
    def _read(cls, step: str, data: dict[str, Any]) -> Pending:
        return cls(step, str(data["group"]))


class GroupKind(StepKind):
    """A group, then (when it has them) one of its sub-groups; a sub-group may also be typed directly."""

    type = "group"
    messages = ("choice_invalid",)
    choices = "own"
    sub_choices = True

    def read_text(self, ctx: StepContext, cur: Current, text: str, today: date) -> Result:
        step = cur.step
        group = self.pending_group(cur)
        if group is not None:
            sub = match_choice(group.sub, text)
            if sub is not None:
                return Store({"group": group.id, "sub": sub.id})
        chosen = match_choice(step.choices, text)
        if chosen is not None:
            return self.pick(step, chosen)
        for candidate in step.choices:  # a sub-group typed directly
            sub = match_choice(candidate.sub, text) if candidate.sub else None
            if sub is not None and not text.strip().isdigit():
                return Store({"group": candidate.id, "sub": sub.id})
        return ctx.refuse("choice_invalid", step)

    def press(self, ctx: StepContext, cur: Current, value: str) -> Result:
        group = self.pending_group(cur)
        if group is not None:
            if value == UP:
                return Stay(None)
            sub = by_index(group.sub, value)
            return ctx.stale() if sub is None else Store({"group": group.id, "sub": sub.id})
        chosen = by_index(cur.step.choices, value)
        return ctx.stale() if chosen is None else self.pick(cur.step, chosen)

    @staticmethod
    def pick(step: Step, group: Choice) -> Result:
        if not group.sub:
            return Store({"group": group.id, "sub": None})
        return Stay(SubgroupChoice(step.id, group.id))

    @staticmethod
    def pending_group(cur: Current) -> Choice | None:
        return cur.step.choice(cur.pending.group) if isinstance(cur.pending, SubgroupChoice) else None

    def question(self, ctx: StepContext, cur: Current, keep: tuple[PromptChoice, ...]) -> Question:
        current = cur.answer if isinstance(cur.answer, dict) else {}
        group = self.pending_group(cur)
        if group is not None:
            choices = tuple(
                PromptChoice(c.button_label, str(i), c.id == current.get("sub"))
                for i, c in enumerate(group.sub)
            )
            return Question(
                (*choices, PromptChoice(ctx.label(UP), UP)),
                "choice",
                "subgroup",
                detail={"group": group.label, "groups": sets_by_group(group.sub)},
            )
        choices = tuple(
            PromptChoice(c.button_label, str(i), c.id == current.get("group"))
            for i, c in enumerate(cur.step.choices)
        )
        return Question(choices + keep, "choice")

    def display(self, ctx: StepContext, step: Step, value: Any) -> str:
        group = step.choice(str(value.get("group")))
        if group is None:
            return str(value.get("group"))
        chosen = self.chosen(group, value) or group
        key = "group" if group.sub else "group_single"
        if key == "group" and fold_text(chosen.group or "") == fold_text(chosen.label):
            key = "group_same"  # «Bộ số 23: Hoa (ngành Sinh vật cảnh)», not «nhóm Hoa» again
        return fill(
            ctx.form.display[key],
            sector=group.label,
            group=chosen.group or group.label,
            number=chosen.number or "",
            set=chosen.label,
        )

    @staticmethod
    def chosen(group: Choice, value: dict[str, Any]) -> Choice | None:
        """The chosen set: the sub-choice, or the group itself when it has none."""
        if not group.sub:
            return group if value.get("sub") is None else None
        return next((s for s in group.sub if s.id == value.get("sub")), None)

    def readable(self, step: Step, value: Any) -> bool:
        """False for a value of an older form that names no set now (it is asked again)."""
        if not isinstance(value, dict):
            return False
        group = step.choice(str(value.get("group")))
        return group is not None and self.chosen(group, value) is not None


def sets_by_group(sets: tuple[Choice, ...]) -> list[dict[str, Any]]:
    """The sets of a sector under their group's name, in form order (for the question text)."""
    out: list[dict[str, Any]] = []
    for c in sets:
        if not out or out[-1]["name"] != c.group:
            out.append({"name": c.group, "sets": []})
        out[-1]["sets"].append({"number": c.number, "label": c.label})
    return out


def _label_of(choice: Choice | None, fallback: str) -> str:
    return choice.label if choice else fallback
