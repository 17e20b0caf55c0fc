"""What the dossier service hands back (no database rows, no Telegram types): the prompt to show, a
dossier's summary, its attachments, a submission's result — and how a prompt and a summary are built
from the engine's view of a dossier. The chat handler renders these with templates/dossier/*.html.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dossier.engine import DossierEngine, DossierState, MissingItem, Prompt, ReviewSection
from dossier.models import Dossier, DossierStatus
from dossier.schema import Form
from dossier.workflow import is_deletable, is_editable


@dataclass(frozen=True)
class PromptButton:
    """A choice of the prompt: label to show, short value for the callback data."""

    label: str
    value: str
    selected: bool = False


@dataclass(frozen=True)
class DossierPrompt:
    """What the handler shows after any call: the question (or the review) and the last error.

    kind: 'question' | 'subgroup' | 'commune_confirm' | 'review' | 'locked'.
    expects: 'text' | 'choice' | 'photo' | 'document' | 'none' (what kind of message answers it).
    Callback data the handler builds: encode("dos", "a", dossier_id, step_no, button.value) (≤ 64 bytes).
    """

    dossier_id: int
    status: str
    reference: str | None
    kind: str
    step_id: str | None
    step_no: int | None
    section_title: str | None
    question: str
    help: str | None
    buttons: tuple[PromptButton, ...]
    can_back: bool
    can_skip: bool
    position: int
    total: int
    expects: str
    current_answer: str | None
    files: int
    detail: dict[str, Any]
    error: str | None
    review: tuple[ReviewSection, ...]
    missing: tuple[MissingItem, ...]
    can_submit: bool
    product_name: str | None
    suggested: tuple[MissingItem, ...] = ()  # optional attachments still worth sending (review only)
    # Returned for correction: the only steps the producer may change, with the officer's reasons.
    corrections: tuple[tuple[str, int, str, str], ...] = ()  # (step id, step no, label, why)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def progress(self) -> str:
        """'5/28' (the template writes 'Bước 5/28')."""
        return f"{self.position}/{self.total}"


@dataclass(frozen=True)
class DossierSummary:
    """A line of 'my dossiers'."""

    id: int
    reference: str | None
    status: str
    product_name: str | None
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    answered: int
    total: int
    missing: int
    status_at: datetime | None = None
    previous_id: int | None = None
    stars: int | None = None
    valid_until: date | None = None

    @property
    def editable(self) -> bool:
        """The owner may still change it (and submit it)."""
        return is_editable(self.status)

    @property
    def deletable(self) -> bool:
        return is_deletable(self.status)


@dataclass(frozen=True)
class AttachmentInfo:
    id: int
    step_id: str
    step_label: str
    kind: str
    file_id: str
    file_name: str | None
    mime: str | None
    size: int | None
    local_path: str | None


@dataclass(frozen=True)
class SubmitResult:
    dossier_id: int
    reference: str
    submitted_at: datetime
    product_name: str | None
    resubmitted: bool = False  # sent again after a return for correction
    officers_told: bool = False  # a notice to officers was queued with it


def prompt_of(
    engine: DossierEngine, dossier: Dossier, state: DossierState, error: str | None = None
) -> DossierPrompt:
    """The question to ask now, the review, or (no longer editable) the locked review."""
    missing = tuple(engine.missing(state))
    if not is_editable(dossier.status):
        return review_prompt(engine, dossier, state, "locked", error, missing)
    p: Prompt = engine.prompt(state)
    if p.kind == "review":
        return review_prompt(engine, dossier, state, "review", error, missing)
    return DossierPrompt(
        dossier_id=dossier.id,
        status=dossier.status,
        reference=dossier.reference,
        kind=p.kind,
        step_id=p.step.id if p.step else None,
        step_no=p.step.index if p.step else None,
        section_title=p.section_title,
        question=p.question,
        help=p.help,
        buttons=tuple(PromptButton(c.label, c.value, c.selected) for c in p.choices),
        can_back=p.can_back,
        can_skip=p.can_skip,
        position=p.position,
        total=p.total,
        expects=p.expects,
        current_answer=p.current_answer,
        files=p.files,
        detail=p.detail,
        error=error,
        review=(),
        missing=missing,
        can_submit=not missing,
        product_name=dossier.product_name,
        corrections=corrections_of(engine, dossier),
    )


def review_prompt(
    engine: DossierEngine,
    dossier: Dossier,
    state: DossierState,
    kind: str,
    error: str | None,
    missing: tuple[MissingItem, ...],
) -> DossierPrompt:
    """The review: answers by section and what is missing (kind 'review' or 'locked')."""
    total = len(engine.relevant_steps(state.answers))
    return DossierPrompt(
        dossier_id=dossier.id,
        status=dossier.status,
        reference=dossier.reference,
        kind=kind,
        step_id=None,
        step_no=None,
        section_title=None,
        question="",
        help=None,
        buttons=(),
        can_back=kind == "review" and state.current is None,
        can_skip=False,
        position=total,
        total=total,
        expects="none",
        current_answer=None,
        files=0,
        detail={},
        error=error,
        review=tuple(engine.review(state)),
        missing=missing,
        can_submit=kind == "review" and not missing,
        product_name=dossier.product_name,
        suggested=tuple(engine.suggested_files(state)) if kind == "review" else (),
        corrections=corrections_of(engine, dossier) if kind == "review" else (),
    )


def flagged_steps(form: Form, dossier: Dossier) -> tuple[tuple[str, int, str, str], ...]:
    """The steps an officer flagged for correction, in form order: (step id, step no, label, why)."""
    steps = (dossier.corrections or {}).get("steps") or {}
    flagged = [form.step(sid) for sid in steps if form.has_step(sid)]
    return tuple((s.id, s.index, s.label, str(steps[s.id])) for s in sorted(flagged, key=lambda s: s.index))


def corrections_of(engine: DossierEngine, dossier: Dossier) -> tuple[tuple[str, int, str, str], ...]:
    """A returned dossier's flagged steps (`flagged_steps`); none for any other status."""
    return flagged_steps(engine.form, dossier) if dossier.status == DossierStatus.RETURNED else ()


def summary_of(engine: DossierEngine, dossier: Dossier, state: DossierState) -> DossierSummary:
    """A line of 'my dossiers'."""
    answered, total = engine.answered_count(state)
    return DossierSummary(
        id=dossier.id,
        reference=dossier.reference,
        status=dossier.status,
        product_name=dossier.product_name,
        created_at=dossier.created_at,
        updated_at=dossier.updated_at,
        submitted_at=dossier.submitted_at,
        answered=answered,
        total=total,
        missing=len(engine.missing(state)),
        status_at=dossier.status_at,
        previous_id=dossier.previous_id,
        stars=dossier.stars,
        valid_until=dossier.valid_until,
    )
