"""The pure state machine that walks a dossier through the form: no database, no Telegram.

A `DossierState` (answers, current step, review mode, the current step's typed pending sub-state,
skipped steps) is changed in place by `DossierEngine` operations — answer typed text, choose a button,
attach a file, done, back, skip, jump — each returning an `Outcome` (ok, or the message to show).
The engine owns navigation and relevance conditions only: what an input means for a step is asked of
the step's kind (dossier.steps), which answers with a result the engine applies. `prompt(state)`
describes what to ask next; `review`, `missing` and `can_submit` look at the whole dossier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from dossier.schema import Form, Step, condition_holds, fill, has_answer
from dossier.steps import kind_of
from dossier.steps.base import (
    KEEP,
    Collect,
    CommuneResolver,
    Current,
    FileRef,
    Pending,
    Proceed,
    PromptChoice,
    Refuse,
    Result,
    SkipStep,
    Stay,
    StepContext,
    Store,
    default_label,
)
from dossier.validators import clean_text


@dataclass
class DossierState:
    """Everything the engine needs to continue a dossier; persisted by the service after every change."""

    answers: dict[str, Any] = field(default_factory=dict)
    current: str | None = None  # None: the review screen
    review_mode: bool = False  # True once the review was reached: edits return to it
    pending: Pending | None = None  # half-made answer of the current step (multi, group, commune)
    skipped: list[str] = field(default_factory=list)

    def extra_json(self) -> dict[str, Any]:
        """The part not kept in its own column (pending, skipped)."""
        return {"pending": self.pending.to_json() if self.pending else None, "skipped": list(self.skipped)}

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
            pending=Pending.from_json(extra.get("pending")),
            skipped=list(extra.get("skipped") or []),
        )


@dataclass(frozen=True)
class Outcome:
    ok: bool
    error: str | None = None


OK = Outcome(True)


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


class DossierEngine:
    """Runs the form over a `DossierState`. Stateless itself; safe to share."""

    def __init__(
        self,
        form: Form,
        communes: CommuneResolver | None = None,
        label: Callable[..., str] = default_label,
    ) -> None:
        self.form = form
        self.label = label
        self.steps = form.steps
        self.ctx = StepContext(form, label, communes)

    # ------------------------------------------------------------------------------- relevance

    def effective_answers(self, answers: dict[str, Any]) -> dict[str, Any]:
        """Answers of relevant steps only (an irrelevant step's stale answer never counts)."""
        return {s.id: answers[s.id] for s in self.relevant_steps(answers) if s.id in answers}

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

    def answered_count(self, state: DossierState) -> tuple[int, int]:
        """(answered, shown) steps, for a dossier's progress."""
        relevant = self.relevant_steps(state.answers)
        return sum(1 for s in relevant if has_answer(state.answers.get(s.id))), len(relevant)

    # ------------------------------------------------------------------------------- navigation

    def start(self) -> DossierState:
        return DossierState(current=self.relevant_steps({})[0].id)

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
            if not has_answer(state.answers.get(step.id)) and step.id not in state.skipped:
                return step.id
        return None

    def _advance(self, state: DossierState, from_step: str) -> None:
        state.pending = None
        state.current = self.next_step(state, from_step)
        if state.current is None:
            state.review_mode = True

    def back(self, state: DossierState) -> Outcome:
        """One step back: leave a sub-level first; while editing from the review, return to it."""
        if state.pending is not None and state.pending.sub_level:
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
        """Make a stored state fit the form again (a step removed from or hidden by the form, an answer
        of an older form that names no choice now: it is dropped, so the step is asked again)."""
        for step_id, value in list(state.answers.items()):
            if self.form.has_step(step_id) and has_answer(value):
                step = self.form.step(step_id)
                if not kind_of(step).readable(step, value):
                    del state.answers[step_id]
        if state.current is not None and (
            not self.form.has_step(state.current) or not self.is_relevant(state.current, state.answers)
        ):
            state.pending = None
            missing = self.missing(state)
            state.current = missing[0].step_id if missing else None
            state.review_mode = state.review_mode or state.current is None
        if state.pending is not None and state.pending.step != state.current:
            state.pending = None

    # ------------------------------------------------------------------------------- input

    def _check_current(self, state: DossierState, step_id: str | None) -> Step | Outcome:
        step = self.current_step(state)
        if step is None and step_id is None:
            return Outcome(False, self.form.message("at_review"))
        if step is None or (step_id is not None and step_id != step.id):
            return Outcome(False, self.form.message("stale"))
        return step

    def _current(self, state: DossierState, step: Step) -> Current:
        pending = state.pending if state.pending is not None and state.pending.step == step.id else None
        return Current(step, state.answers.get(step.id), pending)

    def _apply(self, state: DossierState, step: Step, result: Result) -> Outcome:
        """Carry out what the step's kind made of the input."""
        if isinstance(result, Refuse):
            return Outcome(False, result.message)
        if isinstance(result, Store):
            refused = self._not_more_than(state.answers, step, result.value)
            if refused is not None:
                return Outcome(False, refused)
            state.answers[step.id] = result.value
            _unskip(state, step.id)
            note = self._drop_contradicted(state, step)
            self._advance(state, step.id)
            return Outcome(True, note)
        elif isinstance(result, Stay):
            state.pending = result.pending
        elif isinstance(result, Collect):
            if has_answer(result.value):
                state.answers[step.id] = result.value
                _unskip(state, step.id)
            else:
                state.answers.pop(step.id, None)
        elif isinstance(result, Proceed):
            self._advance(state, step.id)
        elif isinstance(result, SkipStep):
            return self.skip(state)
        return OK

    def _not_more_than(self, answers: dict[str, Any], step: Step, value: Any) -> str | None:
        """The message of a `not_more_than` rule this value breaks (local workers above the workers
        given earlier), or None. Only numbers ({value, unit}) are compared, units aside."""
        rule = step.rule("not_more_than")
        if rule is None or not isinstance(value, dict):
            return None
        other = self.form.step(rule.value)
        limit = answers.get(other.id)
        if not isinstance(limit, dict) or not self.is_relevant(other.id, answers):
            return None
        try:
            if float(value["value"]) <= float(limit["value"]):
                return None
        except (KeyError, TypeError, ValueError):
            return None
        return fill(rule.message, value=self.display(step, value), max=self.display(other, limit))

    def _drop_contradicted(self, state: DossierState, changed: Step) -> str | None:
        """After `changed` was answered again: a later answer whose `not_more_than` rule it now breaks
        (workers lowered below the local workers) is cleared, to be asked again; returns its message."""
        note = None
        for step in self.steps:
            rule = step.rule("not_more_than")
            if rule is None or rule.value != changed.id or not has_answer(state.answers.get(step.id)):
                continue
            message = self._not_more_than(state.answers, step, state.answers[step.id])
            if message is not None:
                del state.answers[step.id]
                note = message
        return note

    def answer(self, state: DossierState, step_id: str | None, raw: str, today: date) -> Outcome:
        """Typed text for the current step (`step_id` None: whatever step is current)."""
        step = self._check_current(state, step_id)
        if isinstance(step, Outcome):
            return step
        result = kind_of(step).read_text(self.ctx, self._current(state, step), clean_text(raw), today)
        return self._apply(state, step, result)

    def choose(self, state: DossierState, step_id: str | None, value: str) -> Outcome:
        """A button of the current prompt was pressed (`value` as given in PromptChoice.value)."""
        step = self._check_current(state, step_id)
        if isinstance(step, Outcome):
            return step
        if value == KEEP:
            if not has_answer(state.answers.get(step.id)):
                return Outcome(False, self.form.message("stale"))
            self._advance(state, step.id)
            return OK
        return self._apply(state, step, kind_of(step).press(self.ctx, self._current(state, step), value))

    def done(self, state: DossierState, step_id: str | None) -> Outcome:
        """'Xong' on a multi or photos step."""
        step = self._check_current(state, step_id)
        if isinstance(step, Outcome):
            return step
        return self._apply(state, step, kind_of(step).done(self.ctx, self._current(state, step)))

    def accepts_file(self, state: DossierState, kind: str) -> Outcome:
        """Would the current step take a file of this kind ('photo' or 'document')?"""
        step = self.current_step(state)
        if step is None:
            return Outcome(False, self.form.message("file_unexpected"))
        refused = kind_of(step).accepts_file(self.ctx, self._current(state, step), kind)
        return OK if refused is None else Outcome(False, refused.message)

    def attach(self, state: DossierState, file: FileRef) -> tuple[Outcome, list[int]]:
        """Record a stored file for the current step. Returns the outcome and the attachment ids the
        answer no longer refers to (a replaced single file)."""
        step = self.current_step(state)
        if step is None:
            return Outcome(False, self.form.message("file_unexpected")), []
        kind = kind_of(step)
        old = state.answers.get(step.id)
        outcome = self._apply(state, step, kind.attach(self.ctx, self._current(state, step), file))
        if not outcome.ok:
            return outcome, []
        return outcome, sorted(kind.attachment_ids(old) - kind.attachment_ids(state.answers.get(step.id)))

    # ------------------------------------------------------------------------------- prompt

    def prompt(self, state: DossierState) -> Prompt:
        relevant = self.relevant_steps(state.answers)
        total = len(relevant)
        step = self.current_step(state)
        if step is None:
            return Prompt("review", None, None, (), True, False, total, total, "none")
        cur = self._current(state, step)
        shown = self.display(step, cur.answer) if cur.answered else None
        keep = (PromptChoice(self.label(KEEP), KEEP),) if shown is not None else ()
        question = kind_of(step).question(self.ctx, cur, keep)
        return Prompt(
            question.kind,
            step,
            self.form.section_of(step).title,
            question.choices,
            can_back=self.can_back(state),
            can_skip=not step.required,
            position=next((i + 1 for i, s in enumerate(relevant) if s.id == step.id), 0),
            total=total,
            expects=question.expects,
            current_answer=shown,
            files=question.files,
            detail=question.detail,
        )

    # ------------------------------------------------------------------------------- review

    def display(self, step: Step, value: Any) -> str:
        """A stored answer as a person reads it ('' when not answered)."""
        return kind_of(step).display(self.ctx, step, value) if has_answer(value) else ""

    def locality(self, answers: dict[str, Any]) -> str:
        """Where the producer is (the commune answer), for the head of the printed form; '' if unknown."""
        effective = self.effective_answers(answers)
        for step in self.steps:
            found = kind_of(step).locality(effective.get(step.id))
            if found:
                return found
        return ""

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
                answered = has_answer(value)
                items.append(
                    ReviewItem(
                        step_id=step.id,
                        step_no=step.index,
                        label=step.label,
                        value=self.display(step, value) if answered else None,
                        required=step.required,
                        missing=step.required and not answered,
                        is_file=kind_of(step).is_file,
                        skipped=step.id in state.skipped and not answered,
                    )
                )
            if items:
                sections.append(ReviewSection(section.id, section.title, tuple(items)))
        return sections

    def missing(self, state: DossierState) -> list[MissingItem]:
        """Required relevant steps (answers and attachments) not given yet."""
        return [
            MissingItem(
                step.id, step.index, step.label, self.form.section_of(step).title, kind_of(step).is_file
            )
            for step in self.relevant_steps(state.answers)
            if step.required and not has_answer(state.answers.get(step.id))
        ]

    def suggested_files(self, state: DossierState) -> list[MissingItem]:
        """Optional attachments that apply and are not sent yet (evidence that earns points)."""
        return [
            MissingItem(step.id, step.index, step.label, self.form.section_of(step).title, True)
            for step in self.relevant_steps(state.answers)
            if not step.required and kind_of(step).is_file and not has_answer(state.answers.get(step.id))
        ]

    def can_submit(self, state: DossierState) -> bool:
        return not self.missing(state)

    def attachment_ids(self, answers: dict[str, Any], *, relevant_only: bool = False) -> set[int]:
        """Attachment ids the answers refer to."""
        source = self.effective_answers(answers) if relevant_only else answers
        ids: set[int] = set()
        for step in self.steps:
            ids |= kind_of(step).attachment_ids(source.get(step.id))
        return ids


def _unskip(state: DossierState, step_id: str) -> None:
    if step_id in state.skipped:
        state.skipped.remove(step_id)
