"""The dossier use cases over the database: create, answer step by step, attach files, review, submit.

Every call is scoped to the owner (another user's dossier is "not found"), changes the dossier in one
transaction that is committed before the result (the next question) is returned, and serialises
concurrent changes to one dossier (a row-locking UPDATE first; an optimistic version column behind it).
The chat handler renders the returned `DossierPrompt` with templates/dossier/*.html.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from common.clock import Clock
from common.config import Settings
from dossier.columns import commune_of, product_set_of
from dossier.engine import DossierEngine, DossierState, Outcome
from dossier.errors import DossierError, DossierIncomplete, DossierLocked, DossierNotFound
from dossier.form import default_form
from dossier.intent import FREE_TEXT_TYPES, Cue, QuestionMatcher, Verdict, needs_match, question_cue, verdict
from dossier.models import Attachment, Dossier, DossierStatus, DossierStatusHistory
from dossier.references import next_reference
from dossier.schema import Form, has_answer
from dossier.steps.base import CommuneResolver, FileRef
from dossier.uploads import (
    FileDownloader,
    Upload,
    attachment_key,
    content_error,
    download,
    file_kind,
    move_into,
    remove_file,
)
from dossier.views import (
    AttachmentInfo,
    DossierPrompt,
    DossierSummary,
    SubmitResult,
    prompt_of,
    review_prompt,
    summary_of,
)
from dossier.workflow import (
    SUBMIT_TARGET,
    Role,
    apply_transition,
    check_transition,
    is_certified,
    is_deletable,
    is_editable,
)
from storage.db import Database
from storage.files import FileStore, LocalFileStore

# The refusals and the values handed back, importable from here as before.
__all__ = [
    "AttachmentInfo",
    "DossierError",
    "DossierIncomplete",
    "DossierLocked",
    "DossierNotFound",
    "DossierPrompt",
    "DossierService",
    "DossierSummary",
    "SubmitResult",
    "TypedReply",
    "Upload",
    "Verdict",
]


# Called in the transaction of every status change the service makes (the review desk queues the
# notices): (session, dossier, history row) → whether anybody was told.
TransitionHook = Callable[[AsyncSession, Dossier, DossierStatusHistory], Awaitable[bool]]


@dataclass(frozen=True)
class TypedReply:
    """What typed text during the flow led to: the prompt to show and the verdict (dossier.intent)."""

    prompt: DossierPrompt
    verdict: Verdict


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
        downloader: FileDownloader | None = None,
        files: FileStore | None = None,
        questions: QuestionMatcher | None = None,
    ) -> None:
        self.db = db
        # How strongly the knowledge base matches a typed text (a question typed instead of an answer).
        self.questions = questions
        # Where copies of uploads are kept: STORAGE_DIR, which several instances may share.
        self.files: FileStore = files or LocalFileStore(settings.storage_dir)
        self.clock = clock
        self.settings = settings
        self.form = form or default_form()
        if communes is None:
            from knowledge.communes import CommuneDirectory

            communes = CommuneDirectory.load()
        self.engine = DossierEngine(self.form, communes)
        self.downloader = downloader
        self.tz = ZoneInfo(settings.timezone)
        # Set by the review desk (dossier.review) when the composition root builds it: the notices
        # of a submission, and the line shown when a returned dossier's other items are touched.
        self.on_transition: TransitionHook | None = None
        self.correction_only = "correction_only"

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

    def state_of(self, dossier: Dossier) -> DossierState:
        """The engine's state of a stored dossier (a copy: changing it changes nothing stored)."""
        return self._state(dossier)

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
        dossier.commune = commune_of(state.answers)
        dossier.product_set = product_set_of(state.answers)
        dossier.updated_at = self.clock.now()

    async def _change(
        self, owner_id: int, dossier_id: int, operation: Callable[[DossierState], Outcome]
    ) -> DossierPrompt:
        """Lock, apply an engine operation, persist, commit — then hand back the next prompt."""
        async with self.db.session() as s:
            dossier = await self._lock(s, owner_id, dossier_id)
            state = self._state(dossier)
            if not is_editable(dossier.status):
                return prompt_of(self.engine, dossier, state)
            before = self.engine.attachment_ids(state.answers)
            answers_before = copy.deepcopy(state.answers)
            outcome = operation(state)
            if outcome.ok and not self._within_corrections(dossier, answers_before, state):
                state = self._state(dossier)
                outcome = Outcome(False, self.correction_only)
            if outcome.ok:
                self._save(dossier, state)
                if before - self.engine.attachment_ids(state.answers):
                    await self._delete_unreferenced(s, dossier, state)
        return prompt_of(self.engine, dossier, state, outcome.error)

    def _within_corrections(self, dossier: Dossier, before: dict[str, Any], state: DossierState) -> bool:
        """A dossier returned for correction: only the flagged steps (and items that became required
        and are missing) may change or be visited; True for any other dossier."""
        if dossier.status != DossierStatus.RETURNED:
            return True
        flagged = set((dossier.corrections or {}).get("steps") or {})
        if not flagged:
            return True
        open_steps = flagged | {m.step_id for m in self.engine.missing(state)}
        if state.current is not None and state.current not in open_steps:
            return False
        changed = {k for k in set(before) | set(state.answers) if before.get(k) != state.answers.get(k)}
        return changed <= open_steps

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
        return [summary_of(self.engine, d, self._state(d)) for d in rows]

    async def get(self, owner_id: int, dossier_id: int) -> DossierSummary:
        """One dossier of this owner (DossierNotFound otherwise)."""
        async with self.db.session() as s:
            dossier = await self._read(s, owner_id, dossier_id)
        return summary_of(self.engine, dossier, self._state(dossier))

    async def current(self, owner_id: int, dossier_id: int) -> DossierPrompt:
        """Where the dossier stands: the question to (re)ask, or the review. No change."""
        async with self.db.session() as s:
            dossier = await self._read(s, owner_id, dossier_id)
        return prompt_of(self.engine, dossier, self._state(dossier))

    async def _kb_match(self, text: str) -> float:
        return await self.questions(text) if self.questions is not None else 0.0

    async def answer_text(self, owner_id: int, dossier_id: int, text: str) -> TypedReply:
        """Typed text during the flow (dossier.intent): the answer to the current step (stored as
        `answer` does), a question to tell apart from an answer ("ask": nothing stored, the handler
        offers two buttons), or a question the step could not take as its answer ("question": nothing
        stored, the handler answers it from the knowledge base and asks the step again)."""
        if question_cue(text) is not Cue.NONE:  # the database is read first only when the words hint at it
            async with self.db.session() as s:
                dossier = await self._read(s, owner_id, dossier_id)
            state = self._state(dossier)
            step = self.engine.current_step(state)
            if is_editable(dossier.status) and step is not None and step.type in FREE_TEXT_TYPES:
                match = await self._kb_match(text) if needs_match(text, step.type, refused=False) else 0.0
                if verdict(text, step.type, refused=False, kb_match=match) is Verdict.ASK:
                    return TypedReply(prompt_of(self.engine, dossier, state), Verdict.ASK)
                prompt = await self.answer(owner_id, dossier_id, text)
                return TypedReply(prompt, Verdict.ANSWER)
        today = self.today()
        seen: dict[str, object] = {}

        def op(st: DossierState) -> Outcome:
            step = self.engine.current_step(st)
            seen["type"] = step.type if step is not None else None
            outcome = self.engine.answer(st, None, text, today)
            seen["refused"] = not outcome.ok
            return outcome

        prompt = await self._change(owner_id, dossier_id, op)
        kind = seen.get("type")
        if not seen.get("refused") or not isinstance(kind, str) or kind in FREE_TEXT_TYPES:
            return TypedReply(prompt, Verdict.ANSWER)
        match = await self._kb_match(text) if needs_match(text, kind, refused=True) else 0.0
        if verdict(text, kind, refused=True, kb_match=match) is Verdict.QUESTION:
            return TypedReply(dataclasses.replace(prompt, error=None), Verdict.QUESTION)
        return TypedReply(prompt, Verdict.ANSWER)

    async def review(self, owner_id: int, dossier_id: int) -> DossierPrompt:
        """The review screen (answers by section, missing items) without moving the current step."""
        async with self.db.session() as s:
            dossier = await self._read(s, owner_id, dossier_id)
        state = self._state(dossier)
        missing = tuple(self.engine.missing(state))
        kind = "review" if is_editable(dossier.status) else "locked"
        return review_prompt(self.engine, dossier, state, kind, None, missing)

    async def attachments(self, owner_id: int, dossier_id: int) -> list[AttachmentInfo]:
        """The files of the dossier that its answers still refer to, in form order."""
        async with self.db.session() as s:
            dossier = await self._read(s, owner_id, dossier_id)
            return await self.attachments_in(s, dossier)

    async def attachments_in(self, s: AsyncSession, dossier: Dossier) -> list[AttachmentInfo]:
        """The files of `dossier` its answers refer to, in form order (the caller checked access)."""
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
            dossier = Dossier(owner_id=owner_id, created_at=now)
            self._save(dossier, state)
            await apply_transition(
                s, dossier, DossierStatus.DRAFT, actor_id=owner_id, role=Role.OWNER, at=now
            )
        return prompt_of(self.engine, dossier, state)

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

    async def attach(self, owner_id: int, dossier_id: int, upload: Upload) -> DossierPrompt:
        """A photo or file for the current step: PDF/JPG/PNG only, at most settings.max_upload_mb."""
        kind, error = file_kind(self.form, upload, self.settings.max_upload_mb)
        checked: Path | None = None
        if error is None:
            checked, error = await self._fetch_and_check(upload)
        saved: Attachment | None = None
        async with self.db.session() as s:
            dossier = await self._lock(s, owner_id, dossier_id)
            state = self._state(dossier)
            if not is_editable(dossier.status):
                return prompt_of(self.engine, dossier, state)
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
        prompt = prompt_of(self.engine, dossier, state, error)
        if saved is not None and error is None:
            await self._download(dossier.id, saved, checked)
        elif checked is not None:
            remove_file(str(checked))
        return prompt

    async def _fetch_and_check(self, upload: Upload) -> tuple[Path | None, str | None]:
        """A file sent as a file (not a photo Telegram re-encoded) is fetched first and its bytes
        checked: (where it was saved, None) or (None, the message). Without a downloader, or when the
        download fails, nothing can be checked and the file is taken as Telegram accepted it."""
        if upload.compressed_photo or not (self.settings.download_files and self.downloader):
            return None, None
        path = self.files.path(f"incoming/{uuid.uuid4().hex}")
        if not await download(self.downloader, upload.file_id, path):
            return None, None
        error = content_error(self.form, path, upload.mime, upload.file_name)
        if error is not None:
            remove_file(str(path))
            return None, error
        return path, None

    async def _delete_unreferenced(self, s: AsyncSession, dossier: Dossier, state: DossierState) -> None:
        """Drop attachment rows the answers no longer refer to (a replaced photo, a cleared list)."""
        keep = self.engine.attachment_ids(state.answers)
        rows = (await s.scalars(select(Attachment).where(Attachment.dossier_id == dossier.id))).all()
        for row in rows:
            if row.id not in keep:
                remove_file(row.local_path)
                await s.delete(row)

    async def _download(self, dossier_id: int, attachment: Attachment, checked: Path | None = None) -> None:
        """Keep a local copy when configured (after the answer is committed; failures only logged).
        `checked`: the copy already fetched to check its bytes, moved into place."""
        if not (self.settings.download_files and self.downloader):
            return
        path = self.files.path(attachment_key(dossier_id, attachment.id, attachment.mime))
        if checked is not None:
            if not move_into(checked, path):
                return
        elif not await download(self.downloader, attachment.file_id, path):
            return
        async with self.db.session() as s:
            await s.execute(
                update(Attachment).where(Attachment.id == attachment.id).values(local_path=str(path))
            )

    async def draft_to_delete(self, owner_id: int, dossier_id: int) -> DossierSummary:
        """The dossier the owner asks to delete, if it may be (DossierLocked when it is not a draft)."""
        summary = await self.get(owner_id, dossier_id)
        if not summary.deletable:
            raise DossierLocked(summary.status)
        return summary

    async def delete_draft(self, owner_id: int, dossier_id: int) -> None:
        """Delete a draft of this owner with its files (DossierLocked for anything but a draft)."""
        paths: list[str] = []
        async with self.db.session() as s:
            dossier = await self._lock(s, owner_id, dossier_id)
            if not is_deletable(dossier.status):
                raise DossierLocked(dossier.status)
            rows = (await s.scalars(select(Attachment).where(Attachment.dossier_id == dossier.id))).all()
            paths = [r.local_path for r in rows if r.local_path]
            await s.execute(delete(Attachment).where(Attachment.dossier_id == dossier.id))
            await s.execute(delete(DossierStatusHistory).where(DossierStatusHistory.dossier_id == dossier.id))
            await s.delete(dossier)
        for path in paths:
            remove_file(path)

    async def submit(self, owner_id: int, dossier_id: int) -> SubmitResult:
        """Submit a complete draft, or send a returned dossier again: reference code, history row,
        locked; the officers' notice is queued in the same transaction (`on_transition`).

        Raises DossierIncomplete (with the missing items), DossierLocked or DossierNotFound.
        """
        now = self.clock.now()
        async with self.db.session() as s:
            dossier = await self._lock(s, owner_id, dossier_id)
            target = SUBMIT_TARGET.get(dossier.status, DossierStatus.SUBMITTED)
            check_transition(dossier.status, target, Role.OWNER)  # else DossierLocked
            state = self._state(dossier)
            missing = self.engine.missing(state)
            if missing:
                raise DossierIncomplete(missing)
            if dossier.reference is None:
                dossier.reference = await next_reference(s, now.astimezone(self.tz).year)
            self.engine.to_review(state)
            self._save(dossier, state)
            dossier.submitted_at = now
            history = await apply_transition(s, dossier, target, actor_id=owner_id, role=Role.OWNER, at=now)
            told = await self.on_transition(s, dossier, history) if self.on_transition else False
            result = SubmitResult(
                dossier.id,
                dossier.reference,
                now,
                dossier.product_name,
                resubmitted=target == DossierStatus.RESUBMITTED,
                officers_told=told,
            )
        return result

    async def rerate(self, owner_id: int, rated_id: int) -> DossierPrompt:
        """A re-rating or upgrade of a rated product: a new draft linked to the old dossier
        (`previous_id`) with its answers and files copied; the kind of registration becomes «phân
        hạng lại» with the certificate's number and stars, and the producer starts at the review.

        Raises DossierNotFound (not the owner's) or DossierLocked (the product is not rated)."""
        now = self.clock.now()
        async with self.db.session() as s:
            old = await self._read(s, owner_id, rated_id)
            if not is_certified(old.status):
                raise DossierLocked(old.status)
            started = await s.scalar(
                select(Dossier).where(
                    Dossier.previous_id == old.id,
                    Dossier.owner_id == owner_id,
                    Dossier.status == DossierStatus.DRAFT,
                )
            )
            if started is not None:  # a second tap continues the re-rating already started
                return prompt_of(self.engine, started, self._state(started))
            answers = copy.deepcopy(old.answers or {})
            dossier = Dossier(owner_id=owner_id, created_at=now, updated_at=now, previous_id=old.id)
            await apply_transition(
                s, dossier, DossierStatus.DRAFT, actor_id=owner_id, role=Role.OWNER, at=now
            )
            mapping: dict[int, int] = {}
            for row in (await s.scalars(select(Attachment).where(Attachment.dossier_id == old.id))).all():
                copied = Attachment(
                    dossier_id=dossier.id,
                    step_id=row.step_id,
                    kind=row.kind,
                    file_id=row.file_id,
                    file_unique_id=row.file_unique_id,
                    file_name=row.file_name,
                    mime=row.mime,
                    size=row.size,
                    created_at=now,
                )
                s.add(copied)
                await s.flush()
                mapping[row.id] = copied.id
            answers = _remap_attachments(answers, mapping)
            answers.update(_rerating_answers(old))
            state = DossierState.from_parts(answers, None, True, {})
            self.engine.repair(state)
            self.engine.to_review(state)
            self._save(dossier, state)
        return prompt_of(self.engine, dossier, state)

    # ------------------------------------------------------------------------------- documents

    async def render_pdf(self, owner_id: int, dossier_id: int) -> bytes:
        """The filled registration form as PDF bytes."""
        async with self.db.session() as s:
            dossier = await self._read(s, owner_id, dossier_id)
            files = await self.attachments_in(s, dossier)
        return await self.render_pdf_of(dossier, files)

    async def render_pdf_of(self, dossier: Dossier, files: list[AttachmentInfo]) -> bytes:
        """The printout of a dossier already read (the staff desk's variant: the caller checked the
        officer's role and scope). The HTML is made here; its layout (about 0.1 s of CPU) runs in a
        layout process (settings.pdf_processes), or a thread, so the bot keeps answering others."""
        from dossier.pdf import dossier_html, layout_pdf

        now = self.clock.now()
        html = dossier_html(
            self.engine,
            self._state(dossier),
            reference=dossier.reference,
            status=dossier.status,
            files=[(f.step_label, f.file_name, f.kind) for f in files],
            now=now,
            timezone=self.settings.timezone,
        )
        return await layout_pdf(html, self.form.title, now, processes=self.settings.pdf_processes)

    def pdf_file_name(self, summary: DossierSummary | Dossier) -> str:
        """A safe ASCII file name for the PDF, e.g. phieu-dang-ky-OCOP-2026-0042.pdf."""
        tail = summary.reference or f"nhap-{summary.id}"
        return "phieu-dang-ky-" + re.sub(r"[^A-Za-z0-9-]", "", tail) + ".pdf"


def _remap_attachments(value: Any, mapping: dict[int, int]) -> Any:
    """The answers with every file reference pointing at the copied attachment rows (references to
    files not copied are dropped, so the step is asked again)."""
    if isinstance(value, dict):
        if "attachment_id" in value:
            new = mapping.get(value.get("attachment_id"))  # type: ignore[arg-type]
            return {**value, "attachment_id": new} if new is not None else None
        return {k: _remap_attachments(v, mapping) for k, v in value.items()}
    if isinstance(value, list):
        items = [_remap_attachments(v, mapping) for v in value]
        return [v for v in items if v is not None]
    return value


def _rerating_answers(old: Dossier) -> dict[str, Any]:
    """What a re-rating knows from the rated dossier: the kind of registration, the certificate's
    number, stars and date (answers the form does not have are dropped by the engine's repair)."""
    out: dict[str, Any] = {"kind": "reevaluation"}
    if old.certificate_no:
        out["cert_number"] = old.certificate_no
    if old.stars:
        out["cert_stars"] = str(old.stars)
    if old.recognized_on:
        out["cert_date"] = old.recognized_on.isoformat()
    return {k: v for k, v in out.items() if has_answer(v)}
