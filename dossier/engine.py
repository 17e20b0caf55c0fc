"""The pure state machine that walks a dossier through the form: no database, no Telegram.

A `DossierState` (answers, current step, review mode, a small pending sub-state, skipped steps) is
changed in place by `DossierEngine` operations — answer typed text, choose a button, attach a file,
done, back, skip, jump — each returning an `Outcome` (ok, or the message to show). `prompt(state)`
describes what to ask next; `review`, `missing` and `can_submit` look at the whole dossier.

Stored answer values (JSON): text/phone/tax_code → str; date → 'YYYY-MM-DD'; number → {value, unit};
choice/yes_no → choice id; multi → [ids]; group → {group, sub}; commune → {unit, kind, old, old_kind,
typed, provisional}; photo/document → {attachment_id, kind, name}; photos → [{attachment_id, ...}].
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, Protocol

from common.render import Renderer, format_number
from dossier.form import Choice, Form, Step, condition_holds, fill
from dossier.validators import Invalid, clean_text, validate_typed
from knowledge.normalize import fold_text

# Short callback values of the non-choice buttons (the handler puts them in callback data).
DONE = "done"
KEEP = "keep"
RETYPE = "retype"
UP = "up"
CLEAR = "clear"


class CommuneMatchLike(Protocol):
    old_name: str
    kind: str
    new_unit: str | None
    partial: bool
    also: Sequence[str]
    provisional: bool
    note: str | None
    is_current: bool


class CommuneResolver(Protocol):
    """What the engine needs of knowledge.communes.CommuneDirectory."""

    def resolve(self, text: str) -> CommuneMatchLike | None: ...

    def current_units(self) -> Sequence[Any]: ...


@dataclass(frozen=True)
class FileRef:
    """An attachment already stored by the service, as the engine records it in the answers."""

    attachment_id: int
    kind: str  # "photo" | "document"
    name: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"attachment_id": self.attachment_id, "kind": self.kind, "name": self.name}


@dataclass
class DossierState:
    """Everything the engine needs to continue a dossier; persisted by the service after every change."""

    answers: dict[str, Any] = field(default_factory=dict)
    current: str | None = None  # None: the review screen
    review_mode: bool = False  # True once the review was reached: edits return to it
    pending: dict[str, Any] | None = None  # sub-state of the current step (multi, group, commune)
    skipped: list[str] = field(default_factory=list)

    def extra_json(self) -> dict[str, Any]:
        """The part not kept in its own column (pending, skipped)."""
        return {"pending": self.pending, "skipped": list(self.skipped)}

    @classmethod
    def from_parts(
        cls,
        answers: dict[str, Any] | None,
        current: str | None,
        review_mode: bool,
        extra: dict[str, Any] | None,
    ) -> DossierState:
        extra = extra or {}
        return cls(
            answers=dict(answers or {}),
            current=current,
            review_mode=review_mode,
            pending=extra.get("pending"),
            skipped=list(extra.get("skipped") or []),
        )


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str | None = None


OK = Outcome(True)


@dataclass(frozen=True)
class PromptChoice:
    """One button of the prompt: its label and the short value sent back (choice index, 'done'...)."""

    label: str
    value: str
    selected: bool = False


@dataclass(frozen=True)
class Prompt:
    """What to show now.

    kind: 'question' (a step), 'subgroup' (second level of a group step), 'commune_confirm' (confirm an
    old commune's new unit), 'review' (all steps visited). expects: 'text', 'choice', 'photo',
    'document' or 'none'. `detail` carries the data of the special kinds for the template.
    """

    kind: str
    step: Step | None
    section_title: str | None
    choices: tuple[PromptChoice, ...]
    can_back: bool
    can_skip: bool
    position: int
    total: int
    expects: str
    current_answer: str | None = None
    files: int = 0
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def question(self) -> str:
        return self.step.question if self.step else ""

    @property
    def help(self) -> str | None:
        return self.step.help if self.step else None


@dataclass(frozen=True)
class ReviewItem:
    step_id: str
    step_no: int
    label: str
    value: str | None  # display value; None when not answered
    required: bool
    missing: bool
    is_file: bool
    skipped: bool = False


@dataclass(frozen=True)
class ReviewSection:
    id: str
    title: str
    items: tuple[ReviewItem, ...]


@dataclass(frozen=True)
class MissingItem:
    step_id: str
    step_no: int
    label: str
    section_title: str
    is_file: bool


@lru_cache(maxsize=1)
def _labels_renderer() -> Renderer:
    return Renderer()


def default_label(key: str, **context: Any) -> str:
    """A button label from templates/labels/dossier.yaml (`dossier.<key>`)."""
    return _labels_renderer().label(f"dossier.{key}", **context)


class DossierEngine:
    """Runs the form over a `DossierState`. Stateless itself; safe to share."""

    def __init__(
        self,
        form: Form,
        communes: CommuneResolver | None = None,
        label: Callable[..., str] = default_label,
    ) -> None:
        self.form = form
        self.communes = communes
        self.label = label
        self.steps = form.steps

    # ------------------------------------------------------------------------------- relevance

    def effective_answers(self, answers: dict[str, Any]) -> dict[str, Any]:
        """Answers of relevant steps only (an irrelevant step's stale answer never counts)."""
        effective: dict[str, Any] = {}
        for step in self.steps:
            if step.relevant is None or condition_holds(step.relevant, effective):
                if step.id in answers:
                    effective[step.id] = answers[step.id]
        return effective

    def relevant_steps(self, answers: dict[str, Any]) -> list[Step]:
        """The steps shown for these answers, in form order."""
        effective: dict[str, Any] = {}
        out: list[Step] = []
        for step in self.steps:
            if step.relevant is None or condition_holds(step.relevant, effective):
                out.append(step)
                if step.id in answers:
                    effective[step.id] = answers[step.id]
        return out

    def is_relevant(self, step_id: str, answers: dict[str, Any]) -> bool:
        return any(s.id == step_id for s in self.relevant_steps(answers))

    def step_no(self, step_id: str) -> int:
        """The step's fixed position in the form (0-based): stable across answers, used in callbacks."""
        return self.form.step(step_id).index

    def step_by_no(self, step_no: int) -> Step | None:
        return self.steps[step_no] if 0 <= step_no < len(self.steps) else None

    # ------------------------------------------------------------------------------- navigation

    def start(self) -> DossierState:
        state = DossierState()
        state.current = self.relevant_steps({})[0].id
        return state

    def current_step(self, state: DossierState) -> Step | None:
        return self.form.step(state.current) if state.current else None

    def next_step(self, state: DossierState, after: str | None) -> str | None:
        """The step to ask after `after`: the next relevant one; in review mode the next relevant one
        not yet answered or skipped (None: back to the review)."""
        relevant = self.relevant_steps(state.answers)
        index = 0
        if after is not None:
            order = self.form.step(after).index
            index = next((i for i, s in enumerate(relevant) if s.index > order), len(relevant))
        for step in relevant[index:]:
            if not state.review_mode:
                return step.id
            if not _has_answer(state.answers.get(step.id)) and step.id not in state.skipped:
                return step.id
        return None

    def _advance(self, state: DossierState, from_step: str) -> None:
        state.pending = None
        state.current = self.next_step(state, from_step)
        if state.current is None:
            state.review_mode = True

    def back(self, state: DossierState) -> Outcome:
        """One step back: leave a sub-level first; while editing from the review, return to it."""
        if state.pending is not None and state.pending.get("kind") in ("subgroup", "commune"):
            state.pending = None
            return OK
        state.pending = None
        relevant = self.relevant_steps(state.answers)
        if state.current is None:
            state.current = relevant[-1].id
            state.review_mode = False
            return OK
        if state.review_mode:
            state.current = None
            return OK
        order = self.form.step(state.current).index
        earlier = [s for s in relevant if s.index < order]
        if earlier:
            state.current = earlier[-1].id
        return OK

    def can_back(self, state: DossierState) -> bool:
        if state.current is None or state.review_mode or state.pending:
            return True
        order = self.form.step(state.current).index
        return any(s.index < order for s in self.relevant_steps(state.answers))

    def skip(self, state: DossierState) -> Outcome:
        """Skip the current optional step (its earlier answer, if any, is cleared)."""
        step = self.current_step(state)
        if step is None:
            return OK
        if step.required:
            return Outcome(False, self.form.message("not_skippable", step))
        state.answers.pop(step.id, None)
        if step.id not in state.skipped:
            state.skipped.append(step.id)
        self._advance(state, step.id)
        return OK

    def jump_to(self, state: DossierState, step_id: str) -> Outcome:
        """Go to a step to change it; afterwards the flow returns to the review."""
        if not self.form.has_step(step_id) or not self.is_relevant(step_id, state.answers):
            return Outcome(False, self.form.message("not_relevant"))
        state.pending = None
        state.current = step_id
        state.review_mode = True
        return OK

    def to_review(self, state: DossierState) -> None:
        state.pending = None
        state.current = None
        state.review_mode = True

    def resume(self, state: DossierState) -> Outcome:
        """'Làm tiếp' from the review: go to the first required item still missing (if any)."""
        if state.current is not None:
            return OK
        missing = self.missing(state)
        if missing:
            state.pending = None
            state.current = missing[0].step_id
            state.review_mode = True
        return OK

    def repair(self, state: DossierState) -> None:
        """Make a stored state fit the form again (a step removed from or hidden by the form)."""
        if state.current is not None and (
            not self.form.has_step(state.current) or not self.is_relevant(state.current, state.answers)
        ):
            state.pending = None
            missing = self.missing(state)
            state.current = missing[0].step_id if missing else None
            state.review_mode = state.review_mode or state.current is None
        if state.pending is not None and state.pending.get("step") != state.current:
            state.pending = None

    # ------------------------------------------------------------------------------- input

    def _check_current(self, state: DossierState, step_id: str | None) -> Step | Outcome:
        step = self.current_step(state)
        if step is None and step_id is None:
            return Outcome(False, self.form.message("at_review"))
        if step is None or (step_id is not None and step_id != step.id):
            return Outcome(False, self.form.message("stale"))
        return step

    def answer(self, state: DossierState, step_id: str | None, raw: str, today: date) -> Outcome:
        """Typed text for the current step (`step_id` None: whatever step is current)."""
        step = self._check_current(state, step_id)
        if isinstance(step, Outcome):
            return step
        text = clean_text(raw)
        if step.type in ("choice", "yes_no"):
            choice = self._match_choice(step.choices, text)
            if choice is None:
                return Outcome(False, self.form.message(_choice_error(step), step))
            return self._store(state, step, choice.id)
        if step.type == "multi":
            return self._answer_multi_text(state, step, text)
        if step.type == "group":
            return self._answer_group_text(state, step, text)
        if step.type == "commune":
            return self._answer_commune_text(state, step, text)
        if step.is_file:
            if state.pending is None and _has_answer(state.answers.get(step.id)) and _is_keep(text, self):
                self._advance(state, step.id)
                return OK
            key = "document_expected" if step.type == "document" else "photo_expected"
            return Outcome(False, self.form.message(key, step))
        result = validate_typed(self.form, step, raw, today)
        if isinstance(result, Invalid):
            return Outcome(False, result.message)
        return self._store(state, step, result.value)

    def choose(self, state: DossierState, step_id: str | None, value: str) -> Outcome:
        """A button of the current prompt was pressed (`value` as given in PromptChoice.value)."""
        step = self._check_current(state, step_id)
        if isinstance(step, Outcome):
            return step
        invalid = Outcome(False, self.form.message("stale"))
        if value == KEEP:
            if not _has_answer(state.answers.get(step.id)):
                return invalid
            self._advance(state, step.id)
            return OK
        if step.type in ("choice", "yes_no"):
            choice = _by_index(step.choices, value)
            return invalid if choice is None else self._store(state, step, choice.id)
        if step.type == "multi":
            return self._choose_multi(state, step, value)
        if step.type == "group":
            return self._choose_group(state, step, value)
        if step.type == "commune":
            return self._choose_commune(state, step, value)
        if step.type == "photos":
            if value == DONE:
                return self.done(state, step.id)
            if value == CLEAR:
                state.answers.pop(step.id, None)
                return OK
        return invalid

    def done(self, state: DossierState, step_id: str | None) -> Outcome:
        """'Xong' on a multi or photos step."""
        step = self._check_current(state, step_id)
        if isinstance(step, Outcome):
            return step
        if step.type == "multi":
            return self._choose_multi(state, step, DONE)
        if step.type == "photos":
            files = state.answers.get(step.id) or []
            if not files:
                if step.required:
                    return Outcome(False, self.form.message("photos_empty", step))
                return self.skip(state)
            self._advance(state, step.id)
            return OK
        return Outcome(False, self.form.message("stale"))

    def accepts_file(self, state: DossierState, kind: str) -> Outcome:
        """Would the current step take a file of this kind ('photo' or 'document')?"""
        step = self.current_step(state)
        if step is None or not step.is_file:
            return Outcome(False, self.form.message("file_unexpected"))
        if step.type in ("photo", "photos") and kind != "photo":
            return Outcome(False, self.form.message("photo_expected", step))
        if step.type == "photos":
            rule = step.rule("max_files")
            if rule is not None and len(state.answers.get(step.id) or []) >= rule.value:
                return Outcome(False, fill(rule.message, max=rule.value))
        return OK

    def attach(self, state: DossierState, file: FileRef) -> tuple[Outcome, list[int]]:
        """Record a stored file for the current step. Returns the outcome and the attachment ids the
        answer no longer refers to (a replaced single file), which the service deletes."""
        check = self.accepts_file(state, file.kind)
        if not check.ok:
            return check, []
        step = self.current_step(state)
        assert step is not None
        if step.type == "photos":
            files = list(state.answers.get(step.id) or [])
            files.append(file.as_json())
            state.answers[step.id] = files
            _unskip(state, step.id)
            return OK, []
        old = state.answers.get(step.id)
        dropped = [old["attachment_id"]] if isinstance(old, dict) and "attachment_id" in old else []
        self._store(state, step, file.as_json())
        return OK, dropped

    # ------------------------------------------------------------------------------- per type

    def _store(self, state: DossierState, step: Step, value: Any) -> Outcome:
        state.answers[step.id] = value
        _unskip(state, step.id)
        self._advance(state, step.id)
        return OK

    def _match_choice(self, choices: Sequence[Choice], text: str) -> Choice | None:
        typed = fold_text(text)
        if not typed:
            return None
        for choice in choices:
            names = [choice.label, choice.id, *choice.aliases]
            if any(fold_text(n) == typed for n in names):
                return choice
        if typed.isdigit() and 1 <= int(typed) <= len(choices):
            return choices[int(typed) - 1]
        return None

    def _answer_multi_text(self, state: DossierState, step: Step, text: str) -> Outcome:
        parts = [p for p in (x.strip() for x in text.replace(";", ",").replace("\n", ",").split(",")) if p]
        chosen: list[str] = []
        for part in parts:
            choice = self._match_choice(step.choices, part)
            if choice is None:
                return Outcome(False, self.form.message("choice_invalid", step))
            if choice.id not in chosen:
                chosen.append(choice.id)
        if not chosen:
            return Outcome(False, self.form.message("multi_empty", step))
        order = [c.id for c in step.choices]
        return self._store(state, step, sorted(chosen, key=order.index))

    def _choose_multi(self, state: DossierState, step: Step, value: str) -> Outcome:
        selected = self._multi_selection(state, step)
        if value == DONE:
            if not selected:
                if step.required:
                    return Outcome(False, self.form.message("multi_empty", step))
                return self.skip(state)
            order = [c.id for c in step.choices]
            return self._store(state, step, sorted(selected, key=order.index))
        choice = _by_index(step.choices, value)
        if choice is None:
            return Outcome(False, self.form.message("stale"))
        if choice.id in selected:
            selected.remove(choice.id)
        else:
            selected.append(choice.id)
        state.pending = {"kind": "multi", "step": step.id, "selected": selected}
        return OK

    def _multi_selection(self, state: DossierState, step: Step) -> list[str]:
        if state.pending and state.pending.get("kind") == "multi" and state.pending.get("step") == step.id:
            return list(state.pending.get("selected") or [])
        return list(state.answers.get(step.id) or [])

    def _answer_group_text(self, state: DossierState, step: Step, text: str) -> Outcome:
        group = self._pending_group(state, step)
        if group is not None:
            sub = self._match_choice(group.sub, text)
            if sub is not None:
                return self._store(state, step, {"group": group.id, "sub": sub.id})
        chosen = self._match_choice(step.choices, text)
        if chosen is not None:
            return self._pick_group(state, step, chosen)
        for candidate in step.choices:  # a sub-group typed directly
            sub = self._match_choice(candidate.sub, text) if candidate.sub else None
            if sub is not None and not text.strip().isdigit():
                return self._store(state, step, {"group": candidate.id, "sub": sub.id})
        return Outcome(False, self.form.message("choice_invalid", step))

    def _choose_group(self, state: DossierState, step: Step, value: str) -> Outcome:
        group = self._pending_group(state, step)
        if group is not None:
            if value == UP:
                state.pending = None
                return OK
            sub = _by_index(group.sub, value)
            if sub is None:
                return Outcome(False, self.form.message("stale"))
            return self._store(state, step, {"group": group.id, "sub": sub.id})
        chosen = _by_index(step.choices, value)
        if chosen is None:
            return Outcome(False, self.form.message("stale"))
        return self._pick_group(state, step, chosen)

    def _pick_group(self, state: DossierState, step: Step, group: Choice) -> Outcome:
        if not group.sub:
            return self._store(state, step, {"group": group.id, "sub": None})
        state.pending = {"kind": "subgroup", "step": step.id, "group": group.id}
        return OK

    def _pending_group(self, state: DossierState, step: Step) -> Choice | None:
        if state.pending and state.pending.get("kind") == "subgroup" and state.pending.get("step") == step.id:
            return step.choice(str(state.pending.get("group")))
        return None

    # commune ----------------------------------------------------------------------------

    def current_units(self) -> list[tuple[str, str]]:
        """(kind, name) of today's communes/wards, e.g. ('xã', 'Phú Nghĩa')."""
        if self.communes is None:
            return []
        return [(_unit_kind(u), _unit_name(u)) for u in self.communes.current_units()]

    def _unit_kind_of(self, name: str) -> str:
        for kind, unit in self.current_units():
            if unit == name:
                return kind
        return ""

    def _answer_commune_text(self, state: DossierState, step: Step, text: str) -> Outcome:
        if self.communes is None:
            if len(text) > 200:
                return Outcome(False, self.form.message("too_long", step, max=200, length=len(text)))
            return self._store(state, step, {"unit": None, "kind": None, "old": None, "typed": text})
        if len(text) > 200:
            return Outcome(False, self.form.message("commune_not_found", step))
        match = self.communes.resolve(text)
        if match is None:
            return Outcome(False, self.form.message("commune_not_found", step))
        if match.is_current and match.new_unit:
            unit = match.new_unit
            return self._store(
                state, step, _commune_value(unit, self._unit_kind_of(unit), None, None, text, match)
            )
        if match.is_current and not match.new_unit:
            unit = match.old_name
            return self._store(
                state, step, _commune_value(unit, self._unit_kind_of(unit), None, None, text, match)
            )
        candidates: list[str] = []
        if match.new_unit:
            candidates.append(match.new_unit)
        candidates.extend(u for u in (match.also or ()) if u not in candidates)
        known = {name for _, name in self.current_units()}
        candidates = [c for c in candidates if c in known]
        unknown = not candidates
        if unknown:
            candidates = [name for _, name in self.current_units()]
        state.pending = {
            "kind": "commune",
            "step": step.id,
            "typed": text,
            "old": match.old_name,
            "old_kind": match.kind,
            "candidates": candidates,
            "unknown": unknown,
            "partial": bool(match.partial),
            "provisional": bool(match.provisional),
            "note": match.note,
        }
        return OK

    def _choose_commune(self, state: DossierState, step: Step, value: str) -> Outcome:
        pending = state.pending if state.pending and state.pending.get("kind") == "commune" else None
        if pending is not None:
            if value == RETYPE:
                state.pending = None
                return OK
            candidates = pending.get("candidates") or []
            if not value.isdigit() or not 0 <= int(value) < len(candidates):
                return Outcome(False, self.form.message("stale"))
            unit = candidates[int(value)]
            stored = {
                "unit": unit,
                "kind": self._unit_kind_of(unit),
                "old": pending.get("old"),
                "old_kind": pending.get("old_kind"),
                "typed": pending.get("typed"),
                "provisional": bool(pending.get("provisional")),
            }
            return self._store(state, step, stored)
        units = self.current_units()
        if not value.isdigit() or not 0 <= int(value) < len(units):
            return Outcome(False, self.form.message("stale"))
        kind, unit = units[int(value)]
        return self._store(state, step, {"unit": unit, "kind": kind, "old": None, "typed": None})

    # ------------------------------------------------------------------------------- prompt

    def prompt(self, state: DossierState) -> Prompt:
        relevant = self.relevant_steps(state.answers)
        total = len(relevant)
        step = self.current_step(state)
        if step is None:
            return Prompt("review", None, None, (), True, False, total, total, "none")
        position = next((i + 1 for i, s in enumerate(relevant) if s.id == step.id), 0)
        section = self.form.section_of(step).title
        current = state.answers.get(step.id)
        shown = self.display(step, current) if _has_answer(current) else None
        keep = (PromptChoice(self.label(KEEP), KEEP),) if shown is not None else ()
        common = {
            "step": step,
            "section_title": section,
            "can_back": self.can_back(state),
            "can_skip": not step.required,
            "position": position,
            "total": total,
            "current_answer": shown,
        }
        pending = state.pending if state.pending and state.pending.get("step") == step.id else None
        if step.type in ("choice", "yes_no"):
            choices = tuple(
                PromptChoice(c.label, str(i), c.id == current) for i, c in enumerate(step.choices)
            )
            return Prompt("question", choices=choices + keep, expects="choice", **common)
        if step.type == "multi":
            selected = set(self._multi_selection(state, step))
            choices = tuple(
                PromptChoice(
                    self.label("selected", label=c.label) if c.id in selected else c.label,
                    str(i),
                    c.id in selected,
                )
                for i, c in enumerate(step.choices)
            )
            return Prompt(
                "question",
                choices=(*choices, PromptChoice(self.label(DONE), DONE)),
                expects="choice",
                **common,
            )
        if step.type == "group":
            group = self._pending_group(state, step)
            if group is not None:
                current_sub = current.get("sub") if isinstance(current, dict) else None
                choices = tuple(
                    PromptChoice(c.label, str(i), c.id == current_sub) for i, c in enumerate(group.sub)
                )
                return Prompt(
                    "subgroup",
                    choices=(*choices, PromptChoice(self.label(UP), UP)),
                    expects="choice",
                    detail={"group": group.label},
                    **common,
                )
            current_group = current.get("group") if isinstance(current, dict) else None
            choices = tuple(
                PromptChoice(c.label, str(i), c.id == current_group) for i, c in enumerate(step.choices)
            )
            return Prompt("question", choices=choices + keep, expects="choice", **common)
        if step.type == "commune":
            if pending is not None and pending.get("kind") == "commune":
                choices = tuple(
                    PromptChoice(self._commune_label(name), str(i))
                    for i, name in enumerate(pending.get("candidates") or [])
                )
                detail = dict(pending)
                detail["candidate_labels"] = [self._commune_label(n) for n in pending.get("candidates") or []]
                return Prompt(
                    "commune_confirm",
                    choices=(*choices, PromptChoice(self.label(RETYPE), RETYPE)),
                    expects="text",
                    detail=detail,
                    **common,
                )
            choices = tuple(
                PromptChoice(fill(self.form.display["commune_current"], kind=k, unit=n).strip(), str(i))
                for i, (k, n) in enumerate(self.current_units())
            )
            return Prompt("question", choices=choices + keep, expects="text", **common)
        if step.type == "photos":
            files = len(current or [])
            buttons = [PromptChoice(self.label(DONE), DONE)]
            if files:
                buttons.append(PromptChoice(self.label(CLEAR), CLEAR))
            return Prompt("question", choices=tuple(buttons), expects="photo", files=files, **common)
        if step.type in ("photo", "document"):
            return Prompt("question", choices=keep, expects=step.type, files=1 if shown else 0, **common)
        return Prompt("question", choices=keep, expects="text", **common)

    def _commune_label(self, name: str) -> str:
        return fill(self.form.display["commune_current"], kind=self._unit_kind_of(name), unit=name).strip()

    # ------------------------------------------------------------------------------- review

    def display(self, step: Step, value: Any) -> str:
        """A stored answer as a person reads it (Vietnamese formats from the form's display section)."""
        if not _has_answer(value):
            return ""
        d = self.form.display
        if step.type in ("choice", "yes_no"):
            choice = step.choice(str(value))
            return choice.label if choice else str(value)
        if step.type == "multi":
            return ", ".join((step.choice(v).label if step.choice(v) else v) for v in value)  # type: ignore[union-attr]
        if step.type == "group":
            group = step.choice(str(value.get("group")))
            if group is None:
                return str(value.get("group"))
            sub = next((s for s in group.sub if s.id == value.get("sub")), None)
            return fill(d["group"], group=group.label, sub=sub.label) if sub else group.label
        if step.type == "number":
            return f"{format_number(value['value'])} {value.get('unit') or ''}".strip()
        if step.type == "date":
            try:
                return date.fromisoformat(value).strftime("%d/%m/%Y")
            except (TypeError, ValueError):
                return str(value)
        if step.type == "commune":
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
        if step.type == "photos":
            return fill(d["photos"], n=len(value))
        if step.type in ("photo", "document"):
            return str(value.get("name") or fill(d["files"], n=1))
        return str(value)

    def review(self, state: DossierState) -> list[ReviewSection]:
        """Relevant steps grouped by section, each with its display value and whether it is missing."""
        relevant = {s.id for s in self.relevant_steps(state.answers)}
        sections = []
        for section in self.form.sections:
            items = []
            for step in section.steps:
                if step.id not in relevant:
                    continue
                value = state.answers.get(step.id)
                answered = _has_answer(value)
                items.append(
                    ReviewItem(
                        step_id=step.id,
                        step_no=step.index,
                        label=step.label,
                        value=self.display(step, value) if answered else None,
                        required=step.required,
                        missing=step.required and not answered,
                        is_file=step.is_file,
                        skipped=step.id in state.skipped and not answered,
                    )
                )
            if items:
                sections.append(ReviewSection(section.id, section.title, tuple(items)))
        return sections

    def missing(self, state: DossierState) -> list[MissingItem]:
        """Required relevant steps (answers and attachments) not given yet."""
        out = []
        for step in self.relevant_steps(state.answers):
            if step.required and not _has_answer(state.answers.get(step.id)):
                out.append(
                    MissingItem(
                        step.id, step.index, step.label, self.form.section_of(step).title, step.is_file
                    )
                )
        return out

    def can_submit(self, state: DossierState) -> bool:
        return not self.missing(state)

    def attachment_ids(self, answers: dict[str, Any], *, relevant_only: bool = False) -> set[int]:
        """Attachment ids the answers refer to."""
        source = self.effective_answers(answers) if relevant_only else answers
        ids: set[int] = set()
        for step in self.steps:
            if not step.is_file:
                continue
            value = source.get(step.id)
            items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
            ids.update(int(v["attachment_id"]) for v in items if isinstance(v, dict) and "attachment_id" in v)
        return ids


# ----------------------------------------------------------------------------------- helpers


def _has_answer(value: Any) -> bool:
    return value is not None and value != "" and value != []


def _unskip(state: DossierState, step_id: str) -> None:
    if step_id in state.skipped:
        state.skipped.remove(step_id)


def _by_index(choices: Sequence[Choice], value: str) -> Choice | None:
    if not value.isdigit():
        return None
    index = int(value)
    return choices[index] if 0 <= index < len(choices) else None


def _choice_error(step: Step) -> str:
    return "yes_no_invalid" if step.type == "yes_no" else "choice_invalid"


def _is_keep(text: str, engine: DossierEngine) -> bool:
    return fold_text(text) == fold_text(engine.label(KEEP))


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


def _commune_value(
    unit: str, kind: str, old: str | None, old_kind: str | None, typed: str, match: CommuneMatchLike
) -> dict[str, Any]:
    return {
        "unit": unit,
        "kind": kind,
        "old": old,
        "old_kind": old_kind,
        "typed": typed,
        "provisional": bool(getattr(match, "provisional", False)),
    }
