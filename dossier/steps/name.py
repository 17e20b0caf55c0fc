"""A person's name typed all in small letters ("nguyen van an") is offered back with capitals
("Nguyen Van An") for the producer to confirm or keep as typed; the stored value is what is printed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from dossier.steps.base import (
    Current,
    Pending,
    PromptChoice,
    Question,
    Refuse,
    Result,
    Stay,
    StepContext,
    Store,
)
from dossier.steps.typed import TextKind
from dossier.validators import Invalid

USE_TITLE = "tc"
AS_TYPED = "asis"


def title_case(text: str) -> str:
    """Each word with a capital first letter, the rest as typed ("nguyễn văn an" → "Nguyễn Văn An")."""
    return " ".join(word[:1].upper() + word[1:] for word in text.split(" "))


@dataclass(frozen=True)
class TitleCaseOffer(Pending):
    """A name typed without capitals, waiting for «use the capitalised form» or «keep as typed»."""

    typed: str = ""

    tag = "title_case"

    def _fields(self) -> dict[str, Any]:
        return {"typed": self.typed}

    @classmethod
    def _read(cls, step: str, data: dict[str, Any]) -> Pending:
        return cls(step, str(data["typed"]))


class NameKind(TextKind):
    """A person's name: text, offered back with capitals when typed all in small letters."""

    type = "name"

    def read_text(self, ctx: StepContext, cur: Current, text: str, today: date) -> Result:
        result = self.validate(ctx, cur.step, text, today)
        if isinstance(result, Invalid):
            return Refuse(result.message)
        value = str(result.value)
        if value == value.lower() and title_case(value) != value:
            return Stay(TitleCaseOffer(cur.step.id, value))
        return Store(value)

    def press(self, ctx: StepContext, cur: Current, value: str) -> Result:
        if isinstance(cur.pending, TitleCaseOffer):
            if value == USE_TITLE:
                return Store(title_case(cur.pending.typed))
            if value == AS_TYPED:
                return Store(cur.pending.typed)
        return ctx.stale()

    def question(self, ctx: StepContext, cur: Current, keep: tuple[PromptChoice, ...]) -> Question:
        if not isinstance(cur.pending, TitleCaseOffer):
            return super().question(ctx, cur, keep)
        suggested = title_case(cur.pending.typed)
        return Question(
            (
                PromptChoice(ctx.label("use_title", name=suggested[:28]), USE_TITLE),
                PromptChoice(ctx.label("as_typed"), AS_TYPED),
            ),
            "text",
            "title_case",
            detail={"typed": cur.pending.typed, "suggested": suggested},
        )
