"""The dossier use cases over the database: create, answer step by step, attach files, review, submit.

Every call is scoped to the owner (another user's dossier is "not found"), changes the dossier in one
transaction that is committed before the result (the next question) is returned, and serialises
concurrent changes to one dossier (a row-locking UPDATE first; an optimistic version column behind it).
The chat handler renders the returned `DossierPrompt` with templates/dossier/*.html.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import Clock
from common.config import Settings
from dossier.engine import DossierEngine, DossierState, MissingItem, Outcome, Prompt, ReviewSection
from dossier.form import default_form
from dossier.models import (
    EDITABLE_STATUSES,
    Attachment,
    Dossier,
    DossierStatus,
    DossierStatusHistory,
    ReferenceSequence,
)
from dossier.schema import Form
from dossier.steps.base import CommuneResolver, FileRef, default_label
from storage.db import Database

log = logging.getLogger(__name__)

ALLOWED_MIME = {
    "application/pdf": "document",
    "image/jpeg": "photo",
    "image/jpg": "photo",
    "image/png": "photo",
}
EXTENSION_MIME = {".pdf": "application/pdf", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}
REFERENCE_FORMAT = "OCOP-{year}-{number:04d}"
# Downloads a Telegram file to a local path (wired by bot.py to Bot.get_file(...).download_to_drive).
FileDownloader = Callable[[str, Path], Awaitable[None]]


class DossierError(Exception):
    """Base of the dossier service's refusals (the handler shows a template for each)."""


class DossierNotFound(DossierError):
    """No such dossier for this owner (also when it belongs to someone else)."""


class DossierLocked(DossierError):
    """The dossier is no longer editable by its owner (submitted, under review, decided)."""

    def __init__(self, status: str) -> None:
        super().__init__(f"dossier is {status}")
        self.status = status


class DossierIncomplete(DossierError):
    """Submission refused: these required items are missing."""

    def __init__(self, missing: list[MissingItem]) -> None:
        super().__init__(", ".join(m.step_id for m in missing))
        self.missing = missing


@dataclass(frozen=True)
class Upload:
    """A file the user sent, as the handler reads it from the message (no Telegram types)."""

    file_id: str
    file_unique_id: str
    file_name: str | None = None
    mime: str | None = None  # a compressed Telegram photo: pass "image/jpeg"
    size: int | None = None


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
    Callback data the handler builds: f"dos:a:{dossier_id}:{step_no}:{button.value}" (≤ 64 bytes).
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


class DossierService:
    """Async dossier operations for the chat handler (and the console/bench/tests)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: Settings,
        *,
        form: Form | None = None,
        communes: CommuneResolver | None = None,
        label: Callable[..., str] = default_label,
        downloader: FileDownloader | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.form = form or default_form()
        if communes is None:
            from knowledge.communes import CommuneDirectory

            communes = CommuneDirectory.load()
        self.engine = DossierEngine(self.form, communes, label)
        self.downloader = downloader
        self.tz = ZoneInfo(settings.timezone)

    # ------------------------------------------------------------------------------- helpers

    def today(self) -> date:
        return self.clock.now().astimezone(self.tz).date()

    async def _lock(self, s: AsyncSession, owner_id: int, dossier_id: int) -> Dossier:
        """Take the dossier for writing: a first UPDATE that locks the row (PostgreSQL) or the database
        (SQLite) until commit, so concurrent changes to one dossier queue instead of overwriting."""
        result = await s.execute(
            update(Dossier)
            .where(Dossier.id == dossier_id, Dossier.owner_id == owner_id)
            .values(version=Dossier.version + 1)
            .returning(Dossier.id)
            .execution_options(synchronize_session=False)
        )
        if result.scalar_one_or_none() is None:
            raise DossierNotFound(str(dossier_id))
        dossier = (
            await s.scalars(
                select(Dossier).where(Dossier.id == dossier_id).execution_options(populate_existing=True)
            )
        ).one()
        return dossier

    async def _read(self, s: AsyncSession, owner_id: int, dossier_id: int) -> Dossier:
        dossier = await s.scalar(
            select(Dossier).where(Dossier.id == dossier_id, Dossier.owner_id == owner_id)
        )
        if dossier is None:
            raise DossierNotFound(str(dossier_id))
        return dossier

    def _state(self, dossier: Dossier) -> DossierState:
        state = DossierState.from_parts(
            copy.deepcopy(dossier.answers),
            dossier.current_step,
            dossier.review_mode,
            copy.deepcopy(dossier.flow_state),
        )
        self.engine.repair(state)
        return state

    def _save(self, dossier: Dossier, state: DossierState) -> None:
        dossier.answers = copy.deepcopy(state.answers)
        dossier.current_step = state.current
        dossier.review_mode = state.review_mode
        dossier.flow_state = state.extra_json()
        name = state.answers.get("product_name")
        dossier.product_name = str(name)[:256] if name else None
        dossier.updated_at = self.clock.now()

    def _prompt(self, dossier: Dossier, state: DossierState, error: str | None = None) -> DossierPrompt:
        missing = tuple(self.engine.missing(state))
        if dossier.status not in EDITABLE_STATUSES:
            return self._review_prompt(dossier, state, "locked", error, missing)
        p: Prompt = self.engine.prompt(state)
        if p.kind == "review":
            return self._review_prompt(dossier, state, "review", error, missing)
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
        )

    def _review_prompt(
        self,
        dossier: Dossier,
        state: DossierState,
        kind: str,
        error: str | None,
        missing: tuple[MissingItem, ...],
    ) -> DossierPrompt:
        total = len(self.engine.relevant_steps(state.answers))
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
            review=tuple(self.engine.review(state)),
            missing=missing,
            can_submit=kind == "review" and not missing,
            product_name=dossier.product_name,
        )

    async def _change(
        self, owner_id: int, dossier_id: int, operation: Callable[[DossierState], Outcome]
    ) -> DossierPrompt:
        """Lock, apply an engine operation, persist, commit — then hand back the next prompt."""
        async with self.db.session() as s:
            dossier = await self._lock(s, owner_id, dossier_id)
            state = self._state(dossier)
            if dossier.status not in EDITABLE_STATUSES:
                return self._prompt(dossier, state)
            before = self.engine.attachment_ids(state.answers)
            outcome = operation(state)
            if outcome.ok:
                self._save(dossier, state)
                if before - self.engine.attachment_ids(state.answers):
                    await self._delete_unreferenced(s, dossier, state)
        return self._prompt(dossier, state, outcome.error)

    # ------------------------------------------------------------------------------- reading

    async def list_dossiers(self, owner_id: int) -> list[DossierSummary]:
        """The owner's dossiers, most recently changed first."""
        async with self.db.session() as s:
            rows = (
                await s.scalars(
                    select(Dossier)
                    .where(Dossier.owner_id == owner_id)
                    .order_by(Dossier.updated_at.desc(), Dossier.id.desc())
                )
            ).all()
        return [self._summary(d) for d in rows]

    def _summary(self, dossier: Dossier) -> DossierSummary:
        state = self._state(dossier)
        answered, total = self.engine.answered_count(state)
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
            missing=len(self.engine.missing(state)),
        )

    async def get(self, owner_id: int, dossier_id: int) -> DossierSummary:
        """One dossier of this owner (DossierNotFound otherwise)."""
        async with self.db.session() as s:
            return self._summary(await self._read(s, owner_id, dossier_id))

    async def current(self, owner_id: int, dossier_id: int) -> DossierPrompt:
        """Where the dossier stands: the question to (re)ask, or the review. No change."""
        async with self.db.session() as s:
            dossier = await self._read(s, owner_id, dossier_id)
        return self._prompt(dossier, self._state(dossier))

    async def review(self, owner_id: int, dossier_id: int) -> DossierPrompt:
        """The review screen (answers by section, missing items) without moving the current step."""
        async with self.db.session() as s:
            dossier = await self._read(s, owner_id, dossier_id)
        state = self._state(dossier)
        missing = tuple(self.engine.missing(state))
        kind = "review" if dossier.status in EDITABLE_STATUSES else "locked"
        return self._review_prompt(dossier, state, kind, None, missing)

    async def attachments(self, owner_id: int, dossier_id: int) -> list[AttachmentInfo]:
        """The files of the dossier that its answers still refer to, in form order."""
        async with self.db.session() as s:
            dossier = await self._read(s, owner_id, dossier_id)
            rows = (
                await s.scalars(
                    select(Attachment).where(Attachment.dossier_id == dossier.id).order_by(Attachment.id)
                )
            ).all()
        wanted = self.engine.attachment_ids(dossier.answers, relevant_only=True)
        order = {step.id: step.index for step in self.form.steps}
        infos = [
            AttachmentInfo(
                a.id,
                a.step_id,
                self.form.step(a.step_id).label if self.form.has_step(a.step_id) else a.step_id,
                a.kind,
                a.file_id,
                a.file_name,
                a.mime,
                a.size,
                a.local_path,
            )
            for a in rows
            if a.id in wanted
        ]
        return sorted(infos, key=lambda i: (order.get(i.step_id, 999), i.id))

    # ------------------------------------------------------------------------------- changing

    async def create(self, owner_id: int) -> DossierPrompt:
        """A new draft for the owner (who must exist in users); returns its first question."""
        now = self.clock.now()
        state = self.engine.start()
        async with self.db.session() as s:
            dossier = Dossier(
                owner_id=owner_id,
                status=DossierStatus.DRAFT,
                answers={},
                flow_state={},
                review_mode=False,
                created_at=now,
                updated_at=now,
            )
            self._save(dossier, state)
            s.add(dossier)
            await s.flush()
            s.add(
                DossierStatusHistory(
                    dossier_id=dossier.id,
                    at=now,
                    actor_id=owner_id,
                    from_status=None,
                    to_status=DossierStatus.DRAFT,
                    note="",
                )
            )
        return self._prompt(dossier, state)

    async def answer(self, owner_id: int, dossier_id: int, text: str) -> DossierPrompt:
        """Typed text for the current step."""
        today = self.today()
        return await self._change(owner_id, dossier_id, lambda st: self.engine.answer(st, None, text, today))

    async def choose(self, owner_id: int, dossier_id: int, step_no: int, value: str) -> DossierPrompt:
        """A button of the prompt for step `step_no` (a button of an older question gets 'stale')."""
        step = self.engine.step_by_no(step_no)

        def op(st: DossierState) -> Outcome:
            if step is None:
                return Outcome(False, self.form.message("stale"))
            return self.engine.choose(st, step.id, value)

        return await self._change(owner_id, dossier_id, op)

    async def done(self, owner_id: int, dossier_id: int) -> DossierPrompt:
        """'Xong' on a multi-choice or several-photos step."""
        return await self._change(owner_id, dossier_id, lambda st: self.engine.done(st, None))

    async def back(self, owner_id: int, dossier_id: int) -> DossierPrompt:
        return await self._change(owner_id, dossier_id, self.engine.back)

    async def skip(self, owner_id: int, dossier_id: int) -> DossierPrompt:
        """Skip the current step (optional steps only; a required one gets the 'not skippable' error)."""
        return await self._change(owner_id, dossier_id, self.engine.skip)

    async def jump(self, owner_id: int, dossier_id: int, step: int | str) -> DossierPrompt:
        """Edit one step (by form position or id); after answering, the flow returns to the review."""
        target = self.engine.step_by_no(step) if isinstance(step, int) else None
        step_id = target.id if target else str(step)
        return await self._change(owner_id, dossier_id, lambda st: self.engine.jump_to(st, step_id))

    async def resume(self, owner_id: int, dossier_id: int) -> DossierPrompt:
        """'Làm tiếp': the current question; from the review, the first missing item (if any)."""
        return await self._change(owner_id, dossier_id, self.engine.resume)

    async def go_to_review(self, owner_id: int, dossier_id: int) -> DossierPrompt:
        """Leave an edit and show the review (the current step becomes the review)."""

        def op(st: DossierState) -> Outcome:
            if st.review_mode:
                self.engine.to_review(st)
            return Outcome(True)

        prompt = await self._change(owner_id, dossier_id, op)
        if prompt.kind == "review":
            return prompt
        return await self.review(owner_id, dossier_id)

    async def save_and_exit(self, owner_id: int, dossier_id: int) -> DossierSummary:
        """Answers are saved as they come; this drops a half-made choice and returns the summary."""

        def op(st: DossierState) -> Outcome:
            st.pending = None
            return Outcome(True)

        await self._change(owner_id, dossier_id, op)
        return await self.get(owner_id, dossier_id)

    def _file_kind(self, upload: Upload) -> tuple[str | None, str | None]:
        """(kind, error): kind 'photo'/'document' from the MIME type or file extension."""
        mime = (upload.mime or "").lower().strip()
        if mime not in ALLOWED_MIME and upload.file_name:
            mime = EXTENSION_MIME.get(Path(upload.file_name).suffix.lower(), mime)
        kind = ALLOWED_MIME.get(mime)
        if kind is None:
            return None, self.form.message("file_type")
        limit = self.settings.max_upload_mb
        if upload.size is not None and upload.size > limit * 1024 * 1024:
            return None, self.form.message("file_too_large", max=_format_mb(limit))
        return kind, None

    async def attach(self, owner_id: int, dossier_id: int, upload: Upload) -> DossierPrompt:
        """A photo or file for the current step: PDF/JPG/PNG only, at most settings.max_upload_mb."""
        kind, error = self._file_kind(upload)
        saved: Attachment | None = None
        async with self.db.session() as s:
            dossier = await self._lock(s, owner_id, dossier_id)
            state = self._state(dossier)
            if dossier.status not in EDITABLE_STATUSES:
                return self._prompt(dossier, state)
            if error is None:
                assert kind is not None
                check = self.engine.accepts_file(state, kind)
                error = check.error
            if error is None:
                assert kind is not None and state.current is not None
                saved = Attachment(
                    dossier_id=dossier.id,
                    step_id=state.current,
                    kind=kind,
                    file_id=upload.file_id,
                    file_unique_id=upload.file_unique_id,
                    file_name=(upload.file_name or None) and upload.file_name[:256],
                    mime=upload.mime,
                    size=upload.size,
                    created_at=self.clock.now(),
                )
                s.add(saved)
                await s.flush()
                outcome, _replaced = self.engine.attach(state, FileRef(saved.id, kind, saved.file_name))
                error = outcome.error
                if outcome.ok:
                    self._save(dossier, state)
                    await self._delete_unreferenced(s, dossier, state)  # drops the replaced files
        prompt = self._prompt(dossier, state, error)
        if saved is not None and error is None:
            await self._download(dossier.id, saved)
        return prompt

    async def _delete_unreferenced(self, s: AsyncSession, dossier: Dossier, state: DossierState) -> None:
        """Drop attachment rows the answers no longer refer to (a replaced photo, a cleared list)."""
        keep = self.engine.attachment_ids(state.answers)
        rows = (await s.scalars(select(Attachment).where(Attachment.dossier_id == dossier.id))).all()
        for row in rows:
            if row.id not in keep:
                _remove_file(row.local_path)
                await s.delete(row)

    async def _download(self, dossier_id: int, attachment: Attachment) -> None:
        """Keep a local copy when configured (after the answer is committed; failures only logged)."""
        if not (self.settings.download_files and self.downloader):
            return
        ext = {"application/pdf": ".pdf", "image/png": ".png"}.get((attachment.mime or "").lower(), ".jpg")
        folder = Path(self.settings.storage_dir) / "dossiers" / str(dossier_id)
        path = folder / f"{attachment.id}{ext}"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            await self.downloader(attachment.file_id, path)
        except Exception:
            log.exception("could not download attachment %s of dossier %s", attachment.id, dossier_id)
            return
        async with self.db.session() as s:
            await s.execute(
                update(Attachment).where(Attachment.id == attachment.id).values(local_path=str(path))
            )

    async def delete_draft(self, owner_id: int, dossier_id: int) -> None:
        """Delete a draft of this owner with its files (DossierLocked for anything but a draft)."""
        paths: list[str] = []
        async with self.db.session() as s:
            dossier = await self._lock(s, owner_id, dossier_id)
            if dossier.status != DossierStatus.DRAFT:
                raise DossierLocked(dossier.status)
            rows = (await s.scalars(select(Attachment).where(Attachment.dossier_id == dossier.id))).all()
            paths = [r.local_path for r in rows if r.local_path]
            await s.execute(delete(Attachment).where(Attachment.dossier_id == dossier.id))
            await s.execute(delete(DossierStatusHistory).where(DossierStatusHistory.dossier_id == dossier.id))
            await s.delete(dossier)
        for path in paths:
            _remove_file(path)

    async def submit(self, owner_id: int, dossier_id: int) -> SubmitResult:
        """Submit a complete draft (or a returned dossier): reference code, history row, locked.

        Raises DossierIncomplete (with the missing items), DossierLocked or DossierNotFound.
        """
        now = self.clock.now()
        async with self.db.session() as s:
            dossier = await self._lock(s, owner_id, dossier_id)
            if dossier.status not in EDITABLE_STATUSES:
                raise DossierLocked(dossier.status)
            state = self._state(dossier)
            missing = self.engine.missing(state)
            if missing:
                raise DossierIncomplete(missing)
            if dossier.reference is None:
                year = now.astimezone(self.tz).year
                number = await self._next_number(s, year)
                dossier.reference = REFERENCE_FORMAT.format(year=year, number=number)
            previous = dossier.status
            self.engine.to_review(state)
            self._save(dossier, state)
            dossier.status = DossierStatus.SUBMITTED
            dossier.submitted_at = now
            s.add(
                DossierStatusHistory(
                    dossier_id=dossier.id,
                    at=now,
                    actor_id=owner_id,
                    from_status=previous,
                    to_status=DossierStatus.SUBMITTED,
                    note="",
                )
            )
            result = SubmitResult(dossier.id, dossier.reference, now, dossier.product_name)
        return result

    async def _next_number(self, s: AsyncSession, year: int) -> int:
        """The next number of the year's sequence: one atomic UPDATE … RETURNING (row-locked), the
        year's row created on first use (a racing creator loses on the primary key and retries)."""
        for _ in range(5):
            result = await s.execute(
                update(ReferenceSequence)
                .where(ReferenceSequence.year == year)
                .values(last=ReferenceSequence.last + 1)
                .returning(ReferenceSequence.last)
                .execution_options(synchronize_session=False)
            )
            number = result.scalar_one_or_none()
            if number is not None:
                return int(number)
            try:
                async with s.begin_nested():
                    # Start after any reference already issued that year (e.g. data imported by hand).
                    prefix = REFERENCE_FORMAT.format(year=year, number=0)[:-4]
                    existing = await s.scalar(
                        select(func.count()).select_from(Dossier).where(Dossier.reference.like(f"{prefix}%"))
                    )
                    s.add(ReferenceSequence(year=year, last=int(existing or 0) + 1))
                    await s.flush()
                return int(existing or 0) + 1
            except IntegrityError:
                continue
        raise RuntimeError(f"could not allocate a reference number for {year}")

    # ------------------------------------------------------------------------------- documents

    async def render_pdf(self, owner_id: int, dossier_id: int) -> bytes:
        """The filled registration form as PDF bytes."""
        from dossier.pdf import render_dossier_pdf

        async with self.db.session() as s:
            dossier = await self._read(s, owner_id, dossier_id)
        files = await self.attachments(owner_id, dossier_id)
        # About 0.1-0.25 s of CPU: rendered in a worker thread so the bot keeps answering others.
        return await asyncio.to_thread(
            render_dossier_pdf,
            self.engine,
            self._state(dossier),
            reference=dossier.reference,
            status=dossier.status,
            files=[(f.step_label, f.file_name, f.kind) for f in files],
            now=self.clock.now(),
            timezone=self.settings.timezone,
        )

    def pdf_file_name(self, summary: DossierSummary) -> str:
        """A safe ASCII file name for the PDF, e.g. phieu-dang-ky-OCOP-2026-0042.pdf."""
        tail = summary.reference or f"nhap-{summary.id}"
        return "phieu-dang-ky-" + re.sub(r"[^A-Za-z0-9-]", "", tail) + ".pdf"


def _format_mb(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value).replace(".", ",")


def _remove_file(path: str | None) -> None:
    if not path:
        return
    try:
        Path(path).unlink(missing_ok=True)
    except OSError:
        log.warning("could not remove %s", path)
