"""Steps answered with files: one photo, one document (a photo of the paper is fine), several photos.

Stored values: photo/document → {attachment_id, kind, name}; photos → [{attachment_id, kind, name}, …].
The service stores the attachment row first and hands the engine a FileRef.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar

from dossier.schema import Step, fill
from dossier.steps.base import (
    CLEAR,
    DONE,
    KEEP,
    PROCEED,
    SKIP,
    Collect,
    Current,
    Expects,
    FileRef,
    PromptChoice,
    Question,
    Refuse,
    Result,
    StepContext,
    StepKind,
    Store,
)
from knowledge.normalize import fold_text

FILE_MESSAGES = ("file_type", "file_too_large", "file_empty", "file_not_pdf", "image_unreadable")


class FileKind(StepKind):
    """One file; a new one replaces the old. Typing «Giữ nguyên» keeps the stored one."""

    is_file = True
    expected: ClassVar[str] = "photo_expected"  # the message for typed text
    expects: ClassVar[Expects] = "photo"  # what answers the prompt

    def read_text(self, ctx: StepContext, cur: Current, text: str, today: date) -> Result:
        if cur.pending is None and cur.answered and fold_text(text) == fold_text(ctx.label(KEEP)):
            return PROCEED
        return ctx.refuse(self.expected, cur.step)

    def accepts_file(self, ctx: StepContext, cur: Current, file_kind: str) -> Refuse | None:
        return None

    def attach(self, ctx: StepContext, cur: Current, file: FileRef) -> Result:
        return self.accepts_file(ctx, cur, file.kind) or Store(file.as_json())

    def question(self, ctx: StepContext, cur: Current, keep: tuple[PromptChoice, ...]) -> Question:
        return Question(keep, self.expects, files=1 if keep else 0)

    def display(self, ctx: StepContext, step: Step, value: Any) -> str:
        return str(value.get("name") or fill(ctx.form.display["files"], n=1))

    def attachment_ids(self, value: Any) -> set[int]:
        items = value if isinstance(value, list) else [value] if isinstance(value, dict) else []
        return {int(v["attachment_id"]) for v in items if isinstance(v, dict) and "attachment_id" in v}


class PhotoKind(FileKind):
    type = "photo"
    messages = ("photo_expected", *FILE_MESSAGES)

    def accepts_file(self, ctx: StepContext, cur: Current, file_kind: str) -> Refuse | None:
        return None if file_kind == "photo" else ctx.refuse("photo_expected", cur.step)


class DocumentKind(FileKind):
    type = "document"
    messages = ("document_expected", *FILE_MESSAGES)
    expected = "document_expected"
    expects = "document"


class PhotosKind(PhotoKind):
    """Several photos, added one by one until «Xong» (at most the step's max_files)."""

    type = "photos"
    rules = frozenset({"max_files"})
    messages = ("photo_expected", "photos_empty", *FILE_MESSAGES, "too_many_files")

    def accepts_file(self, ctx: StepContext, cur: Current, file_kind: str) -> Refuse | None:
        refused = super().accepts_file(ctx, cur, file_kind)
        rule = cur.step.rule("max_files")
        if refused is None and rule is not None and len(cur.answer or []) >= rule.value:
            return Refuse(fill(rule.message, max=rule.value))
        return refused

    def attach(self, ctx: StepContext, cur: Current, file: FileRef) -> Result:
        return self.accepts_file(ctx, cur, file.kind) or Collect([*(cur.answer or []), file.as_json()])

    def press(self, ctx: StepContext, cur: Current, value: str) -> Result:
        if value == DONE:
            return self.done(ctx, cur)
        if value == CLEAR:
            return Collect(None)
        return ctx.stale()

    def done(self, ctx: StepContext, cur: Current) -> Result:
        if cur.answer:
            return PROCEED
        return ctx.refuse("photos_empty", cur.step) if cur.step.required else SKIP

    def question(self, ctx: StepContext, cur: Current, keep: tuple[PromptChoice, ...]) -> Question:
        files = len(cur.answer or [])
        buttons = [PromptChoice(ctx.label(DONE), DONE)]
        if files:
            buttons.append(PromptChoice(ctx.label(CLEAR), CLEAR))
        return Question(tuple(buttons), "photo", files=files)

    def display(self, ctx: StepContext, step: Step, value: Any) -> str:
        return fill(ctx.form.display["photos"], n=len(value))
